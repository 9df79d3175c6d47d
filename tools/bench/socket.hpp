// Non-blocking TCP client sockets for the benchmark, and the file-descriptor limit they need.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace fastws::bench {

inline std::string errno_text(const std::string& what, int error_number = errno) {
  return what + ": " + std::strerror(error_number);
}

// Owns one file descriptor; closing on destruction keeps error paths from leaking thousands of
// sockets in the idle test.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// The benchmark only talks to a local server by address, so no name resolution.
inline bool parse_ipv4_endpoint(const std::string& host, std::uint16_t port, sockaddr_in& out,
                                std::string& error) {
  out = {};
  out.sin_family = AF_INET;
  out.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &out.sin_addr) != 1) {
    error = "--host expects an IPv4 address such as 127.0.0.1, got '" + host + "'";
    return false;
  }
  return true;
}

// Starts a non-blocking connect; completion is signalled by EPOLLOUT and read with SO_ERROR.
// TCP_NODELAY: a ping-pong message must leave at once, not wait for Nagle's timer.
inline Fd start_connect(const sockaddr_in& address, std::string& error) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    error = errno_text("socket");
    return {};
  }
  const int on = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 &&
      errno != EINPROGRESS) {
    error = errno_text("connect");
    return {};
  }
  return fd;
}

// The result of a non-blocking connect once the socket reported writable: 0 or an errno value.
inline int connect_result(int fd) {
  int result = 0;
  socklen_t size = sizeof result;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &result, &size) != 0) return errno;
  return result;
}

// Raises the soft RLIMIT_NOFILE to at least `needed`; only the hard limit needs privileges.
inline bool raise_fd_limit(rlim_t needed, std::string& error) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    error = errno_text("getrlimit(RLIMIT_NOFILE)");
    return false;
  }
  if (limit.rlim_cur >= needed) return true;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed) {
    error = "need " + std::to_string(needed) + " file descriptors but the hard limit is " +
            std::to_string(limit.rlim_max) +
            "; raise it (ulimit -Hn, /etc/security/limits.conf) or use fewer --connections";
    return false;
  }
  limit.rlim_cur = needed;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    error = errno_text("setrlimit(RLIMIT_NOFILE)");
    return false;
  }
  return true;
}

// Whether the kernel still has the connection ESTABLISHED (tcp(7), TCP_INFO). Unlike a peek for
// the end of the stream, this also sees a close behind data the client has not read yet.
inline bool is_established(int fd) {
  tcp_info info{};
  socklen_t size = sizeof info;
  return ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) == 0 &&
         info.tcpi_state == TCP_ESTABLISHED;
}

// Connections the server closed (or reset).
inline std::size_t count_closed(const std::vector<Fd>& fds) {
  std::size_t closed = 0;
  for (const Fd& fd : fds) {
    if (!is_established(fd.get())) ++closed;
  }
  return closed;
}

}  // namespace fastws::bench
