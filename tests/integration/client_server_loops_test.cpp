// Client(server): a client whose connections run on a server's event loops. Its callbacks run on
// the server's loop threads and it starts none of its own; it dials before the server runs
// (connections start when it does); and every order of ending works: the client destroyed
// while the server runs (only its connections close), server.stop() with the client's
// connections open (they close, run() returns), the client gone before the server ever ran,
// the server destroyed first, and a reconnection pending when the server stops.
#include <gtest/gtest.h>
#include <sys/types.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client_test_support.hpp"
#include "fastws/client.hpp"
#include "fastws/server.hpp"
#include "server_test_support.hpp"

namespace fastws::testing {
namespace {

std::size_t thread_count() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    ++count;
  }
  return count;
}

// An echo server on 127.0.0.1 that records the thread of its callbacks and how its
// connections closed.
class EchoServer {
 public:
  EchoServer() {
    server_.server().on_message([this](const Conn& conn, Message message) {
      server_threads.add(std::this_thread::get_id());
      conn.send(message.data(), message.opcode());
    });
    server_.server().on_close(
        [this](const Conn&, const CloseStatus& status) { closes.add(status); });
  }
  Server& server() { return server_.server(); }
  void start() { server_.start(); }
  void stop() { server_.stop(); }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(server_.port()) + "/"; }
  std::uint16_t port() const { return server_.port(); }

  Recorded<std::thread::id> server_threads;
  Recorded<CloseStatus> closes;

 private:
  TestServer server_;
};

// A client on the server's loops that records what its callbacks see, and on which thread.
class GuestClient {
 public:
  explicit GuestClient(Server& server) : client(server) {
    client.on_open([this](const Conn& conn) { opened.add(conn); });
    client.on_message([this](const Conn& conn, Message message) {
      threads.add(std::this_thread::get_id());
      received.add({conn, std::string(message.text())});
    });
    client.on_close([this](const Conn&, const CloseStatus& status) { closes.add(status); });
    client.on_error([this](const Conn&, const CloseStatus& status) { errors.add(status); });
  }

  Recorded<Conn> opened;
  Recorded<Received> received;
  Recorded<std::thread::id> threads;
  Recorded<CloseStatus> closes;
  Recorded<CloseStatus> errors;
  Client client;  // last: it goes before the recordings
};

TEST(ClientOnServerLoopsThread, CallbacksRunOnTheServersLoopThreadAndNoThreadIsStarted) {
  EchoServer server;
  server.start();
  const std::size_t threads_before = thread_count();
  GuestClient guest(server.server());
  EXPECT_EQ(thread_count(), threads_before);
  ConnectResult result = guest.client.connect_and_wait(server.url());
  ASSERT_TRUE(result) << result.error.error;
  for (int i = 0; i < 3; ++i) result.conn.send("ping " + std::to_string(i));
  ASSERT_TRUE(guest.received.wait_for(3));
  EXPECT_EQ(guest.received.all()[2].text, "ping 2");
  EXPECT_EQ(thread_count(), threads_before);
  ASSERT_TRUE(server.server_threads.wait_for(1));
  EXPECT_EQ(guest.threads.all()[0], server.server_threads.all()[0]);  // one loop, one thread
  EXPECT_NE(guest.threads.all()[0], std::this_thread::get_id());
}

TEST(ClientOnServerLoopsShutdown, DestroyingTheClientWhileTheServerRunsClosesOnlyItsConnections) {
  EchoServer server;
  server.start();
  auto guest = std::make_unique<GuestClient>(server.server());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(guest->client.connect_and_wait(server.url()));
  RawPeer other(server.port());
  ASSERT_EQ(status_of(other.handshake()), 101);
  const auto start = std::chrono::steady_clock::now();
  guest.reset();
  EXPECT_LT(since(start), 1s * slowdown);
  ASSERT_TRUE(server.closes.wait_for(3));
  for (const CloseStatus& status : server.closes.all()) {
    EXPECT_EQ(status.code, close_code::going_away);
    EXPECT_EQ(status.reason, "client stopping");
  }
  other.send_text("still served");
  const auto echo = other.read_frame();
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->payload_text(), "still served");
}

TEST(ClientOnServerLoopsShutdown, ServerStopClosesTheClientsConnectionsAndRunReturns) {
  EchoServer server;
  server.start();
  GuestClient guest(server.server());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(guest.client.connect_and_wait(server.url()));
  const auto start = std::chrono::steady_clock::now();
  server.stop();  // returns once run() returned
  EXPECT_LT(since(start), 2s * slowdown);
  ASSERT_EQ(guest.closes.size(), 3u);
  for (const CloseStatus& status : guest.closes.all()) {
    EXPECT_EQ(status.code, close_code::going_away);
  }
  EXPECT_FALSE(guest.client.connect(server.url()));  // the loops ended
}

TEST(ClientOnServerLoopsShutdown, DialsBeforeTheServerRunsStartWhenItDoes) {
  EchoServer server;
  ASSERT_FALSE(server.server().listen());
  GuestClient guest(server.server());
  const Conn conn =
      guest.client.connect("ws://127.0.0.1:" + std::to_string(server.server().port()) + "/");
  ASSERT_TRUE(conn);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(guest.opened.size(), 0u);  // nothing runs the loops yet
  server.start();
  ASSERT_EQ(wait_for_open(guest.opened), conn);
  conn.send("late start");
  ASSERT_TRUE(guest.received.wait_for(1));
  EXPECT_EQ(guest.received.all()[0].text, "late start");
}

// What was dialed but never started is dropped: the server, run later, sees no connection.
TEST(ClientOnServerLoopsShutdown, AClientGoneBeforeTheServerRanLeavesNothingBehind) {
  Recorded<std::string> upgrades;
  EchoServer server;
  server.server().on_upgrade(
      [&](const Request& request, Upgrade&) { upgrades.add(std::string(request.target())); });
  ASSERT_FALSE(server.server().listen());
  auto guest = std::make_unique<GuestClient>(server.server());
  const Conn conn =
      guest->client.connect("ws://127.0.0.1:" + std::to_string(server.server().port()) + "/never",
                            {.reconnect = {.initial_delay = 10ms}});
  ASSERT_TRUE(conn);
  const auto start = std::chrono::steady_clock::now();
  guest.reset();
  EXPECT_LT(since(start), 100ms * slowdown);
  server.start();
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(upgrades.size(), 0u);
  EXPECT_FALSE(conn.is_open());
  EXPECT_EQ(conn.send("to nobody"), SendStatus::closed);
}

TEST(ClientOnServerLoopsShutdown, AServerDestroyedFirstLeavesTheClientInert) {
  auto server = std::make_unique<EchoServer>();
  server->start();
  GuestClient guest(server->server());
  const std::string url = server->url();
  ConnectResult result = guest.client.connect_and_wait(url);
  ASSERT_TRUE(result) << result.error.error;
  server->stop();
  server.reset();
  EXPECT_FALSE(guest.client.connect(url));
  EXPECT_EQ(result.conn.send("after the server"), SendStatus::closed);
  ASSERT_EQ(guest.closes.size(), 1u);
}

// A reconnection waiting for its time does not hold up the server's stop, and leaves nothing
// behind (the sanitizer trees check the memory).
TEST(ClientOnServerLoopsShutdown, ServerStopEndsAPendingReconnection) {
  EchoServer server;
  server.start();
  GuestClient guest(server.server());
  std::atomic<int> attempts{0};
  guest.client.connect(refusing_url(),
                       {.reconnect = {.initial_delay = 5s, .on_attempt = [&](ReconnectAttempt&) {
                                        ++attempts;
                                        return true;
                                      }}});
  std::this_thread::sleep_for(100ms);  // refused at once: now it waits
  const auto start = std::chrono::steady_clock::now();
  server.stop();
  EXPECT_LT(since(start), 1s * slowdown);
  EXPECT_EQ(attempts.load(), 0);
  EXPECT_EQ(guest.errors.size(), 0u);  // a pending retry is not a failure to report
}

// connect() from other threads racing server.stop(): each dial either is refused at once (the
// loops ended) or runs and ends promptly (open, or stopped); none is left queued on the ended
// loops until the server is destroyed, where connect_and_wait would wait for its handshake
// timeout. Repeated, since the window is a few instructions wide.
TEST(ClientOnServerLoopsShutdown, ConnectRacingServerStopNeverLeavesADialBehind) {
  constexpr auto handshake_timeout = 10s;
  for (int round = 0; round < 30; ++round) {
    EchoServer server;
    server.start();
    Client client(server.server(), {.handshake_timeout = handshake_timeout});
    std::atomic<int> slow{0};
    std::vector<std::thread> dialers;
    for (int thread = 0; thread < 3; ++thread) {
      dialers.emplace_back([&] {
        // Until the loops refuse, so that the last dials meet the end of the loops.
        for (int i = 0; i < 1000; ++i) {
          const auto start = std::chrono::steady_clock::now();
          const ConnectResult result = client.connect_and_wait(server.url());
          if (since(start) > handshake_timeout / 2) ++slow;
          if (result.failure == ConnectError::stopped) return;
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::microseconds(round * 97 % 3000));
    server.stop();
    for (auto& dialer : dialers) dialer.join();
    EXPECT_EQ(slow.load(), 0) << "round " << round;
    EXPECT_FALSE(client.connect(server.url()));  // the loops ended
  }
}

}  // namespace
}  // namespace fastws::testing
