// The client's reconnection (ConnectOptions::reconnect) over 127.0.0.1: back after the server
// restarts on the same port, backoff delays within their jitter bounds, giving up after
// max_attempts with one final on_error, on_attempt changing the URL and headers or ending it,
// no reconnection after the application's own close, and stop() winning over a pending attempt.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client_test_support.hpp"
#include "fastws/client.hpp"
#include "server_test_support.hpp"

namespace fastws::testing {
namespace {

// An echo server on 127.0.0.1 (on `port`, or one the kernel picks) that records the X-Token
// of each upgrade.
class EchoServer {
 public:
  explicit EchoServer(std::uint16_t port = 0) : server_(options(port)) {
    server_.server().on_upgrade([this](const Request& request, Upgrade&) {
      tokens.add(std::string(request.header("x-token")));
    });
    server_.server().on_message(
        [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
    server_.start();
  }
  std::uint16_t port() const { return server_.port(); }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port()) + "/"; }
  void stop() { server_.stop(); }

  Recorded<std::string> tokens;

 private:
  static ServerOptions options(std::uint16_t port) {
    ServerOptions options = TestServer::default_options();
    options.port = port;
    return options;
  }
  TestServer server_;
};

// What on_attempt saw, with the time it was called.
struct SeenAttempt {
  ReconnectAttempt attempt;
  std::chrono::steady_clock::time_point at;
};

ReconnectPolicy quick_policy(Recorded<SeenAttempt>& seen) {
  ReconnectPolicy policy;
  policy.initial_delay = 50ms;
  policy.max_delay = 200ms;
  policy.on_attempt = [&seen](ReconnectAttempt& attempt) {
    seen.add({attempt, std::chrono::steady_clock::now()});
    return true;
  };
  return policy;
}

TEST(ClientReconnect, ComesBackAfterTheServerRestartsOnTheSamePort) {
  auto server = std::make_unique<EchoServer>();
  const std::uint16_t port = server->port();
  Recorded<SeenAttempt> seen;
  RecordingClient peer;
  const Conn first = peer.client().connect(server->url(), {.reconnect = quick_policy(seen)});
  ASSERT_EQ(wait_for_open(peer.opened), first);
  first.send("before the restart");
  ASSERT_TRUE(peer.received.wait_for(1));

  server->stop();
  ASSERT_TRUE(peer.closes.wait_for(1));
  EXPECT_EQ(peer.closes.all()[0].code, close_code::going_away);
  // Refused while nobody listens: attempts follow each other (not reported to on_error).
  ASSERT_TRUE(seen.wait_for(2));
  server.reset();
  server = std::make_unique<EchoServer>(port);

  const Conn second = wait_for_open(peer.opened, 1);
  ASSERT_TRUE(second);
  EXPECT_NE(second, first);  // a connection of its own
  EXPECT_FALSE(first.is_open());
  EXPECT_EQ(second.send("after the restart"), SendStatus::queued);
  ASSERT_TRUE(peer.received.wait_for(2));
  EXPECT_EQ(peer.received.all()[1].text, "after the restart");
  EXPECT_EQ(peer.received.all()[1].conn, second);

  const auto attempts = seen.all();
  ASSERT_GE(attempts.size(), 2u);
  for (std::size_t i = 0; i < attempts.size(); ++i) {
    EXPECT_EQ(attempts[i].attempt.number, i + 1);  // counted since the connection was lost
  }
  EXPECT_EQ(attempts[0].attempt.failure, ConnectError::none);  // it had opened
  EXPECT_EQ(attempts[0].attempt.last_error.code, close_code::going_away);
  EXPECT_EQ(attempts[1].attempt.failure, ConnectError::connect);  // refused
  EXPECT_EQ(peer.errors.size(), 0u);
}

// The n-th delay is min(max_delay, initial_delay * multiplier^(n-1)) shortened by at most
// `jitter` of it; the attempt follows about that long after the previous one failed (loop
// timers: up to a tick of 100 ms later).
TEST(ClientReconnect, BackoffDelaysGrowWithinTheirJitterBounds) {
  Recorded<SeenAttempt> seen;
  ReconnectPolicy policy = quick_policy(seen);
  policy.initial_delay = 100ms;
  policy.multiplier = 2;
  policy.max_delay = 400ms;
  policy.jitter = 0.5;
  policy.max_attempts = 5;
  RecordingClient peer;
  const auto start = std::chrono::steady_clock::now();
  peer.client().connect(refusing_url(), {.reconnect = policy});
  ASSERT_TRUE(peer.errors.wait_for(1, 5s));  // the fifth attempt failed: the final error
  const auto attempts = seen.all();
  ASSERT_EQ(attempts.size(), 5u);
  const std::chrono::milliseconds full[] = {100ms, 200ms, 400ms, 400ms, 400ms};
  auto previous = start;  // each refusal comes within a millisecond of its attempt
  for (std::size_t i = 0; i < attempts.size(); ++i) {
    const ReconnectAttempt& attempt = attempts[i].attempt;
    EXPECT_EQ(attempt.number, i + 1);
    EXPECT_GE(attempt.delay, full[i] / 2) << "attempt " << i + 1;
    EXPECT_LE(attempt.delay, full[i]) << "attempt " << i + 1;
    const auto waited =
        std::chrono::duration_cast<std::chrono::milliseconds>(attempts[i].at - previous);
    EXPECT_GE(waited, attempt.delay - 10ms) << "attempt " << i + 1;
    EXPECT_LE(waited, attempt.delay + 150ms * slowdown) << "attempt " << i + 1;
    previous = attempts[i].at;
  }
}

TEST(ClientReconnect, GivesUpAfterMaxAttemptsWithOneFinalError) {
  Recorded<SeenAttempt> seen;
  ReconnectPolicy policy = quick_policy(seen);
  policy.initial_delay = 20ms;
  policy.max_attempts = 3;
  Recorded<Conn> failed;
  RecordingClient peer;
  peer.client().on_error([&](const Conn& conn, const CloseStatus& status) {
    failed.add(conn);
    peer.errors.add(status);
  });
  const Conn first = peer.client().connect(refusing_url(), {.reconnect = policy});
  ASSERT_TRUE(peer.errors.wait_for(1, 3s));
  std::this_thread::sleep_for(300ms);  // nothing more comes
  ASSERT_EQ(peer.errors.size(), 1u);
  const CloseStatus final_error = peer.errors.all()[0];
  EXPECT_EQ(final_error.code, close_code::abnormal);
  EXPECT_NE(final_error.error.find("Connection refused"), std::string::npos) << final_error.error;
  EXPECT_NE(final_error.error.find("(gave up after 3 reconnection attempts)"), std::string::npos)
      << final_error.error;
  EXPECT_NE(failed.all()[0], first);  // the last attempt's connection
  EXPECT_EQ(seen.size(), 3u);
  EXPECT_EQ(peer.opened.size(), 0u);
}

// A request that cannot be made fails the same way every time: reported at once, not retried.
TEST(ClientReconnect, AnInvalidRequestIsReportedAndNotRetried) {
  Recorded<SeenAttempt> seen;
  RecordingClient peer;
  peer.client().connect(refusing_url(), {.headers = {{"X-Evil", "a\r\nInjected: yes"}},
                                         .reconnect = quick_policy(seen)});
  ASSERT_TRUE(peer.errors.wait_for(1));
  EXPECT_EQ(peer.errors.all()[0].error.rfind("cannot connect: ", 0), 0u);
  std::this_thread::sleep_for(200ms);  // four times the delay
  EXPECT_EQ(seen.size(), 0u);
  EXPECT_EQ(peer.errors.size(), 1u);
}

TEST(ClientReconnect, OnAttemptMayChangeTheUrlAndHeadersOrEndIt) {
  EchoServer other;
  Recorded<SeenAttempt> seen;
  ReconnectPolicy policy = quick_policy(seen);
  policy.on_attempt = [&](ReconnectAttempt& attempt) {
    seen.add({attempt, std::chrono::steady_clock::now()});
    if (attempt.number > 1) return false;  // the second attempt is not made
    attempt.url = other.url();
    attempt.headers = {{"X-Token", "fresh"}};
    return true;
  };
  RecordingClient peer;
  peer.client().connect(refusing_url(), {.headers = {{"X-Token", "stale"}}, .reconnect = policy});
  const Conn moved = wait_for_open(peer.opened);
  ASSERT_TRUE(moved);
  ASSERT_EQ(other.tokens.size(), 1u);
  EXPECT_EQ(other.tokens.all()[0], "fresh");
  // The server goes: attempt 1 after this loss dials the new URL again, which refuses now;
  // on_attempt ends it before attempt 2.
  other.stop();
  ASSERT_TRUE(seen.wait_for(3));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(seen.size(), 3u);
  const auto attempts = seen.all();
  EXPECT_EQ(attempts[1].attempt.url, other.url());  // the change stayed
  EXPECT_EQ(attempts[1].attempt.headers.at(0).second, "fresh");
  EXPECT_EQ(peer.errors.size(), 0u);  // ended by on_attempt: nothing to report
}

// Conn::close by the application ends the reconnection; a server's own close does not.
TEST(ClientReconnect, TheApplicationsCloseEndsItAndTheServersDoesNot) {
  TestServer server;
  server.server().on_message([](const Conn& conn, Message message) {
    if (message.text() == "close me") conn.close(close_code::normal, "as asked");
  });
  server.start();
  Recorded<SeenAttempt> seen;
  RecordingClient peer;
  peer.client().connect("ws://127.0.0.1:" + std::to_string(server.port()) + "/",
                        {.reconnect = quick_policy(seen)});
  const Conn first = wait_for_open(peer.opened);
  ASSERT_TRUE(first);
  first.send("close me");  // the server closes with 1000: the client comes back
  const Conn second = wait_for_open(peer.opened, 1);
  ASSERT_TRUE(second);
  EXPECT_EQ(seen.all().at(0).attempt.last_error.code, close_code::normal);
  EXPECT_EQ(seen.all().at(0).attempt.last_error.reason, "as asked");
  second.close(close_code::normal, "done here");
  ASSERT_TRUE(peer.closes.wait_for(2));
  std::this_thread::sleep_for(300ms);  // well past the 50 ms delay
  EXPECT_EQ(peer.opened.size(), 2u);
  EXPECT_EQ(seen.size(), 1u);
}

// A user_data shared_ptr is shared by every connection of a reconnection.
TEST(ClientReconnect, EveryAttemptGetsACopyOfTheUserData) {
  auto server = std::make_unique<EchoServer>();
  Recorded<SeenAttempt> seen;
  auto state = std::make_shared<std::atomic<int>>(0);
  RecordingClient peer;
  peer.client().on_open([&](const Conn& conn) {
    if (auto* shared = conn.user_data<std::shared_ptr<std::atomic<int>>>()) {
      if (std::atomic<int>* count = shared->get()) count->fetch_add(1);
    }
    peer.opened.add(conn);
  });
  peer.client().connect(server->url(), {.user_data = state, .reconnect = quick_policy(seen)});
  ASSERT_TRUE(wait_for_open(peer.opened));
  const std::uint16_t port = server->port();
  server.reset();
  server = std::make_unique<EchoServer>(port);
  ASSERT_TRUE(wait_for_open(peer.opened, 1));
  EXPECT_EQ(state->load(), 2);
}

// stop() while an attempt waits for its time: it returns at once, and the attempt never comes
// (no on_attempt, no connection at the listener). Under TSan too.
TEST(ClientReconnectShutdown, StopDuringAPendingReconnectReturnsPromptlyAndNoAttemptFollows) {
  SilentListener listener;
  ASSERT_NE(listener.port, 0);
  Recorded<SeenAttempt> seen;
  ReconnectPolicy policy = quick_policy(seen);
  policy.initial_delay = 400ms;
  policy.max_delay = 400ms;
  policy.jitter = 0;
  ClientOptions options;
  options.handshake_timeout = 100ms;  // the listener never answers: the first attempt fails
  auto peer = std::make_unique<RecordingClient>(options);
  peer->client().connect(listener.url(), {.reconnect = policy});
  pollfd incoming{listener.socket.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&incoming, 1, 2000), 1);
  net::UniqueFd first(::accept4(listener.socket.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(read_to_end(first.get(), 2s).closed);  // the handshake timed out: reconnecting
  const auto start = std::chrono::steady_clock::now();
  peer->client().stop();
  peer.reset();  // the destructor too: nothing to wait for
  EXPECT_LT(since(start), 200ms * slowdown);
  EXPECT_EQ(::poll(&incoming, 1, 700), 0) << "an attempt came after stop()";
  EXPECT_EQ(seen.size(), 0u);
}

// stop() racing the reconnection's timer at every point of its wait: the client goes away
// promptly every time, and once stop() returned at most the one attempt that had already
// passed its check may still call on_attempt (its connection is closed by the shutdown). Under
// TSan too.
TEST(ClientReconnectShutdown, StopRacingTheTimerNeverLetsAnAttemptThrough) {
  for (int round = 0; round < 20; ++round) {
    std::atomic<bool> stop_returned{false};
    std::atomic<int> late{0};
    ReconnectPolicy policy;
    policy.initial_delay = std::chrono::milliseconds(round % 5);
    policy.jitter = 0;
    policy.on_attempt = [&](ReconnectAttempt&) {
      if (stop_returned.load()) ++late;
      return true;
    };
    auto peer = std::make_unique<RecordingClient>();
    peer->client().connect(refusing_url(), {.reconnect = policy});
    std::this_thread::sleep_for(std::chrono::milliseconds(round * 7 % 60));
    const auto start = std::chrono::steady_clock::now();
    peer->client().stop();
    stop_returned = true;
    peer.reset();
    EXPECT_LT(since(start), 500ms * slowdown) << "round " << round;
    EXPECT_LE(late.load(), 1) << "round " << round;
  }
}

}  // namespace
}  // namespace fastws::testing
