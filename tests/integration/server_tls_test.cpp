// wss: the server over TLS with a certificate made at test time. Echo of every size (and
// pipelined traffic through the backlog, where OpenSSL's partial writes must resume exactly),
// ALPN, the TLS handshake timeout, peers that do not speak TLS, the close handshake, broadcast,
// the application's own SSL_CTX, and configuration errors.
#include <gtest/gtest.h>

#include <stdexcept>

#include "server_test_support.hpp"
#include "tls_test_support.hpp"

namespace fastws::testing {
namespace {

class TlsServer : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.server().on_message(
        [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
    server_.server().on_close(
        [this](const Conn&, const CloseStatus& status) { closes_.add(status); });
    server_.start();
  }

  static ServerOptions options() {
    ServerOptions options = tls_server_options();
    options.max_message_size = 16u << 20;
    options.max_buffered_bytes = 64u << 20;
    options.handshake_timeout = 300ms;
    return options;
  }

  // A TLS peer that has completed the WebSocket handshake.
  std::unique_ptr<RawPeer> connect(SSL_CTX* context) {
    auto peer = std::make_unique<RawPeer>(server_.port());
    EXPECT_TRUE(peer->connected());
    EXPECT_TRUE(peer->start_tls(context));
    const std::string head = peer->handshake();
    EXPECT_EQ(status_of(head), 101) << head;
    return peer;
  }

  ClientTlsContext client_ = client_tls_context();
  Recorded<CloseStatus> closes_;
  TestServer server_{options()};
};

std::vector<std::byte> pattern(std::size_t size) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>(i * 13 + size);
  return bytes;
}

TEST_F(TlsServer, EchoesEveryLengthClass) {
  auto peer = connect(client_.get());
  // Around the TLS record size (16 KiB) as well as the WebSocket length classes.
  for (std::size_t size : {0u, 1u, 125u, 126u, 127u, 16383u, 16384u, 16385u, 65535u, 65536u, 65537u,
                           1u << 20, 16u << 20}) {
    const std::vector<std::byte> payload = pattern(size);
    ASSERT_TRUE(peer->send_frame(Frame::binary(payload))) << size;
    auto echo = peer->read_frame();
    ASSERT_TRUE(echo) << "no echo for size " << size;
    EXPECT_EQ(echo->opcode, Opcode::binary);
    EXPECT_EQ(echo->payload, payload) << "size " << size;
  }
  peer->send_text("κόσμε");
  auto text = peer->read_frame();
  ASSERT_TRUE(text);
  EXPECT_EQ(text->opcode, Opcode::text);
  EXPECT_EQ(text->payload_text(), "κόσμε");
}

TEST_F(TlsServer, PipelinedEchoesThroughAFullSocketArriveIntactAndInOrder) {
  // The peer writes everything before reading: the server's echoes fill the socket, OpenSSL
  // stops mid-record, and the rest resumes from the backlog.
  auto peer = connect(client_.get());
  shrink_receive_buffer(peer->fd());
  constexpr int count = 200;  // ~2 MB of echoes: far more than the socket buffers hold
  auto message = [](int i) {
    std::vector<std::byte> payload = pattern(1000 + static_cast<std::size_t>(i) * 97);
    payload[0] = static_cast<std::byte>(i);
    return payload;
  };
  // One thread: an SSL object must not be read and written concurrently.
  for (int i = 0; i < count; ++i) ASSERT_TRUE(peer->send_frame(Frame::binary(message(i))));
  for (int i = 0; i < count; ++i) {
    auto echo = peer->read_frame();
    ASSERT_TRUE(echo) << "message " << i;
    ASSERT_EQ(echo->payload, message(i)) << "message " << i;
  }
}

TEST_F(TlsServer, AnswersAlpnWithHttp11) {
  ClientTlsContext offers_h2_first = client_tls_context("\x02h2\x08http/1.1");
  auto peer = connect(offers_h2_first.get());
  EXPECT_EQ(peer->alpn(), "http/1.1");

  // A client offering only h2 gets no ALPN answer, not a failed handshake.
  ClientTlsContext offers_h2_only = client_tls_context("\x02h2");
  auto other = connect(offers_h2_only.get());
  EXPECT_EQ(other->alpn(), "");
}

TEST_F(TlsServer, ClosesAPeerThatNeverStartsTheTlsHandshake) {
  RawPeer silent(server_.port());
  ASSERT_TRUE(silent.connected());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(silent.wait_closed());
  EXPECT_GE(since(start), 250ms);
  EXPECT_LT(since(start), 3s);
  // Half a ClientHello is no better.
  RawPeer stalled(server_.port());
  stalled.send_raw(std::string_view("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
  EXPECT_TRUE(stalled.wait_closed());
  // It never became a WebSocket: nothing to report to on_close.
  EXPECT_EQ(closes_.size(), 0u);
}

TEST_F(TlsServer, ClosesAPeerSpeakingPlainHttpAndGoesOnServing) {
  RawPeer plain(server_.port());
  plain.send_raw(RawPeer::upgrade_request());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(plain.wait_closed());
  EXPECT_LT(since(start), 250ms) << "refused at once, not by the handshake timeout";

  auto peer = connect(client_.get());
  peer->send_text("still here");
  auto echo = peer->read_frame();
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->payload_text(), "still here");
}

TEST_F(TlsServer, CloseHandshakeEndsWithTheServerClosing) {
  auto peer = connect(client_.get());
  peer->send_frame(Frame::close(4000, "done"));
  EXPECT_EQ(peer->read_close_code(), 4000);
  EXPECT_TRUE(peer->wait_closed());
  ASSERT_TRUE(closes_.wait_for(1));
  const CloseStatus status = closes_.all().front();
  EXPECT_EQ(status.code, 4000);
  EXPECT_TRUE(status.error.empty()) << status.error;
}

TEST_F(TlsServer, BroadcastReachesEveryTlsConnection) {
  std::vector<std::unique_ptr<RawPeer>> peers;
  for (int i = 0; i < 5; ++i) peers.push_back(connect(client_.get()));
  // The broadcast must come after the server opened them all: a round trip each proves it.
  for (auto& peer : peers) {
    peer->send_text("hello");
    ASSERT_TRUE(peer->read_frame());
  }
  const std::vector<std::byte> big = pattern(100'000);
  server_.server().broadcast("to all");
  server_.server().broadcast(big);
  for (auto& peer : peers) {
    auto first = peer->read_frame();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->payload_text(), "to all");
    auto second = peer->read_frame();
    ASSERT_TRUE(second);
    EXPECT_EQ(second->payload, big);
  }
}

TEST(TlsServerOptions, UsesTheApplicationsOwnContext) {
  SslContext own = server_tls_context();
  ServerOptions options = TestServer::default_options();
  options.tls.context = own.get();
  TestServer server(options);
  own.reset();  // the server holds its own reference
  server.server().on_message(
      [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
  server.start();

  ClientTlsContext client = client_tls_context();
  RawPeer peer(server.port());
  ASSERT_TRUE(peer.start_tls(client.get()));
  EXPECT_EQ(status_of(peer.handshake()), 101);
  peer.send_text("own context");
  auto echo = peer.read_frame();
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->payload_text(), "own context");
}

TEST(TlsServerOptions, BadFilesMakeTheConstructorThrowWithTheReason) {
  ServerOptions options = TestServer::default_options();
  options.tls.certificate_file = "/nonexistent/certificate.pem";
  options.tls.key_file = TestCertificate::get().key_file;
  try {
    Server server(options);
    FAIL() << "no exception for a missing certificate file";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("/nonexistent/certificate.pem"), std::string::npos)
        << error.what();
  }

  // A key that is not the certificate's.
  options.tls.certificate_file = TestCertificate::get().certificate_file;
  options.tls.key_file = TestCertificate::get().certificate_file;
  EXPECT_THROW(Server{options}, std::invalid_argument);
}

}  // namespace
}  // namespace fastws::testing
