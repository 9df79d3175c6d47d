// What the hand-over tests share (handover_test.cpp, tls_handover_test.cpp): the host server's
// listening socket, what a host reads before it hands over, and the fastws echo server it hands
// connections to.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "server_test_support.hpp"
#include "test_peer.hpp"

namespace fastws::testing {

// The host: its own blocking listening socket on 127.0.0.1, as a web framework would have.
class HostServer {
 public:
  HostServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), size), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
  }
  ~HostServer() { ::close(fd_); }
  HostServer(const HostServer&) = delete;
  HostServer& operator=(const HostServer&) = delete;

  int fd() const { return fd_; }
  std::uint16_t port() const { return port_; }
  // The next connection (a client already connected, so this does not wait); -1 on failure.
  int accept_one() const {
    pollfd entry{fd_, POLLIN, 0};
    if (::poll(&entry, 1, 2000) != 1) return -1;
    return ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// What the host reads before it decides to hand over: the head, and `extra` bytes after it
// that arrived too (frames the client sent without waiting for the 101).
inline std::string host_reads(int fd, std::size_t extra = 0) {
  std::string bytes;
  while (true) {
    const auto end = bytes.find("\r\n\r\n");
    if (end != std::string::npos && bytes.size() >= end + 4 + extra) return bytes;
    pollfd entry{fd, POLLIN, 0};
    if (::poll(&entry, 1, 2000) != 1) return bytes;
    char buffer[64 * 1024];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return bytes;
    bytes.append(buffer, static_cast<std::size_t>(n));
  }
}

// An echo server that notes what on_open and on_close saw; it answers "close please" by
// closing with 4001 "as you asked".
class EchoServer {
 public:
  EchoServer() : server_(TestServer::default_options()) {
    server_.server().on_message([](const Conn& conn, Message message) {
      if (message.text() == "close please") {
        conn.close(4001, "as you asked");
      } else {
        conn.send(message.data(), message.opcode());
      }
    });
    server_.server().on_open([this](const Conn& conn) {
      opened_.add(std::string(conn.request()->path()) + " from " + conn.remote_address());
    });
    server_.server().on_close(
        [this](const Conn&, const CloseStatus& status) { closed_.add(status); });
    server_.start();
  }
  Server& server() { return server_.server(); }
  const Recorded<std::string>& opened() const { return opened_; }
  const Recorded<CloseStatus>& closed() const { return closed_; }

 private:
  Recorded<std::string> opened_;
  Recorded<CloseStatus> closed_;
  TestServer server_;  // last: stopped before the records go
};

inline std::string local_address_of(int fd) {
  sockaddr_in local{};
  socklen_t size = sizeof local;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &size);
  return "127.0.0.1:" + std::to_string(ntohs(local.sin_port));
}

}  // namespace fastws::testing
