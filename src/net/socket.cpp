#include "net/socket.hpp"

#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace fastws::net {

namespace {

std::error_code last_error() noexcept {
  return {errno, std::system_category()};
}

std::error_code set_option(int fd, int level, int name, int value) {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) return last_error();
  return {};
}

std::error_code new_socket(int family, UniqueFd& out) {
  out.reset(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  return out ? std::error_code{} : last_error();
}

// A leftover socket file refuses connections; a live one accepts them. Only the first kind is
// removed, so starting a second server on the same path cannot steal it from the first.
void unlink_if_stale(const SocketAddress& address) {
  const std::string path = address.unix_path();
  struct stat status {};
  if (path.empty() || ::lstat(path.c_str(), &status) != 0 || !S_ISSOCK(status.st_mode)) return;
  UniqueFd probe;
  if (new_socket(AF_UNIX, probe)) return;
  // A non-blocking connect to a Unix socket completes or fails at once (or EAGAIN when the
  // listener's backlog is full, which still means it is alive).
  if (::connect(probe.get(), address.get(), address.size()) != 0 && errno == ECONNREFUSED) {
    ::unlink(path.c_str());
  }
}

std::error_code set_options(int fd, int family, const ListenOptions& options) {
  std::error_code error;
  if (family == AF_INET || family == AF_INET6) {
    if (options.reuse_address) error = set_option(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (!error && options.reuse_port) error = set_option(fd, SOL_SOCKET, SO_REUSEPORT, 1);
  }
  if (!error && family == AF_INET6) {
    error = set_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, options.v6_only ? 1 : 0);
  }
  return error;
}

}  // namespace

std::error_code listen_on(const SocketAddress& address, const ListenOptions& options,
                          UniqueFd& out) {
  const int family = address.family();
  if (family != AF_INET && family != AF_INET6 && family != AF_UNIX) {
    return std::make_error_code(std::errc::address_family_not_supported);
  }
  UniqueFd socket;
  if (auto error = new_socket(family, socket)) return error;
  if (auto error = set_options(socket.get(), family, options)) return error;
  if (family == AF_UNIX && options.unlink_stale_path) unlink_if_stale(address);
  if (::bind(socket.get(), address.get(), address.size()) != 0) return last_error();
  if (::listen(socket.get(), options.backlog) != 0) return last_error();
  out = std::move(socket);
  return {};
}

std::error_code accept_connection(int listen_fd, UniqueFd& out, SocketAddress* peer) {
  for (;;) {
    socklen_t size = SocketAddress::capacity();
    const int fd = ::accept4(listen_fd, peer != nullptr ? peer->storage() : nullptr,
                             peer != nullptr ? &size : nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      if (peer != nullptr) peer->set_size(size);
      out.reset(fd);
      return {};
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return std::make_error_code(std::errc::operation_would_block);
    }
    return last_error();
  }
}

std::error_code adopt_socket(int fd, SocketInfo& info) {
  int family = 0;
  socklen_t size = sizeof family;
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &size) != 0) return last_error();
  int listening = 0;
  size = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0) return last_error();

  const int status_flags = ::fcntl(fd, F_GETFL);
  if (status_flags < 0 || ::fcntl(fd, F_SETFL, status_flags | O_NONBLOCK) != 0) {
    return last_error();
  }
  const int fd_flags = ::fcntl(fd, F_GETFD);
  if (fd_flags < 0 || ::fcntl(fd, F_SETFD, fd_flags | FD_CLOEXEC) != 0) return last_error();

  info.family = family;
  info.listening = listening != 0;
  return {};
}

std::error_code set_tcp_nodelay(int fd, bool enabled) {
  return set_option(fd, IPPROTO_TCP, TCP_NODELAY, enabled ? 1 : 0);
}

std::size_t unacknowledged_bytes(int fd) noexcept {
  int queued = 0;
  if (::ioctl(fd, SIOCOUTQ, &queued) != 0 || queued < 0) return 0;
  return static_cast<std::size_t>(queued);
}

std::error_code connect_nonblocking(const SocketAddress& address, UniqueFd& out,
                                    bool& in_progress) {
  UniqueFd socket;
  if (auto error = new_socket(address.family(), socket)) return error;
  in_progress = false;
  if (::connect(socket.get(), address.get(), address.size()) != 0) {
    if (errno != EINPROGRESS) return last_error();
    in_progress = true;
  }
  out = std::move(socket);
  return {};
}

std::error_code connect_result(int fd) {
  int error = 0;
  socklen_t size = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) return last_error();
  return error == 0 ? std::error_code{} : std::error_code{error, std::system_category()};
}

}  // namespace fastws::net
