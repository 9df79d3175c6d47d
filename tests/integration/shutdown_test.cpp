// Server::stop() as server.hpp promises it: from any thread, from a signal handler (on any thread)
// and before run(), a graceful close 1001 to everyone (RFC 6455 7.4.1 "going away"), the close
// handshakes waited for at most close_timeout, then run() returns. And Conn handles that outlive
// the server.
// Suite names start with "Shutdown": CI runs them under TSan too; under ASan with
// detect_leaks=1 nothing may leak.
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <future>
#include <map>

#include "server_test_support.hpp"
#include "test_peer.hpp"

namespace fastws::testing {
namespace {

#if defined(FASTWS_UNDER_TSAN)
constexpr int kEchoPeers = 60;  // TSan runs the server ~10x slower
#else
constexpr int kEchoPeers = 200;
#endif

using Clock = std::chrono::steady_clock;

ServerOptions two_loops(std::chrono::milliseconds close_timeout) {
  ServerOptions options = TestServer::default_options();
  options.threads = 2;
  options.close_timeout = close_timeout;
  return options;
}

// run() on its own thread, noting when it returned.
class Running {
 public:
  explicit Running(Server& server)
      : server_(server), returned_(promise_.get_future()), thread_([this] {
          server_.run();
          promise_.set_value(Clock::now());
        }) {}
  // A test that ended early still stops and joins its server.
  ~Running() {
    if (!thread_.joinable()) return;
    server_.stop();
    join_within(10s);
  }

  pthread_t native_handle() { return thread_.native_handle(); }

  // When run() returned. A run() that does not return within `limit` cannot be joined: the test
  // program stops here rather than hang.
  Clock::time_point join_within(std::chrono::milliseconds limit) {
    if (returned_.wait_for(limit) != std::future_status::ready) {
      ADD_FAILURE() << "run() did not return within " << limit.count() << " ms";
      std::fflush(nullptr);
      std::abort();
    }
    thread_.join();
    return returned_.get();
  }

 private:
  Server& server_;
  std::promise<Clock::time_point> promise_;
  std::future<Clock::time_point> returned_;
  std::thread thread_;
};

// on_open and on_close as the server reported them, by connection id.
class Lifecycle {
 public:
  void watch(Server& server) {
    server.on_open([this](const Conn& conn) {
      std::lock_guard lock(mutex_);
      ++opened_[conn.id()];
    });
    server.on_close([this](const Conn& conn, const CloseStatus& status) {
      std::lock_guard lock(mutex_);
      closed_[conn.id()].push_back(status);
    });
  }
  std::size_t opened() const {
    std::lock_guard lock(mutex_);
    return opened_.size();
  }
  // Every opened connection was closed exactly once, and each close satisfies `check`.
  void expect_closed_once(const std::function<void(const CloseStatus&)>& check) const {
    std::lock_guard lock(mutex_);
    EXPECT_EQ(closed_.size(), opened_.size());
    for (const auto& [id, count] : opened_) {
      EXPECT_EQ(count, 1);
      auto found = closed_.find(id);
      ASSERT_NE(found, closed_.end()) << "no on_close for connection " << id;
      ASSERT_EQ(found->second.size(), 1u) << "on_close count for connection " << id;
      check(found->second.front());
    }
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::uint64_t, int> opened_;
  std::map<std::uint64_t, std::vector<CloseStatus>> closed_;
};

std::vector<std::unique_ptr<RawPeer>> connect_peers(std::uint16_t port, int count) {
  std::vector<std::unique_ptr<RawPeer>> peers;
  for (int i = 0; i < count; ++i) {
    peers.push_back(std::make_unique<RawPeer>(port));
    EXPECT_NE(peers.back()->handshake().find(" 101 "), std::string::npos) << "peer " << i;
  }
  return peers;
}

// What a well-behaved peer does when the server goes away: read to the close frame, answer it,
// and see the server close the TCP connection. Returns the code it got (0 if none).
std::uint16_t answer_close(RawPeer& peer) {
  const std::uint16_t code = peer.read_close_code();
  if (code != 0) {
    peer.send_frame(Frame::close(code));
    if (!peer.wait_closed()) return 0;
  }
  return code;
}

TEST(Shutdown, StopFromAThreadDuringEchoTrafficClosesEveryConnectionWith1001) {
  const auto close_timeout = 1000ms;
  Server server(two_loops(close_timeout));
  Lifecycle lifecycle;
  lifecycle.watch(server);
  server.on_message(
      [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
  ASSERT_FALSE(server.listen());
  Running running(server);
  auto peers = connect_peers(server.port(), kEchoPeers);
  ASSERT_TRUE(wait_until([&] { return lifecycle.opened() == kEchoPeers; }));

  // Four client threads keep echo traffic going on every connection until the close arrives.
  constexpr int kClientThreads = 4;
  std::atomic<int> echoes{0};
  std::vector<std::uint16_t> codes(kEchoPeers, 0);
  std::vector<std::string> problems(kEchoPeers);
  std::vector<std::thread> clients;
  for (int t = 0; t < kClientThreads; ++t) {
    clients.emplace_back([&, t] {
      std::vector<std::size_t> mine;
      for (std::size_t i = static_cast<std::size_t>(t); i < peers.size(); i += kClientThreads) {
        mine.push_back(i);
      }
      for (int round = 0; !mine.empty(); ++round) {
        for (auto it = mine.begin(); it != mine.end();) {
          RawPeer& peer = *peers[*it];
          const std::string text = "echo " + std::to_string(round);
          peer.send_text(text);
          auto frame = peer.read_frame();
          if (frame && frame->opcode == Opcode::text) {
            if (frame->payload_text() != text) problems[*it] = "echo mismatch";
            ++echoes;
            ++it;
            continue;
          }
          if (!frame || frame->opcode != Opcode::close) {
            problems[*it] = "no echo and no close frame";
          } else {
            codes[*it] = frame->close_code().value_or(close_code::no_status);
            peer.send_frame(Frame::close(codes[*it]));
            if (!peer.wait_closed()) problems[*it] = "not closed after the close handshake";
          }
          it = mine.erase(it);
        }
      }
    });
  }
  ASSERT_TRUE(wait_until([&] { return echoes.load() >= 4 * kEchoPeers; }, 10s));
  Clock::time_point stop_called;
  std::thread stopper([&] {
    stop_called = Clock::now();
    server.stop();
  });
  stopper.join();
  const Clock::time_point returned = running.join_within(close_timeout + 5s);
  for (auto& client : clients) client.join();

  EXPECT_LT(returned - stop_called, close_timeout + 1s);
  for (std::size_t i = 0; i < peers.size(); ++i) {
    EXPECT_EQ(codes[i], close_code::going_away) << "peer " << i;
    EXPECT_EQ(problems[i], "") << "peer " << i;
  }
  // Every peer answered: each on_close reports its 1001 and no error.
  lifecycle.expect_closed_once([](const CloseStatus& status) {
    EXPECT_EQ(status.code, close_code::going_away);
    EXPECT_EQ(status.error, "");
  });
}

std::atomic<Server*> server_to_stop{nullptr};
static_assert(std::atomic<Server*>::is_always_lock_free, "read from a signal handler");

// SIGUSR1 calls server_to_stop->stop() while installed.
class StopOnSigusr1 {
 public:
  explicit StopOnSigusr1(Server& server) {
    server_to_stop = &server;
    struct sigaction action {};
    action.sa_handler = [](int) { server_to_stop.load()->stop(); };
    sigemptyset(&action.sa_mask);
    installed_ = ::sigaction(SIGUSR1, &action, &previous_) == 0;
  }
  ~StopOnSigusr1() {
    ::sigaction(SIGUSR1, &previous_, nullptr);
    server_to_stop = nullptr;
  }
  bool installed() const { return installed_; }

 private:
  struct sigaction previous_ {};
  bool installed_ = false;
};

// Connected peers, a signal whose handler calls stop(), and the graceful close that follows.
void expect_signal_stops_server(const std::function<void(Running&)>& deliver) {
  const auto close_timeout = 1000ms;
  Server server(two_loops(close_timeout));
  Lifecycle lifecycle;
  lifecycle.watch(server);
  StopOnSigusr1 handler(server);
  ASSERT_TRUE(handler.installed());
  ASSERT_FALSE(server.listen());
  Running running(server);
  auto peers = connect_peers(server.port(), 10);
  ASSERT_TRUE(wait_until([&] { return lifecycle.opened() == 10; }));

  const Clock::time_point signalled = Clock::now();
  deliver(running);
  for (auto& peer : peers) EXPECT_EQ(answer_close(*peer), close_code::going_away);
  EXPECT_LT(running.join_within(close_timeout + 5s) - signalled, close_timeout + 1s);
  lifecycle.expect_closed_once(
      [](const CloseStatus& status) { EXPECT_EQ(status.code, close_code::going_away); });
}

TEST(Shutdown, StopFromASignalHandlerOnAnotherThread) {
  expect_signal_stops_server([](Running&) { ASSERT_EQ(::raise(SIGUSR1), 0); });
}

TEST(Shutdown, StopFromASignalHandlerInterruptingTheLoopThread) {
  // The handler runs on the thread inside run(), interrupting its epoll_wait (EINTR).
  expect_signal_stops_server(
      [](Running& running) { ASSERT_EQ(::pthread_kill(running.native_handle(), SIGUSR1), 0); });
}

TEST(Shutdown, StopFromASignalHandlerForTheWholeProcess) {
  // As `kill PID` sends it: the kernel picks any thread that does not block the signal.
  expect_signal_stops_server([](Running&) { ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0); });
}

TEST(Shutdown, PeersThatNeitherAnswerNorReadAreCutAtTheCloseTimeout) {
  const auto close_timeout = 300ms;
  Server server(two_loops(close_timeout));
  Lifecycle lifecycle;
  lifecycle.watch(server);
  // "fill" makes the server send until this peer's socket is full: its close frame cannot even
  // leave, so only the timeout ends the connection.
  server.on_message([](const Conn& conn, Message) {
    const std::vector<std::byte> chunk(256 * 1024, std::byte{'x'});
    while (conn.send(chunk) == SendStatus::written) {
    }
  });
  ASSERT_FALSE(server.listen());
  Running running(server);
  auto silent = connect_peers(server.port(), 10);
  std::vector<std::unique_ptr<RawPeer>> full;
  for (int i = 0; i < 5; ++i) {
    full.push_back(std::make_unique<RawPeer>(server.port()));
    shrink_receive_buffer(full.back()->fd());
    ASSERT_NE(full.back()->handshake().find(" 101 "), std::string::npos);
    full.back()->send_text("fill");
  }
  ASSERT_TRUE(wait_until([&] { return server.stats().backpressured_connections == 5; }));

  const Clock::time_point stop_called = Clock::now();
  server.stop();
  const auto took = running.join_within(close_timeout + 5s) - stop_called;
  EXPECT_GE(took, close_timeout);
  EXPECT_LT(took, close_timeout + 1s);
  for (auto& peer : silent) EXPECT_TRUE(peer->wait_closed());
  for (auto& peer : full) EXPECT_TRUE(peer->wait_closed());
  // Nobody completed the close handshake: each connection reports 1006 with a reason.
  lifecycle.expect_closed_once([](const CloseStatus& status) {
    EXPECT_EQ(status.code, close_code::abnormal);
    EXPECT_NE(status.error, "");
  });
}

TEST(Shutdown, StopBeforeRunMakesRunReturnPromptlyAndAcceptNobody) {
  Server server(two_loops(1000ms));
  ASSERT_FALSE(server.listen());
  const std::uint16_t port = server.port();
  server.stop();
  const Clock::time_point started = Clock::now();
  Running running(server);
  EXPECT_LT(running.join_within(5s) - started, 1s);
  // The listening sockets are closed: a connection attempt is refused.
  RawPeer late(port);
  EXPECT_FALSE(late.connected());
}

TEST(Shutdown, StopBeforeListenIsKeptForRun) {
  // run() listens itself, then finds the stop already requested.
  Server server(two_loops(1000ms));
  server.stop();
  const Clock::time_point started = Clock::now();
  Running running(server);
  EXPECT_LT(running.join_within(5s) - started, 1s);
}

TEST(Shutdown, DestroyingTheServerWhileUserThreadsSendThroughHandles) {
  std::vector<Conn> handles;
  std::atomic<bool> server_gone{false};
  std::atomic<bool> done{false};
  std::atomic<int> calls_after{0};
  std::atomic<int> not_closed_after{0};
  std::vector<std::thread> users;
  {
    auto server = std::make_unique<Server>(two_loops(300ms));
    Recorded<Conn> opened;
    server->on_open([&](const Conn& conn) { opened.add(conn); });
    ASSERT_FALSE(server->listen());
    Running running(*server);
    // Half of the peers answer the close, half stay silent until the close timeout.
    auto peers = connect_peers(server->port(), 20);
    ASSERT_TRUE(opened.wait_for(20));
    handles = opened.all();
    const SharedPayload shared = make_shared_payload(std::string(100'000, 's'));
    for (int t = 0; t < 4; ++t) {
      users.emplace_back([&, copies = handles, shared, t] {
        for (int round = 0; !done; ++round) {
          const bool after = server_gone.load();
          for (const Conn& conn : copies) {
            Writer writer = conn.writer(Opcode::text);
            const SendStatus statuses[] = {
                conn.send("tick " + std::to_string(round)),
                conn.send(shared),
                conn.ping(),
                writer.write("a"),
                writer.finish("b"),
                round % 50 == t ? conn.close(close_code::normal) : SendStatus::closed};
            if (!after) continue;
            ++calls_after;
            for (SendStatus status : statuses) {
              if (status != SendStatus::closed) ++not_closed_after;
            }
          }
        }
      });
    }
    std::thread answering([&] {
      for (std::size_t i = 0; i < peers.size(); i += 2) answer_close(*peers[i]);
    });
    std::this_thread::sleep_for(30ms);
    server->stop();
    running.join_within(5s);
    answering.join();
    server.reset();  // while the user threads keep sending
    server_gone = true;
  }
  ASSERT_TRUE(wait_until([&] { return calls_after.load() > 200; }, 10s));
  done = true;
  for (auto& user : users) user.join();
  EXPECT_EQ(not_closed_after.load(), 0);
  for (const Conn& conn : handles) {
    EXPECT_FALSE(conn.is_open());
    EXPECT_EQ(conn.send("after"), SendStatus::closed);
    EXPECT_EQ(conn.ping(), SendStatus::closed);
    EXPECT_EQ(conn.close(), SendStatus::closed);
    conn.terminate();  // harmless
  }
  handles.clear();  // the last handles let go of the loops' state: LSan checks nothing is left
}

}  // namespace
}  // namespace fastws::testing
