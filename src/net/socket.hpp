// Creating and configuring sockets: listening (TCP over IPv4/IPv6, Unix paths), accepting,
// adopting a socket someone else opened, and connecting without blocking.
//
// Every socket made here is non-blocking and close-on-exec. Errors come back as std::error_code
// (system_category, errno values); nothing throws.
#pragma once

#include <sys/socket.h>

#include <system_error>

#include "net/socket_address.hpp"
#include "net/unique_fd.hpp"

namespace fastws::net {

struct ListenOptions {
  // The kernel caps it at net.core.somaxconn.
  int backlog = SOMAXCONN;
  // TCP: bind again at once after a restart while old connections sit in TIME_WAIT.
  bool reuse_address = true;
  // TCP: several sockets on one port (one listener per loop); the kernel spreads connections.
  bool reuse_port = false;
  // IPv6: accept only IPv6 (no IPv4-mapped peers). Set explicitly either way, so the result does
  // not depend on the net.ipv6.bindv6only sysctl.
  bool v6_only = false;
  // Unix: remove a socket file left behind by a dead process. A path someone still listens on,
  // or a file that is not a socket, is never removed (listen_on then reports EADDRINUSE).
  bool unlink_stale_path = true;
};

// A listening socket on `address` (AF_INET, AF_INET6 or AF_UNIX).
std::error_code listen_on(const SocketAddress& address, const ListenOptions& options,
                          UniqueFd& out);

// Takes one pending connection (non-blocking, close-on-exec); `peer` may be null. No connection
// waiting: std::errc::operation_would_block. EINTR is retried.
std::error_code accept_connection(int listen_fd, UniqueFd& out, SocketAddress* peer);

// What adopt_socket() found out about a socket.
struct SocketInfo {
  int family = AF_UNSPEC;  // AF_INET, AF_INET6, AF_UNIX
  bool listening = false;  // a listening socket (e.g. from systemd) rather than a connection
};
// Prepares a socket opened elsewhere (inherited, from systemd, from another library) for an
// event loop: non-blocking and close-on-exec. ENOTSOCK when `fd` is not a socket. The caller
// keeps ownership.
std::error_code adopt_socket(int fd, SocketInfo& info);

// Disables Nagle's algorithm: small frames leave at once instead of waiting for an ACK.
std::error_code set_tcp_nodelay(int fd, bool enabled = true);

// Bytes written to the socket that the peer has not acknowledged yet (SIOCOUTQ); 0 if unknown.
std::size_t unacknowledged_bytes(int fd) noexcept;

// Starts connecting to `address`. On success `in_progress` tells whether the connection is
// still being set up: then wait for EPOLLOUT and ask connect_result().
std::error_code connect_nonblocking(const SocketAddress& address, UniqueFd& out, bool& in_progress);
// The outcome of a connection that was in progress (SO_ERROR): empty when it is established.
std::error_code connect_result(int fd);

}  // namespace fastws::net
