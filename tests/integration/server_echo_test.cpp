// The server end to end over 127.0.0.1 with a raw-socket peer: echo of every length class,
// fragmentation, control frames, close codes both ways, and protocol errors.
#include <gtest/gtest.h>

#include <atomic>

#include "test_peer.hpp"

namespace fastws::testing {
namespace {

class EchoServer : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.server().on_message(
        [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
    server_.server().on_close([this](const Conn&, const CloseStatus& status) {
      std::lock_guard lock(mutex_);
      closes_.push_back(status);
    });
    server_.start();
  }

  std::unique_ptr<RawPeer> connect() {
    auto peer = std::make_unique<RawPeer>(server_.port());
    EXPECT_TRUE(peer->connected());
    std::string head = peer->handshake();
    EXPECT_NE(head.find("HTTP/1.1 101 Switching Protocols\r\n"), std::string::npos) << head;
    EXPECT_NE(head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
              std::string::npos)
        << head;
    return peer;
  }

  std::vector<CloseStatus> closes() {
    std::lock_guard lock(mutex_);
    return closes_;
  }

  static ServerOptions options() {
    ServerOptions options = TestServer::default_options();
    options.max_message_size = 16u << 20;
    options.max_buffered_bytes = 64u << 20;
    return options;
  }

  // Declared before the server, so the server (and its callbacks) is gone before they are.
  std::mutex mutex_;
  std::vector<CloseStatus> closes_;
  TestServer server_{options()};
};

TEST_F(EchoServer, EchoesEveryLengthClass) {
  auto peer = connect();
  for (std::size_t size : {0u, 1u, 125u, 126u, 65535u, 65536u, 16u << 20}) {
    std::vector<std::byte> payload(size);
    for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<std::byte>(i * 7 + size);
    ASSERT_TRUE(peer->send_frame(Frame::binary(payload))) << size;
    auto echo = peer->read_frame();
    ASSERT_TRUE(echo) << "no echo for size " << size;
    EXPECT_EQ(echo->opcode, Opcode::binary);
    EXPECT_TRUE(echo->fin);
    EXPECT_EQ(echo->payload, payload) << "size " << size;
  }
}

TEST_F(EchoServer, EchoesTextAndKeepsOpcode) {
  auto peer = connect();
  peer->send_text("κόσμε");
  auto echo = peer->read_frame();
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->opcode, Opcode::text);
  EXPECT_EQ(echo->payload_text(), "κόσμε");
}

TEST_F(EchoServer, FragmentedMessageWithPingsBetweenFragments) {
  auto peer = connect();
  peer->send_frame(Frame::text("Hel", false));
  peer->send_frame(Frame::ping(to_bytes("p1")));
  peer->send_frame(Frame::continuation(to_bytes("lo, "), false));
  peer->send_frame(Frame::ping(to_bytes("p2")));
  peer->send_frame(Frame::continuation(to_bytes("world"), true));
  auto pong1 = peer->read_frame();
  ASSERT_TRUE(pong1);
  EXPECT_EQ(pong1->opcode, Opcode::pong);
  EXPECT_EQ(pong1->payload_text(), "p1");
  auto pong2 = peer->read_frame();
  ASSERT_TRUE(pong2);
  EXPECT_EQ(pong2->payload_text(), "p2");
  auto echo = peer->read_frame();
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->payload_text(), "Hello, world");
}

TEST_F(EchoServer, ClientInitiatedCloseIsEchoedAndReported) {
  auto peer = connect();
  peer->send_frame(Frame::close(4000, "done"));
  EXPECT_EQ(peer->read_close_code(), 4000);
  EXPECT_TRUE(peer->wait_closed());
  peer.reset();  // our FIN ends the server's lingering close at once
  server_.stop();
  auto all = closes();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].code, 4000);
  EXPECT_EQ(all[0].reason, "done");
  EXPECT_TRUE(all[0].error.empty());
}

TEST_F(EchoServer, ServerInitiatedClose) {
  Conn opened;
  std::mutex m;
  std::condition_variable cv;
  TestServer server;
  server.server().on_open([&](const Conn& conn) {
    std::lock_guard lock(m);
    opened = conn;
    cv.notify_all();
  });
  server.start();
  RawPeer peer(server.port());
  peer.handshake();
  {
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return static_cast<bool>(opened); }));
  }
  // From a thread that is not the loop: queued to the loop.
  EXPECT_EQ(opened.close(close_code::going_away, "bye"), SendStatus::queued);
  auto frame = peer.read_frame();
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->opcode, Opcode::close);
  EXPECT_EQ(frame->close_code(), 1001);
  EXPECT_EQ(frame->close_reason(), "bye");
  peer.send_frame(Frame::close(1001));
  EXPECT_TRUE(peer.wait_closed());
  // The handle stays harmless after the close.
  for (int i = 0; i < 100 && opened.is_open(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(opened.is_open());
  EXPECT_EQ(opened.send("late"), SendStatus::closed);
  EXPECT_EQ(opened.close(), SendStatus::closed);
}

// The handle on_message gets borrows the loop's reference to the connection; a copy takes one of
// its own, so that it outlives the callback and the connection, also when the callback ended the
// connection itself. (A reference released that was never taken shows as a use after free under
// -DFASTWS_SANITIZE=address.)
TEST(ConnHandles, CopyMadeInOnMessageOutlivesTheConnectionTheCallbackEnded) {
  std::mutex m;
  Conn kept;
  std::uint64_t id_in_callback = 0;
  SendStatus send_after_terminate = SendStatus::written;
  std::atomic<bool> closed{false};
  TestServer server;
  server.server().on_message([&](const Conn& conn, Message) {
    std::lock_guard lock(m);
    kept = conn;
    conn.terminate();
    // The connection is gone for the peer, but this callback's handle still works.
    send_after_terminate = conn.send("too late");
    id_in_callback = conn.id();
  });
  server.server().on_close([&](const Conn&, const CloseStatus&) { closed = true; });
  server.start();
  RawPeer peer(server.port());
  peer.handshake();
  ASSERT_TRUE(peer.send_frame(Frame::text("end it")));
  EXPECT_TRUE(peer.wait_closed());
  for (int i = 0; i < 500 && !closed; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(closed);
  // The loop has run the task that held its last reference: only `kept` holds one now.
  server.stop();
  std::lock_guard lock(m);
  EXPECT_EQ(send_after_terminate, SendStatus::closed);
  ASSERT_TRUE(kept);
  EXPECT_NE(id_in_callback, 0u);
  EXPECT_EQ(kept.id(), id_in_callback);
  EXPECT_FALSE(kept.is_open());
  EXPECT_EQ(kept.send("later"), SendStatus::closed);
}

struct ProtocolErrorCase {
  const char* name;
  std::vector<std::byte> bytes;
  std::uint16_t expected_code;
};

TEST_F(EchoServer, ProtocolErrorsCloseWithTheRightCode) {
  std::vector<ProtocolErrorCase> cases;
  {
    Frame unmasked = Frame::text("hi");
    cases.push_back({"unmasked frame", unmasked.serialize(), 1002});
  }
  {
    Frame frame = Frame::text("hi");
    frame.rsv2 = true;
    frame.mask = MaskKey{};
    cases.push_back({"rsv2", frame.serialize(), 1002});
  }
  {
    Frame frame = Frame::text("\xc0\x80");
    frame.mask = MaskKey{};
    cases.push_back({"invalid utf-8", frame.serialize(), 1007});
  }
  {
    Frame frame;
    frame.opcode = Opcode::binary;
    frame.mask = MaskKey{};
    frame.payload.resize((16u << 20) + 1);
    auto bytes = frame.serialize();
    bytes.resize(64);  // the declared length alone is enough
    cases.push_back({"oversize", bytes, 1009});
  }
  for (const auto& c : cases) {
    auto peer = connect();
    peer->send_raw(c.bytes);
    EXPECT_EQ(peer->read_close_code(), c.expected_code) << c.name;
    EXPECT_TRUE(peer->wait_closed()) << c.name;
  }
  server_.stop();
  auto all = closes();
  ASSERT_EQ(all.size(), cases.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].code, cases[i].expected_code) << cases[i].name;
    EXPECT_FALSE(all[i].error.empty()) << cases[i].name;
  }
}

TEST_F(EchoServer, PeerVanishingMidFrameIsReportedAsAbnormal) {
  {
    auto peer = connect();
    Frame frame = Frame::binary(std::vector<std::byte>(1000));
    frame.mask = MaskKey{};
    auto bytes = frame.serialize();
    bytes.resize(500);
    peer->send_raw(bytes);
  }  // closes the socket mid-frame
  for (int i = 0; i < 200 && closes().empty(); ++i) std::this_thread::sleep_for(10ms);
  auto all = closes();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].code, close_code::abnormal);
}

}  // namespace
}  // namespace fastws::testing
