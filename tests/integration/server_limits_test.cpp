// Limits and hostile peers over real sockets: max_connections, the message limit across
// fragments (ANCHORS 3), fragment floods (ANCHORS 4), slow consumers on the loop thread's own
// sends (ANCHORS 13), a pipelining peer held back by its unread echoes, and the timing of the
// handshake, idle, ping/pong and close timeouts.
//
// Complements server_timeouts_test.cpp, which covers sends from another thread to a peer that
// never reads (both policies), ping floods, an answering ping peer and the idle close code.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <atomic>
#include <thread>

#include "server_test_support.hpp"

namespace fastws::testing {
namespace {

void echo(Server& server) {
  server.on_message(
      [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
}

std::vector<std::byte> pattern(std::size_t size, std::size_t seed) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>((i * 13 + seed) & 0xFF);
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// max_connections

TEST(Limits, ConnectionsOverMaxConnectionsAreClosedAtOnce) {
  ServerOptions options = TestServer::default_options();
  options.max_connections = 5;
  TestServer server(options);
  echo(server.server());
  server.start();
  std::vector<std::unique_ptr<RawPeer>> admitted;
  for (int i = 0; i < 5; ++i) {
    admitted.push_back(std::make_unique<RawPeer>(server.port()));
    ASSERT_EQ(status_of(admitted.back()->handshake()), 101) << i;
  }
  RawPeer sixth(server.port());
  ASSERT_TRUE(sixth.connected());  // the kernel accepts; the server closes before reading
  const auto start = std::chrono::steady_clock::now();
  ReadToEnd answer = read_to_end(sixth.fd(), 1s);
  EXPECT_TRUE(answer.closed);
  EXPECT_EQ(answer.bytes, "");
  EXPECT_LT(since(start), 500ms);
  EXPECT_EQ(server.server().stats().connections, 5u);

  // A slot frees when a connection ends.
  admitted.front()->send_frame(Frame::close(close_code::normal));
  EXPECT_EQ(admitted.front()->read_close_code(), close_code::normal);
  EXPECT_TRUE(admitted.front()->wait_closed());
  EXPECT_TRUE(wait_until([&] { return server.server().stats().connections == 4; }));
  RawPeer later(server.port());
  EXPECT_EQ(status_of(later.handshake()), 101);
}

// ---------------------------------------------------------------------------------------------
// The message limit holds for the sum of the fragments, with control frames in between
// (gorilla CVE-2020-27813), and is exact.

class MessageLimit : public ::testing::Test {
 protected:
  static constexpr std::size_t limit = 1000;

  MessageLimit() {
    echo(server_.server());
    server_.server().on_error(
        [this](const Conn&, const CloseStatus& status) { errors_.add(status.code); });
    server_.start();
  }
  static ServerOptions options() {
    ServerOptions options = TestServer::default_options();
    options.max_message_size = limit;
    return options;
  }
  // Sends limit - 1 bytes, a pong, then `tail` bytes as the last fragment.
  void send_split_message(RawPeer& peer, std::size_t tail) {
    peer.send_frame(Frame::binary(pattern(limit - 1, 1), false));
    peer.send_frame(Frame::pong(to_bytes("between")));
    peer.send_frame(Frame::continuation(pattern(tail, 2), true));
  }

  Recorded<std::uint16_t> errors_;
  TestServer server_{options()};
};

TEST_F(MessageLimit, OneByteOverAcrossFragmentsIs1009) {
  RawPeer peer(server_.port());
  ASSERT_EQ(status_of(peer.handshake()), 101);
  send_split_message(peer, 2);
  auto frame = peer.read_frame();
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->opcode, Opcode::close) << "a message was delivered";
  EXPECT_EQ(frame->close_code(), close_code::message_too_big);
  EXPECT_TRUE(peer.wait_closed());
  ASSERT_TRUE(errors_.wait_for(1));
  EXPECT_EQ(errors_.all().front(), close_code::message_too_big);
}

TEST_F(MessageLimit, ExactlyTheLimitAcrossFragmentsPasses) {
  RawPeer peer(server_.port());
  ASSERT_EQ(status_of(peer.handshake()), 101);
  send_split_message(peer, 1);
  auto echo = peer.read_frame();
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->opcode, Opcode::binary);
  ASSERT_EQ(echo->payload.size(), limit);
  std::vector<std::byte> expected = pattern(limit - 1, 1);
  expected.push_back(pattern(1, 2).front());
  EXPECT_EQ(echo->payload, expected);
  EXPECT_EQ(errors_.size(), 0u);
}

// ---------------------------------------------------------------------------------------------
// Fragment floods (ANCHORS 4): refused by a budget that scales with the message limit, while a
// large message in small fragments within the limit passes.

std::vector<std::byte> repeated(const Frame& frame, std::size_t times) {
  Frame masked = frame;
  masked.mask = MaskKey{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  const std::vector<std::byte> one = masked.serialize();
  std::vector<std::byte> all;
  all.reserve(one.size() * times);
  for (std::size_t i = 0; i < times; ++i) all.insert(all.end(), one.begin(), one.end());
  return all;
}

TEST(FragmentFlood, EmptyContinuationsAreCutOff) {
  Recorded<std::size_t> messages;
  TestServer server;  // default limit 16 MiB: at most 262,144 frames per message
  server.server().on_message([&](const Conn&, Message message) { messages.add(message.size()); });
  server.start();
  RawPeer peer(server.port());
  ASSERT_EQ(status_of(peer.handshake()), 101);
  const auto start = std::chrono::steady_clock::now();
  peer.send_frame(Frame::text("", false));
  // 300,000 empty continuations (1.8 MB), and never a final one. The server may stop reading
  // before all of it is sent; that is fine.
  const std::vector<std::byte> batch = repeated(Frame::continuation({}, false), 30'000);
  for (int i = 0; i < 10 && peer.send_raw(batch); ++i) {
  }
  EXPECT_EQ(peer.read_close_code(), close_code::message_too_big);
  EXPECT_TRUE(peer.wait_closed());
  EXPECT_LT(since(start), 3s);
  EXPECT_EQ(messages.size(), 0u);
}

TEST(FragmentFlood, FourMibInSixtyFourByteFragmentsPasses) {
  TestServer server;  // default limit 16 MiB
  echo(server.server());
  server.start();
  RawPeer peer(server.port());
  ASSERT_EQ(status_of(peer.handshake()), 101);
  const std::vector<std::byte> message = pattern(4u << 20, 7);
  std::vector<std::byte> wire;
  const MaskKey key{std::byte{9}, std::byte{8}, std::byte{7}, std::byte{6}};
  for (std::size_t offset = 0; offset < message.size(); offset += 64) {
    const std::span<const std::byte> piece(message.data() + offset, 64);
    const bool last = offset + 64 == message.size();
    Frame frame = offset == 0 ? Frame::binary(piece, false) : Frame::continuation(piece, last);
    frame.mask = key;
    const auto bytes = frame.serialize();
    wire.insert(wire.end(), bytes.begin(), bytes.end());
  }
  ASSERT_TRUE(peer.send_raw(wire));
  auto echo = peer.read_frame();
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->opcode, Opcode::binary);
  EXPECT_TRUE(echo->payload == message) << "echo of " << echo->payload.size() << " bytes differs";
}

// ---------------------------------------------------------------------------------------------
// Slow consumers: the server answers one message with a flood to a peer that never reads. These
// sends happen on the loop thread (inside on_message), where the limit is checked directly. (A
// peer that floods echoes itself is held back by TCP instead: see PipeliningPeer below.)

struct EchoOutcome {
  SendStatus status;
  std::size_t buffered;
};

// `count` binary messages of `size` bytes, each starting with its index (two bytes big-endian);
// masked when they go from a peer.
std::vector<std::byte> indexed_messages(std::size_t count, std::size_t size, bool masked) {
  std::vector<std::byte> wire;
  for (std::size_t i = 0; i < count; ++i) {
    Frame frame = Frame::binary(std::vector<std::byte>(size, std::byte{'x'}));
    frame.payload[0] = static_cast<std::byte>(i >> 8);
    frame.payload[1] = static_cast<std::byte>(i & 0xFF);
    if (masked) frame.mask = MaskKey{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
    const auto bytes = frame.serialize();
    wire.insert(wire.end(), bytes.begin(), bytes.end());
  }
  return wire;
}

std::size_t index_of(const Frame& frame) {
  return std::to_integer<std::size_t>(frame.payload[0]) * 256 +
         std::to_integer<std::size_t>(frame.payload[1]);
}

class SlowConsumer {
 public:
  static constexpr std::size_t limit = 256 * 1024;
  static constexpr std::size_t message_size = 16 * 1024;
  static constexpr std::size_t flood_size = 600;  // 9.6 MB: more than the kernel buffers hold

  explicit SlowConsumer(SlowConsumerPolicy policy) : server_(options(policy)) {
    server_.server().on_open([this](const Conn& conn) { opened_.add(conn); });
    server_.server().on_message([this](const Conn& conn, Message message) {
      if (message.is_text()) {
        texts_.add(std::string(message.text()));
        conn.send(message.text());
        return;
      }
      // A binary message asks for the flood, sent here in one go (each message starts with its
      // index, as indexed_messages() makes them).
      Frame flood = Frame::binary(std::vector<std::byte>(message_size, std::byte{'x'}));
      for (std::size_t i = 0; i < flood_size; ++i) {
        flood.payload[0] = static_cast<std::byte>(i >> 8);
        flood.payload[1] = static_cast<std::byte>(i & 0xFF);
        const SendStatus status = conn.send(flood.payload);
        outcomes_.add({status, conn.buffered_amount()});
      }
    });
    server_.server().on_drain([this](const Conn&) { drains_.add(true); });
    server_.server().on_close(
        [this](const Conn&, const CloseStatus& status) { closes_.add(status); });
    server_.start();
    peer_ = std::make_unique<RawPeer>(server_.port());
    shrink_receive_buffer(peer_->fd());
    EXPECT_EQ(status_of(peer_->handshake()), 101);
  }

  // Asks for the flood, followed by a text message, and reads nothing; waits until the server
  // made every send of the flood.
  void flood() {
    peer_->send_frame(Frame::binary(to_bytes("flood")));
    peer_->send_text("after");
    outcomes_.wait_for(flood_size, 5s);
  }

  std::size_t count(SendStatus status) const {
    std::size_t n = 0;
    for (const auto& outcome : outcomes_.all()) n += outcome.status == status ? 1 : 0;
    return n;
  }

  std::size_t most_buffered() const {
    std::size_t most = 0;
    for (const auto& outcome : outcomes_.all()) most = std::max(most, outcome.buffered);
    return most;
  }

  static ServerOptions options(SlowConsumerPolicy policy) {
    ServerOptions options = TestServer::default_options();
    options.max_buffered_bytes = limit;
    options.slow_consumer = policy;
    return options;
  }

  Recorded<Conn> opened_;
  Recorded<EchoOutcome> outcomes_;
  Recorded<std::string> texts_;
  Recorded<bool> drains_;
  Recorded<CloseStatus> closes_;
  TestServer server_;
  std::unique_ptr<RawPeer> peer_;
};

TEST(SlowConsumerEcho, DropPolicyDropsBoundedlyThenDrainsAndKeepsServing) {
  SlowConsumer slow(SlowConsumerPolicy::drop);
  Conn conn = wait_for_open(slow.opened_);
  ASSERT_TRUE(conn);
  slow.flood();
  ASSERT_EQ(slow.outcomes_.size(), SlowConsumer::flood_size);
  EXPECT_GT(slow.count(SendStatus::backpressure), 0u);
  EXPECT_GT(slow.count(SendStatus::dropped), 0u);
  EXPECT_EQ(slow.count(SendStatus::closed), 0u);
  EXPECT_LE(slow.most_buffered(), SlowConsumer::limit);  // strict
  EXPECT_TRUE(conn.is_open());
  const ServerStats stalled = slow.server_.server().stats();
  EXPECT_EQ(stalled.dropped_sends, slow.count(SendStatus::dropped));
  EXPECT_EQ(stalled.backpressured_connections, 1u);
  EXPECT_EQ(slow.drains_.size(), 0u);

  // Now the peer reads: what was not dropped arrives whole and in order, then the text message
  // that waited behind the flood is answered, on_drain fires and the connection works as before.
  std::size_t received = 0;
  int previous = -1;
  while (auto frame = slow.peer_->read_frame()) {
    if (frame->opcode == Opcode::text) {
      EXPECT_EQ(frame->payload_text(), "after");
      break;
    }
    ASSERT_EQ(frame->payload.size(), SlowConsumer::message_size);
    const int index = static_cast<int>(index_of(*frame));
    EXPECT_GT(index, previous) << "out of order";
    previous = index;
    ++received;
  }
  EXPECT_EQ(received, SlowConsumer::flood_size - slow.count(SendStatus::dropped));
  EXPECT_TRUE(slow.drains_.wait_for(1));
  EXPECT_TRUE(
      wait_until([&] { return slow.server_.server().stats().backpressured_connections == 0; }));
  slow.peer_->send_text("again");
  auto again = slow.peer_->read_frame();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->payload_text(), "again");
}

TEST(SlowConsumerEcho, ClosePolicyClosesWith1008AndLaterSendsAreDropped) {
  SlowConsumer slow(SlowConsumerPolicy::close);
  Conn conn = wait_for_open(slow.opened_);
  ASSERT_TRUE(conn);
  slow.flood();
  ASSERT_TRUE(slow.closes_.wait_for(1));
  const CloseStatus status = slow.closes_.all().front();
  EXPECT_EQ(status.code, close_code::policy_violation);
  EXPECT_FALSE(status.error.empty());
  // The send that hit the limit closed the connection: it and every later one report dropped,
  // none before it.
  const std::vector<EchoOutcome> outcomes = slow.outcomes_.all();
  ASSERT_EQ(outcomes.size(), SlowConsumer::flood_size);
  std::size_t first_dropped = 0;
  while (first_dropped < outcomes.size() && outcomes[first_dropped].status != SendStatus::dropped) {
    ++first_dropped;
  }
  ASSERT_LT(first_dropped, outcomes.size());
  EXPECT_GT(first_dropped, 0u);
  EXPECT_EQ(slow.count(SendStatus::dropped), outcomes.size() - first_dropped);
  EXPECT_LE(slow.most_buffered(), SlowConsumer::limit);
  EXPECT_EQ(slow.texts_.size(), 0u);  // nothing is delivered after the close
  EXPECT_FALSE(conn.is_open());
  EXPECT_EQ(conn.send("late"), SendStatus::dropped);
  EXPECT_EQ(slow.server_.server().stats().connections, 0u);
  slow.peer_->set_timeout(3s);
  EXPECT_TRUE(slow.peer_->wait_closed());
}

// Waits until `recorded` stops growing: unchanged for 200 ms (up to 5 s in all).
template <typename T>
void wait_until_settled(const Recorded<T>& recorded) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  std::size_t seen = recorded.size();
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(200ms);
    if (recorded.size() == seen) return;
    seen = recorded.size();
  }
}

// A peer that pipelines messages without reading the echoes, then reads: the server stops
// reading its input while the echoes wait (a turn's answers stay under max_buffered_bytes), so
// TCP holds the peer back and no echo is dropped.
TEST(PipeliningPeer, ReadingLateGetsEveryEchoInOrderAndNoneDropped) {
  constexpr std::size_t limit = 256 * 1024;
  constexpr std::size_t size = 16 * 1024;
  constexpr std::size_t count = 1000;  // 16 MB: more than the limit and the kernel buffers
  ServerOptions options = TestServer::default_options();
  options.max_buffered_bytes = limit;
  TestServer server(options);
  Recorded<Conn> opened;
  Recorded<EchoOutcome> outcomes;
  server.server().on_open([&](const Conn& conn) { opened.add(conn); });
  server.server().on_message([&](const Conn& conn, Message message) {
    const SendStatus status = conn.send(message.data(), message.opcode());
    outcomes.add({status, conn.buffered_amount()});
  });
  server.start();
  RawPeer peer(server.port(), 5s, 64 * 1024);
  ASSERT_EQ(status_of(peer.handshake()), 101);
  Conn conn = wait_for_open(opened);
  ASSERT_TRUE(conn);

  const std::vector<std::byte> wire = indexed_messages(count, size, true);
  std::atomic<bool> written = false;
  std::thread writer([&] { written = peer.send_raw(wire); });
  // Unread echoes fill the kernel buffers and the backlog; then the server stops reading.
  EXPECT_TRUE(wait_until([&] { return server.server().stats().backpressured_connections == 1; }));
  wait_until_settled(outcomes);
  EXPECT_LT(outcomes.size(), count);

  std::size_t received = 0;
  bool in_order = true;
  while (received < count) {
    const std::optional<Frame> frame = peer.read_frame();
    if (!frame) break;
    in_order = in_order && frame->payload.size() == size && index_of(*frame) == received;
    ++received;
  }
  if (received < count) ::shutdown(peer.fd(), SHUT_RDWR);  // so that the writer stops
  writer.join();
  EXPECT_TRUE(written);
  EXPECT_EQ(received, count);
  EXPECT_TRUE(in_order);
  std::size_t dropped = 0;
  std::size_t most = 0;
  for (const EchoOutcome& outcome : outcomes.all()) {
    dropped += outcome.status == SendStatus::dropped ? 1 : 0;
    most = std::max(most, outcome.buffered);
  }
  EXPECT_EQ(dropped, 0u);
  EXPECT_EQ(server.server().stats().dropped_sends, 0u);
  EXPECT_LE(most, limit);
  EXPECT_TRUE(conn.is_open());
}

// ---------------------------------------------------------------------------------------------
// Timeouts, with their timing checked on both sides.

ServerOptions quick_timeouts() {
  ServerOptions options = TestServer::default_options();
  options.handshake_timeout = 300ms;
  options.close_timeout = 300ms;
  return options;
}

TEST(Timeouts, SilentAndTricklingHeadsAreClosedOnTimeWhileAClientIsServed) {
  TestServer server(quick_timeouts());
  echo(server.server());
  server.start();
  constexpr std::size_t count = 200;  // half silent, half sending a byte every 100 ms
  const std::string request = RawPeer::upgrade_request();
  std::vector<std::unique_ptr<RawPeer>> slow;
  std::vector<std::chrono::steady_clock::time_point> connected(count);
  std::vector<std::chrono::milliseconds> lifetime(count, std::chrono::milliseconds::max());
  for (std::size_t i = 0; i < count; ++i) {
    slow.push_back(std::make_unique<RawPeer>(server.port()));
    connected[i] = std::chrono::steady_clock::now();
    ASSERT_TRUE(slow.back()->connected());
  }
  std::atomic<bool> served{false};
  std::thread client([&] {
    RawPeer normal(server.port());
    if (status_of(normal.handshake()) != 101) return;
    normal.send_text("still serving");
    auto frame = normal.read_frame();
    served = frame && frame->payload_text() == "still serving";
  });

  const auto start = std::chrono::steady_clock::now();
  std::size_t open = count;
  std::size_t byte = 0;
  auto next_byte = start;
  while (open > 0 && since(start) < 3s) {
    if (std::chrono::steady_clock::now() >= next_byte) {
      for (std::size_t i = 0; i < count; i += 2) {
        if (lifetime[i] == std::chrono::milliseconds::max()) {
          slow[i]->send_raw(std::string_view(request).substr(byte, 1));
        }
      }
      ++byte;
      next_byte += 100ms;
    }
    std::vector<pollfd> fds;
    for (std::size_t i = 0; i < count; ++i) {
      if (lifetime[i] == std::chrono::milliseconds::max())
        fds.push_back({slow[i]->fd(), POLLIN, 0});
    }
    ::poll(fds.data(), fds.size(), 10);
    for (const pollfd& entry : fds) {
      if (entry.revents == 0) continue;
      char buffer[256];
      const ssize_t n = ::recv(entry.fd, buffer, sizeof buffer, MSG_DONTWAIT);
      // A slow peer gets no answer (bytes would leave it open: the checks below fail then).
      if (n > 0 || (n < 0 && errno == EAGAIN)) continue;
      for (std::size_t i = 0; i < count; ++i) {
        if (slow[i]->fd() == entry.fd) lifetime[i] = since(connected[i]);
      }
      --open;
    }
  }
  client.join();
  EXPECT_TRUE(served.load());
  EXPECT_EQ(open, 0u);
  for (std::size_t i = 0; i < count; ++i) {
    EXPECT_GE(lifetime[i], 250ms) << "connection " << i << " closed before the timeout";
    EXPECT_LT(lifetime[i], 1500ms) << "connection " << i;
  }
}

TEST(Timeouts, TrafficPushesTheIdleTimeoutThenSilenceCloses1001) {
  ServerOptions options = quick_timeouts();
  options.idle_timeout = 300ms;
  TestServer server(options);
  server.start();
  RawPeer peer(server.port());
  ASSERT_EQ(status_of(peer.handshake()), 101);
  // A ping every 100 ms for 900 ms: three idle timeouts long, and never idle for one.
  for (int i = 0; i < 9; ++i) {
    peer.send_frame(Frame::ping(to_bytes("alive")));
    auto pong = peer.read_frame();
    ASSERT_TRUE(pong);
    ASSERT_EQ(pong->opcode, Opcode::pong) << "closed at " << i * 100 << " ms despite traffic";
    std::this_thread::sleep_for(100ms);
  }
  const auto silent = std::chrono::steady_clock::now();
  EXPECT_EQ(peer.read_close_code(), close_code::going_away);
  EXPECT_GE(since(silent), 150ms);
  // The peer never answers the close: the close timeout drops it.
  const auto close_received = std::chrono::steady_clock::now();
  EXPECT_TRUE(peer.wait_closed());
  EXPECT_GE(since(close_received), 200ms);
  EXPECT_LT(since(silent), 1500ms);
}

TEST(Timeouts, UnansweredPingClosesAfterIntervalPlusPongTimeout) {
  ServerOptions options = quick_timeouts();
  options.ping_interval = 200ms;
  options.pong_timeout = 200ms;
  Recorded<CloseStatus> closes;
  TestServer server(options);
  server.server().on_close([&](const Conn&, const CloseStatus& status) { closes.add(status); });
  server.start();
  RawPeer peer(server.port());
  ASSERT_EQ(status_of(peer.handshake()), 101);
  const auto start = std::chrono::steady_clock::now();
  auto ping = peer.read_frame();
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->opcode, Opcode::ping);
  EXPECT_GE(since(start), 150ms);
  EXPECT_TRUE(peer.wait_closed());
  EXPECT_GE(since(start), 350ms);
  EXPECT_LT(since(start), 1500ms);
  ASSERT_TRUE(closes.wait_for(1));
  EXPECT_EQ(closes.all().front().code, close_code::abnormal);
  EXPECT_NE(closes.all().front().error.find("pong"), std::string::npos)
      << closes.all().front().error;
}

TEST(Timeouts, CloseHandshakeTheyNeverFinishIsCutAfterCloseTimeout) {
  Recorded<CloseStatus> closes;
  TestServer server(quick_timeouts());
  server.server().on_open([](const Conn& conn) { conn.close(close_code::normal, "bye"); });
  server.server().on_close([&](const Conn&, const CloseStatus& status) { closes.add(status); });
  server.start();
  RawPeer peer(server.port());
  ASSERT_EQ(status_of(peer.handshake()), 101);
  EXPECT_EQ(peer.read_close_code(), close_code::normal);
  const auto close_received = std::chrono::steady_clock::now();
  EXPECT_TRUE(peer.wait_closed());  // without answering
  EXPECT_GE(since(close_received), 200ms);
  EXPECT_LT(since(close_received), 1500ms);
  ASSERT_TRUE(closes.wait_for(1));
  EXPECT_EQ(closes.all().front().code, close_code::abnormal);
  EXPECT_FALSE(closes.all().front().error.empty());
}

}  // namespace
}  // namespace fastws::testing
