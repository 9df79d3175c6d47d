// The application's threads stay out of a loop's io_uring. The kernel ties every thread that
// creates a ring, or submits to it, to that ring until the thread ends; when the ring goes it
// interrupts each tied thread (task work with TWA_SIGNAL), and a system call with a timeout that
// the thread is blocked in fails with EINTR: a recv() under SO_RCVTIMEO, so OpenSSL's blocking
// handshake, which takes that EINTR for a failure. The application's thread makes the loops of its
// servers and clients, runs what a stopped loop left when it destroys them, and goes on with its
// own work: none of that may tie it. (Seen as test peers' TLS handshakes failing now and then
// when a whole test binary ran on io_uring, right after the previous test's server went.)
//
// Each test blocks this thread in a recv() that times out after a second, while another thread
// destroys the loop: EAGAIN when nothing interrupted it, EINTR when the ring's end did.
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include "event_loop_test_support.hpp"
#include "server_test_support.hpp"

namespace fastws::net {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<EventLoop> make_uring_loop() {
  return make_loop({.backend = IoBackend::io_uring});
}

// The errno of a recv() with a timeout of a second on a socket that gets nothing, while
// `meanwhile` runs on another thread once the recv() is blocked.
int recv_errno_while(const std::function<void()>& meanwhile) {
  SocketPair quiet = make_socket_pair();
  const timeval limit{1, 0};
  ::setsockopt(quiet.loop_side.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  std::thread other([&] {
    std::this_thread::sleep_for(200ms);
    meanwhile();
  });
  char byte = 0;
  const int error = ::recv(quiet.loop_side.get(), &byte, 1, 0) < 0 ? errno : 0;
  other.join();
  return error;
}

class Ignoring final : public IoHandler {
 public:
  void on_io(std::uint32_t /*events*/) override {}
};

// This thread made the loop; another ran it and destroys it.
TEST(UringThread, TheThreadThatMadeALoopIsNotInterruptedWhenItsRingGoes) {
  std::unique_ptr<EventLoop> loop = make_uring_loop();
  if (loop->backend() != IoBackend::io_uring) GTEST_SKIP() << "this kernel refuses io_uring";
  const int error = recv_errno_while([&] {
    loop->post([] {});
    loop->run_once(0ms);
    loop.reset();
  });
  EXPECT_EQ(error, EAGAIN) << std::strerror(error);
}

// A loop ran on a thread that ended (as a server's does); this thread then runs what it left,
// which removes a registration, as the last tasks of a destroyed server's loop do.
TEST(UringThread, WhatAStoppedLoopLeftRunsWithoutTyingTheThreadThatRunsIt) {
  std::unique_ptr<EventLoop> loop = make_uring_loop();
  if (loop->backend() != IoBackend::io_uring) GTEST_SKIP() << "this kernel refuses io_uring";
  SocketPair watched = make_socket_pair();
  Ignoring handler;
  std::thread([&] {
    ASSERT_FALSE(loop->add(watched.loop_side.get(), EPOLLIN, handler));
    loop->post([] {});
    // Its last iteration arms the wakeup's poll again: a request for an iteration that never
    // comes.
    loop->run_once(0ms);
  }).join();
  bool ran = false;
  loop->post([&] {
    loop->remove(watched.loop_side.get(), handler);
    ran = true;
  });
  loop->run_leftovers();
  EXPECT_TRUE(ran);
  const int error = recv_errno_while([&] { loop.reset(); });
  EXPECT_EQ(error, EAGAIN) << std::strerror(error);
}

// The same for a Server this thread made, which served a connection on its own thread and is
// destroyed by another.
TEST(UringThread, TheThreadThatMadeAServerIsNotInterruptedWhenItGoes) {
  ServerOptions options = testing::TestServer::default_options();
  options.backend = IoBackend::io_uring;
  std::optional<testing::TestServer> server(std::in_place, options);
  if (server->server().io_backend() != IoBackend::io_uring) {
    GTEST_SKIP() << "this kernel refuses io_uring";
  }
  server->server().on_message(
      [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
  server->start();
  {
    testing::RawPeer peer(server->port());
    ASSERT_EQ(testing::status_of(peer.handshake()), 101);
    peer.send_text("echo");
    auto echo = peer.read_frame();
    ASSERT_TRUE(echo);
    EXPECT_EQ(echo->payload_text(), "echo");
  }
  const int error = recv_errno_while([&] { server.reset(); });
  EXPECT_EQ(error, EAGAIN) << std::strerror(error);
}

}  // namespace
}  // namespace fastws::net
