// Listener on an event loop: accepts IPv4, IPv6 and Unix connections, caps accepts per event,
// spreads connections over loops (SO_REUSEPORT, or one listener and an AcceptDistributor), and
// survives running out of descriptors without spinning.
#include "net/listener.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "integration/net_test_support.hpp"
#include "net/accept_distributor.hpp"
#include "net/event_loop.hpp"

namespace fastws::net {
namespace {

using namespace std::chrono_literals;
using test::address_of;
using test::bound_address;
using test::connect_blocking;

std::unique_ptr<EventLoop> make_loop(const EventLoopOptions& options = {}) {
  std::error_code error;
  auto loop = EventLoop::create(error, options);
  EXPECT_FALSE(error) << error.message();
  return loop;
}

UniqueFd listening(const SocketAddress& address, const ListenOptions& options = {}) {
  UniqueFd fd;
  EXPECT_FALSE(listen_on(address, options, fd)) << address.to_string();
  return fd;
}

// Keeps what it accepted; thread-safe so loops on other threads can share it.
class CollectingHandler final : public AcceptHandler {
 public:
  void on_accept(UniqueFd connection, const SocketAddress& peer) override {
    std::lock_guard lock(mutex_);
    if (loop_ != nullptr && !loop_->is_in_loop_thread()) ++wrong_thread_;
    peers_.push_back(peer.to_string());
    connections_.push_back(std::move(connection));
  }
  void on_accept_error(std::error_code error) override {
    std::lock_guard lock(mutex_);
    errors_.push_back(error);
  }

  void expect_loop(EventLoop& loop) { loop_ = &loop; }
  std::size_t accepted() {
    std::lock_guard lock(mutex_);
    return connections_.size();
  }
  std::vector<std::string> peers() {
    std::lock_guard lock(mutex_);
    return peers_;
  }
  int first_fd() {
    std::lock_guard lock(mutex_);
    return connections_.empty() ? -1 : connections_.front().get();
  }
  std::vector<std::error_code> errors() {
    std::lock_guard lock(mutex_);
    return errors_;
  }
  int wrong_thread() {
    std::lock_guard lock(mutex_);
    return wrong_thread_;
  }

 private:
  std::mutex mutex_;
  EventLoop* loop_ = nullptr;
  std::vector<UniqueFd> connections_;
  std::vector<std::string> peers_;
  std::vector<std::error_code> errors_;
  int wrong_thread_ = 0;
};

// Iterates `loop` until `done()` or two seconds pass.
template <typename Done>
bool run_until(EventLoop& loop, Done done) {
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (!done() && std::chrono::steady_clock::now() < deadline) loop.run_once(20ms);
  return done();
}

void expect_accepts_from(const SocketAddress& address, const ListenOptions& options = {}) {
  auto loop = make_loop();
  CollectingHandler handler;
  Listener listener(*loop, listening(address, options), handler);
  ASSERT_FALSE(listener.start());
  UniqueFd client = connect_blocking(bound_address(listener.fd()));
  ASSERT_TRUE(run_until(*loop, [&] { return handler.accepted() == 1; }));
  SocketAddress client_address;
  ASSERT_FALSE(local_address(client.get(), client_address));
  EXPECT_EQ(handler.peers().front(), client_address.to_string());
}

TEST(ListenerTest, AcceptsIpv4Connections) {
  expect_accepts_from(address_of("127.0.0.1", 0));
}

TEST(ListenerTest, AcceptsIpv6Connections) {
  if (!test::ipv6_loopback_available()) GTEST_SKIP() << "::1 is not available";
  expect_accepts_from(address_of("::1", 0), {.v6_only = true});
}

TEST(ListenerTest, AcceptsUnixConnections) {
  test::TempDir dir;
  expect_accepts_from(test::unix_address(dir.file("listener.sock")));
}

TEST(ListenerTest, TcpConnectionsGetNoDelay) {
  auto loop = make_loop();
  CollectingHandler handler;
  Listener listener(*loop, listening(address_of("127.0.0.1", 0)), handler);
  ASSERT_FALSE(listener.start());
  UniqueFd client = connect_blocking(bound_address(listener.fd()));
  ASSERT_TRUE(run_until(*loop, [&] { return handler.accepted() == 1; }));
  int nodelay = 0;
  socklen_t size = sizeof nodelay;
  ASSERT_EQ(::getsockopt(handler.first_fd(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &size), 0);
  EXPECT_EQ(nodelay, 1);
}

TEST(ListenerTest, AcceptsAtMostTheCapPerEventAndTheRestNextIteration) {
  auto loop = make_loop();
  CollectingHandler handler;
  Listener listener(*loop, listening(address_of("127.0.0.1", 0)), handler,
                    {.accepts_per_event = 2});
  if (loop->receives_for_streams()) {
    GTEST_SKIP() << "io_uring: one multishot accept hands connections over as they come";
  }
  ASSERT_FALSE(listener.start());
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 5; ++i) clients.push_back(connect_blocking(bound_address(listener.fd())));
  loop->run_once(1s);
  EXPECT_EQ(handler.accepted(), 2u);
  EXPECT_TRUE(run_until(*loop, [&] { return handler.accepted() == 5; }));
}

TEST(ListenerTest, StoppedListenerAcceptsNothing) {
  auto loop = make_loop();
  CollectingHandler handler;
  Listener listener(*loop, listening(address_of("127.0.0.1", 0)), handler);
  ASSERT_FALSE(listener.start());
  listener.stop();
  UniqueFd client = connect_blocking(bound_address(listener.fd()));
  loop->run_once(100ms);
  EXPECT_EQ(handler.accepted(), 0u);
}

// A loop running on its own thread until destroyed.
class RunningLoop {
 public:
  RunningLoop() : loop(make_loop()), thread_([this] { loop->run(); }) {}
  ~RunningLoop() {
    loop->stop();
    thread_.join();
  }
  std::unique_ptr<EventLoop> loop;

 private:
  std::thread thread_;
};

bool wait_until(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  return done();
}

TEST(ListenerTest, ReusePortListenersOnTwoLoopsShareTheConnections) {
  CollectingHandler first_handler, second_handler;
  UniqueFd first_socket = listening(address_of("127.0.0.1", 0), {.reuse_port = true});
  const SocketAddress address = bound_address(first_socket.get());
  UniqueFd second_socket = listening(address, {.reuse_port = true});

  RunningLoop first, second;
  first_handler.expect_loop(*first.loop);
  second_handler.expect_loop(*second.loop);
  // Listeners are created and destroyed on their loop's thread.
  std::unique_ptr<Listener> first_listener, second_listener;
  std::promise<void> started_first, started_second;
  first.loop->post([&] {
    first_listener =
        std::make_unique<Listener>(*first.loop, std::move(first_socket), first_handler);
    EXPECT_FALSE(first_listener->start());
    started_first.set_value();
  });
  second.loop->post([&] {
    second_listener =
        std::make_unique<Listener>(*second.loop, std::move(second_socket), second_handler);
    EXPECT_FALSE(second_listener->start());
    started_second.set_value();
  });
  started_first.get_future().wait();
  started_second.get_future().wait();

  constexpr std::size_t count = 32;
  std::vector<UniqueFd> clients;
  for (std::size_t i = 0; i < count; ++i) clients.push_back(connect_blocking(address));
  EXPECT_TRUE(
      wait_until([&] { return first_handler.accepted() + second_handler.accepted() == count; }));
  // The kernel hashes each connection to one socket: with 32 clients both get some (the odds
  // of all landing on one are 2^-31).
  EXPECT_GT(first_handler.accepted(), 0u);
  EXPECT_GT(second_handler.accepted(), 0u);
  EXPECT_EQ(first_handler.wrong_thread() + second_handler.wrong_thread(), 0);

  std::promise<void> gone_first, gone_second;
  first.loop->post([&] {
    first_listener.reset();
    gone_first.set_value();
  });
  second.loop->post([&] {
    second_listener.reset();
    gone_second.set_value();
  });
  gone_first.get_future().wait();
  gone_second.get_future().wait();
}

TEST(ListenerTest, DistributorHandsUnixConnectionsRoundRobinToEachLoopThread) {
  test::TempDir dir;
  const SocketAddress address = test::unix_address(dir.file("spread.sock"));
  RunningLoop first, second;
  CollectingHandler first_handler, second_handler;
  first_handler.expect_loop(*first.loop);
  second_handler.expect_loop(*second.loop);
  AcceptDistributor distributor(
      {{first.loop.get(), &first_handler}, {second.loop.get(), &second_handler}});

  auto accepting = make_loop();  // driven by this thread
  Listener listener(*accepting, listening(address), distributor);
  ASSERT_FALSE(listener.start());
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 6; ++i) clients.push_back(connect_blocking(address));
  ASSERT_TRUE(run_until(*accepting,
                        [&] { return first_handler.accepted() + second_handler.accepted() == 6; }));
  EXPECT_EQ(first_handler.accepted(), 3u);
  EXPECT_EQ(second_handler.accepted(), 3u);
  EXPECT_EQ(first_handler.wrong_thread() + second_handler.wrong_thread(), 0);
}

// Runs in a child process (it lowers the descriptor limit): exhausts descriptors, checks that the
// listener pauses instead of spinning, then frees some and checks it accepts again. Exits with
// 0 on success, or prints what went wrong and exits with 1.
[[noreturn]] void exhaust_descriptors_then_recover() {
  auto fail = [](const char* what) {
    std::fprintf(stderr, "%s\n", what);
    std::_Exit(1);
  };
  std::error_code error;
  auto loop = EventLoop::create(error, {.timer_tick = 10ms});
  if (!loop) fail("no loop");
  CollectingHandler handler;
  Listener listener(*loop, listening(address_of("127.0.0.1", 0)), handler, {.retry_delay = 50ms});
  if (listener.start()) fail("start failed");
  const SocketAddress address = bound_address(listener.fd());
  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));  // made while fds remain

  // Use up every descriptor under a low limit.
  const rlimit low{256, 256};
  if (::setrlimit(RLIMIT_NOFILE, &low) != 0) fail("setrlimit failed");
  std::vector<UniqueFd> fillers;
  for (;;) {
    UniqueFd filler(::dup(STDIN_FILENO));
    if (!filler) break;
    fillers.push_back(std::move(filler));
  }
  if (errno != EMFILE || fillers.size() < 10) fail("could not exhaust descriptors");
  // The handshake completes in the kernel backlog; the listener is told, accept4 hits EMFILE.
  if (::connect(client.get(), address.get(), address.size()) != 0) fail("connect failed");

  rusage before{}, after{};
  ::getrusage(RUSAGE_SELF, &before);
  const auto until = std::chrono::steady_clock::now() + 500ms;
  while (std::chrono::steady_clock::now() < until) loop->run_once(20ms);
  ::getrusage(RUSAGE_SELF, &after);
  const auto cpu_us = [](const rusage& usage) {
    return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1'000'000L + usage.ru_utime.tv_usec +
           usage.ru_stime.tv_usec;
  };
  const long busy_us = cpu_us(after) - cpu_us(before);
  const auto errors = handler.errors();

  if (handler.accepted() != 0) fail("accepted without a free descriptor");
  if (errors.empty()) fail("EMFILE was not reported");
  for (const auto& reported : errors) {
    if (reported != std::errc::too_many_files_open) fail("unexpected accept error");
  }
  // 500 ms at one retry per 50 ms: about 10 attempts. A spinning listener makes thousands.
  if (errors.size() > 20) fail("listener retried in a busy loop");
  if (busy_us > 200'000) fail("listener burned CPU while out of descriptors");
  if (!listener.paused()) fail("listener not paused");

  fillers.resize(fillers.size() - 8);  // descriptors come back
  if (!run_until(*loop, [&] { return handler.accepted() == 1; })) fail("no accept after recovery");
  std::_Exit(0);
}

// Present when built with -fsanitize=vptr (part of "undefined"). Weak: null otherwise.
extern "C" [[gnu::weak]] void __ubsan_handle_dynamic_type_cache_miss(void*, void*, void*);
extern "C" [[gnu::weak]] void __ubsan_handle_dynamic_type_cache_miss_abort(void*, void*, void*);

TEST(ListenerDeathTest, OutOfDescriptorsPausesWithoutSpinningAndRecovers) {
  if (&__ubsan_handle_dynamic_type_cache_miss != nullptr ||
      &__ubsan_handle_dynamic_type_cache_miss_abort != nullptr) {
    // UBSan checks a virtual call by reading the vtable through a pipe, which it cannot open
    // when no descriptor is left, and then reports a false "invalid vptr".
    GTEST_SKIP() << "the UBSan vptr check needs free descriptors";
  }
  // Re-run the test binary for the child instead of forking this (possibly threaded) process.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(exhaust_descriptors_then_recover(), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace fastws::net
