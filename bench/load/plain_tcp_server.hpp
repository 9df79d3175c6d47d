// What the plain-TCP baselines (tcp_echo_server, tcp_broadcast_server) share: the listening
// socket, accepting, epoll registration and the command line. Standalone on purpose (no fastws):
// the baselines measure what a server costs without any library.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace plain_tcp {

// A non-blocking listening socket on 127.0.0.1:port; exits the program when it cannot listen.
inline int listen_on_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd, SOMAXCONN) != 0) {
    std::perror("listen");
    std::exit(1);
  }
  return fd;
}

// The next pending connection, non-blocking and with Nagle off (as every WebSocket server in
// the benchmarks sets it); -1 when none is pending (or out of descriptors: a benchmark does not
// go there).
inline int accept_connection(int listen_fd) {
  const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return -1;
  const int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  return fd;
}

inline void watch(int epoll_fd, int fd, std::uint32_t events, int operation) {
  epoll_event event{};
  event.events = events;
  event.data.fd = fd;
  ::epoll_ctl(epoll_fd, operation, fd, &event);
}

// Waits on `epoll_fd` forever and hands each ready descriptor with its events to `on_ready`.
template <class OnReady>
[[noreturn]] void serve_forever(int epoll_fd, OnReady&& on_ready) {
  epoll_event events[1024];
  for (;;) {
    const int ready = ::epoll_wait(epoll_fd, events, 1024, -1);
    for (int i = 0; i < ready; ++i) on_ready(events[i].data.fd, events[i].events);
  }
}

// `--port N` (default 9001); prints the usage and exits on a port out of range.
inline std::uint16_t port_from_arguments(int argc, char** argv) {
  int port = 9001;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0) port = std::atoi(argv[++i]);
  }
  if (port <= 0 || port > 65535) {
    std::fprintf(stderr, "usage: %s [--port N]\n", argv[0]);
    std::exit(2);
  }
  return static_cast<std::uint16_t>(port);
}

// The line the benchmark scripts wait for before they connect.
inline void announce_listening(std::uint16_t port) {
  std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(port));
  std::fflush(stdout);
}

}  // namespace plain_tcp
