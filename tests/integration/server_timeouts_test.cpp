// Timeouts and slow peers: slowloris heads, idle connections, unanswered pings, peers that never
// read (both slow-consumer policies) and ping floods (ANCHORS 5 and 13).
#include <gtest/gtest.h>

#include <atomic>

#include "server_test_support.hpp"

namespace fastws::testing {
namespace {

ServerOptions fast_timeouts() {
  ServerOptions options = TestServer::default_options();
  options.handshake_timeout = 300ms;
  options.close_timeout = 300ms;
  return options;
}

void echo(Server& server) {
  server.on_message(
      [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
}

TEST(ServerTimeouts, SlowlorisHeadsAreClosedWhileANormalClientIsServed) {
  TestServer server(fast_timeouts());
  echo(server.server());
  server.start();
  const std::string request = RawPeer::upgrade_request();
  std::vector<std::unique_ptr<RawPeer>> slow;
  for (int i = 0; i < 100; ++i) {
    slow.push_back(std::make_unique<RawPeer>(server.port(), 3s));
    ASSERT_TRUE(slow.back()->connected());
  }
  const auto start = std::chrono::steady_clock::now();
  // One header byte each every 100 ms: never a whole head before the 300 ms deadline.
  for (std::size_t byte = 0; byte < 5; ++byte) {
    for (auto& peer : slow) peer->send_raw(std::string_view(request).substr(byte, 1));
    std::this_thread::sleep_for(100ms);
  }
  // Meanwhile a normal client connects and gets its echo.
  RawPeer normal(server.port());
  ASSERT_NE(normal.handshake().find(" 101 "), std::string::npos);
  normal.send_text("still serving");
  auto frame = normal.read_frame();
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->payload_text(), "still serving");
  for (auto& peer : slow) EXPECT_TRUE(peer->wait_closed());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST(ServerTimeouts, IdleConnectionGetsClose1001) {
  ServerOptions options = fast_timeouts();
  options.idle_timeout = 300ms;
  TestServer server(options);
  server.start();
  RawPeer peer(server.port());
  peer.handshake();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(peer.read_close_code(), close_code::going_away);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
}

TEST(ServerTimeouts, PingsKeepAnAnsweringPeerAndDropASilentOne) {
  ServerOptions options = fast_timeouts();
  options.ping_interval = 100ms;
  options.pong_timeout = 200ms;
  std::atomic<int> closes{0};  // before the server: on_close may run until it is gone
  TestServer server(options);
  server.server().on_close([&](const Conn&, const CloseStatus&) { ++closes; });
  server.start();

  RawPeer answering(server.port()), silent(server.port());
  answering.handshake();
  silent.handshake();
  const auto until = std::chrono::steady_clock::now() + 900ms;
  int pings = 0;
  answering.set_timeout(100ms);
  while (std::chrono::steady_clock::now() < until) {
    if (auto frame = answering.read_frame(); frame && frame->opcode == Opcode::ping) {
      ++pings;
      answering.send_frame(Frame::pong(frame->payload));
    }
  }
  EXPECT_GE(pings, 3);
  // The silent peer saw pings but never answered: it was dropped, the answering one was not.
  EXPECT_TRUE(silent.wait_closed());
  answering.send_text("alive");
  answering.set_timeout(2s);
  EXPECT_EQ(closes.load(), 1);
}

// The pong is input like any other: the next ping follows ping_interval after it, not after the
// pong timeout (that timer stayed armed once a ping went out: with the default 10 s pong timeout
// a quiet connection was pinged once at ping_interval, then every 10 s).
TEST(ServerTimeouts, PingsFollowThePingIntervalAfterEachPong) {
  ServerOptions options = fast_timeouts();
  options.ping_interval = 100ms;
  options.pong_timeout = 5s;
  TestServer server(options);
  server.start();
  RawPeer answering(server.port());
  answering.handshake();
  answering.set_timeout(100ms);
  const auto until = std::chrono::steady_clock::now() + 900ms;
  int pings = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (auto frame = answering.read_frame(); frame && frame->opcode == Opcode::ping) {
      ++pings;
      answering.send_frame(Frame::pong(frame->payload));
    }
  }
  EXPECT_GE(pings, 4);
}

// A peer that never reads while the server sends it 64 KiB messages as fast as it can.
struct NeverReadingPeer {
  explicit NeverReadingPeer(SlowConsumerPolicy policy,
                            std::chrono::milliseconds write_timeout = 30s)
      : server(options(policy, write_timeout)) {
    server.server().on_open([this](const Conn& conn) {
      std::lock_guard lock(mutex);
      opened = conn;
    });
    server.server().on_close(
        [this](const Conn&, const CloseStatus& status) { closes.add(status); });
    server.start();
    peer = std::make_unique<RawPeer>(server.port());
    int small = 4096;  // keep the kernel buffers small so the server's backlog fills quickly
    ::setsockopt(peer->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    peer->handshake();
  }
  static ServerOptions options(SlowConsumerPolicy policy, std::chrono::milliseconds write_timeout) {
    ServerOptions options = TestServer::default_options();
    options.max_buffered_bytes = 1 << 20;
    options.slow_consumer = policy;
    options.write_timeout = write_timeout;
    return options;
  }
  // Sends 64 KiB messages until one is dropped (the backlog is at its limit); false if none was.
  bool fill() {
    const Conn target = conn();
    const std::vector<std::byte> chunk(64 * 1024, std::byte{'x'});
    for (int i = 0; i < 400; ++i) {
      if (target.send(chunk) == SendStatus::dropped) return true;
      std::this_thread::sleep_for(1ms);
    }
    return false;
  }
  Conn conn() {
    for (int i = 0; i < 200; ++i) {
      {
        std::lock_guard lock(mutex);
        if (opened) return opened;
      }
      std::this_thread::sleep_for(10ms);
    }
    return {};
  }

  std::mutex mutex;
  Conn opened;
  Recorded<CloseStatus> closes;
  TestServer server;
  std::unique_ptr<RawPeer> peer;
};

TEST(ServerTimeouts, CloseTimeoutWaitsWhileASlowReaderIsStillGettingTheBytesBeforeTheClose) {
  // 2 MiB, then the close: a peer reading 256 KiB every 100 ms needs ~800 ms to reach the close
  // frame, more than the 300 ms close timeout. It answers, so the close is clean.
  ServerOptions options = fast_timeouts();
  options.max_buffered_bytes = 8u << 20;
  Recorded<CloseStatus> closes;  // before the server: its callbacks may record until it is gone
  TestServer server(options);
  // Sent once asked: nothing may follow the 101 (the peer reads the head through RawPeer's
  // buffer, the rest straight from the socket).
  server.server().on_message([](const Conn& conn, Message) {
    conn.send(std::vector<std::byte>(2u << 20, std::byte{'x'}));
    conn.close(close_code::normal, "bye");
  });
  server.server().on_close([&](const Conn&, const CloseStatus& status) { closes.add(status); });
  server.start();
  RawPeer peer(server.port());
  shrink_receive_buffer(peer.fd());
  ASSERT_EQ(status_of(peer.handshake()), 101);
  peer.send_text("go");
  // The 2 MiB frame (10-byte header), then the close frame: 88 05 03e8 "bye".
  const std::size_t expected = (2u << 20) + 10 + 7;
  std::string received;
  const auto start = std::chrono::steady_clock::now();
  while (received.size() < expected && since(start) < 5s) {
    std::this_thread::sleep_for(100ms);
    received +=
        read_bytes(peer.fd(), std::min<std::size_t>(256 << 10, expected - received.size()), 20ms);
  }
  ASSERT_EQ(received.size(), expected)
      << "the close frame never came; closed by the server: "
      << (closes.size() > 0 ? closes.all().front().error : std::string("no"));
  EXPECT_GT(since(start), 500ms) << "the peer was meant to be slower than the close timeout";
  EXPECT_EQ(received.substr(received.size() - 7), std::string("\x88\x05\x03\xe8"
                                                              "bye",
                                                              7));
  peer.send_frame(Frame::close(close_code::normal));
  ASSERT_TRUE(closes.wait_for(1, 3s));
  EXPECT_EQ(closes.all().front().code, close_code::normal);
  EXPECT_EQ(closes.all().front().error, "");
}

TEST(ServerTimeouts, NeverReadingPeerWithDropPolicyKeepsTheBufferBounded) {
  NeverReadingPeer slow(SlowConsumerPolicy::drop);
  Conn conn = slow.conn();
  ASSERT_TRUE(conn);
  const std::vector<std::byte> chunk(64 * 1024, std::byte{'x'});
  int dropped = 0;
  std::size_t most_buffered = 0;
  for (int i = 0; i < 200; ++i) {
    if (conn.send(chunk) == SendStatus::dropped) ++dropped;
    most_buffered = std::max(most_buffered, conn.buffered_amount());
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_GT(dropped, 0);
  EXPECT_LE(most_buffered, 1u << 20);  // strict: never above the limit
  EXPECT_TRUE(conn.is_open());         // drop policy: the connection stays
  EXPECT_GT(slow.server.server().stats().dropped_sends, 0u);
  // The server still serves others.
  RawPeer other(slow.server.port());
  EXPECT_NE(other.handshake().find(" 101 "), std::string::npos);
}

TEST(ServerTimeouts, NeverReadingPeerWithClosePolicyIsClosedAndLaterSendsDropped) {
  NeverReadingPeer slow(SlowConsumerPolicy::close);
  Conn conn = slow.conn();
  ASSERT_TRUE(conn);
  const std::vector<std::byte> chunk(64 * 1024, std::byte{'x'});
  bool refused = false;
  for (int i = 0; i < 400 && !refused; ++i) {
    refused = conn.send(chunk) == SendStatus::dropped;
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(refused);
  for (int i = 0; i < 200 && conn.is_open(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(conn.is_open());
  EXPECT_EQ(conn.send(chunk), SendStatus::dropped);
  EXPECT_EQ(conn.ping(), SendStatus::dropped);
  // (Not waiting for the peer's EOF: with a 4 KiB receive window, draining what the kernel
  // still holds would take many seconds.)
  EXPECT_EQ(slow.server.server().stats().connections, 0u);
}

TEST(ServerTimeouts, WriteTimeoutCutsAPeerThatTakesNoneOfTheBacklog) {
  NeverReadingPeer slow(SlowConsumerPolicy::drop, 400ms);
  ASSERT_TRUE(slow.conn());
  ASSERT_TRUE(slow.fill());
  const auto filled = std::chrono::steady_clock::now();
  ASSERT_TRUE(slow.closes.wait_for(1, 3s)) << "a peer that reads nothing was never cut";
  // Cut between one timeout after the last byte left and a sweep (a quarter timeout) later,
  // plus scheduling slack on a loaded machine.
  EXPECT_GE(since(filled), 300ms);
  EXPECT_LT(since(filled), 2s);
  const CloseStatus status = slow.closes.all().front();
  EXPECT_EQ(status.code, close_code::abnormal);
  EXPECT_EQ(status.error, "write timeout: the peer took none of our bytes for 400 ms");
  EXPECT_FALSE(slow.conn().is_open());
}

TEST(ServerTimeouts, WriteTimeoutZeroKeepsAPeerThatTakesNothing) {
  NeverReadingPeer slow(SlowConsumerPolicy::drop, 0ms);
  ASSERT_TRUE(slow.conn());
  ASSERT_TRUE(slow.fill());
  std::this_thread::sleep_for(1s);
  EXPECT_TRUE(slow.conn().is_open());
  EXPECT_EQ(slow.closes.size(), 0u);
}

TEST(ServerTimeouts, WriteTimeoutSparesAPeerThatReadsSlowerThanTheTimeoutButSteadily) {
  // 8 MiB queued at once, more than the kernel's send buffer takes; the peer takes 256 KiB
  // every 100 ms, so the backlog lives for seconds, many times the 300 ms write timeout, and
  // shrinks at every sweep.
  ServerOptions options = TestServer::default_options();
  options.max_buffered_bytes = 16u << 20;
  options.write_timeout = 300ms;
  // Declared before the server: its callbacks may record until the server is gone.
  Recorded<Conn> opened;
  Recorded<CloseStatus> closes;
  TestServer server(options);
  server.server().on_open([&](const Conn& conn) { opened.add(conn); });
  server.server().on_message([](const Conn& conn, Message) {
    conn.send(std::vector<std::byte>(8u << 20, std::byte{'s'}));
  });
  server.server().on_close([&](const Conn&, const CloseStatus& status) { closes.add(status); });
  server.start();
  RawPeer peer(server.port());
  shrink_receive_buffer(peer.fd());
  ASSERT_EQ(status_of(peer.handshake()), 101);
  const Conn conn = wait_for_open(opened);
  ASSERT_TRUE(conn);
  peer.send_text("go");
  const std::size_t expected = (8u << 20) + 10;  // 10-byte header of an 8 MiB frame
  std::string received;
  std::size_t most_buffered = 0;
  const auto start = std::chrono::steady_clock::now();
  while (received.size() < expected && since(start) < 10s) {
    std::this_thread::sleep_for(100ms);
    most_buffered = std::max(most_buffered, conn.buffered_amount());
    received +=
        read_bytes(peer.fd(), std::min<std::size_t>(256 << 10, expected - received.size()), 20ms);
  }
  EXPECT_EQ(received.size(), expected);
  EXPECT_GT(most_buffered, 0u) << "the kernel took everything: no backlog was ever watched";
  EXPECT_GT(since(start), 900ms) << "the peer was meant to be slower than the write timeout";
  EXPECT_EQ(closes.size(), 0u) << closes.all().front().error;
}

TEST(ServerTimeouts, PingFloodFromAPeerThatNeverReadsKeepsOnePendingPong) {
  TestServer server;
  Conn flooded;
  std::mutex mutex;
  server.server().on_open([&](const Conn& conn) {
    std::lock_guard lock(mutex);
    flooded = conn;
  });
  server.start();
  RawPeer peer(server.port());
  int small = 4096;
  ::setsockopt(peer.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  peer.handshake();
  // 100,000 pings of 100 bytes in big writes, never reading a pong.
  Frame ping = Frame::ping(std::vector<std::byte>(100, std::byte{'p'}));
  ping.mask = MaskKey{};
  const auto one = ping.serialize();
  std::vector<std::byte> batch;
  for (int i = 0; i < 1000; ++i) batch.insert(batch.end(), one.begin(), one.end());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(peer.send_raw(batch));
  std::this_thread::sleep_for(200ms);
  {
    std::lock_guard lock(mutex);
    ASSERT_TRUE(flooded);
    // Pongs do not pile up: at most what the kernel refused once, plus one pending pong.
    EXPECT_LT(flooded.buffered_amount(), 64u * 1024);
  }
  RawPeer other(server.port());
  EXPECT_NE(other.handshake().find(" 101 "), std::string::npos);
}

}  // namespace
}  // namespace fastws::testing
