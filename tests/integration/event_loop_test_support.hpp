// What the event-loop tests share: a loop made with given options, and a connected pair of Unix
// stream sockets, one side registered with the loop and the other played by the test.
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <memory>
#include <system_error>

#include "net/event_loop.hpp"
#include "net/unique_fd.hpp"

namespace fastws::net {

inline std::unique_ptr<EventLoop> make_loop(const EventLoopOptions& options = {}) {
  std::error_code error;
  auto loop = EventLoop::create(error, options);
  EXPECT_FALSE(error) << error.message();
  return loop;
}

struct SocketPair {
  UniqueFd loop_side;
  UniqueFd peer_side;
};

// `flags`: SOCK_NONBLOCK for sockets the test reads without waiting.
inline SocketPair make_socket_pair(int flags = 0) {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

}  // namespace fastws::net
