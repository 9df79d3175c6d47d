// How event loops wait for and do their I/O (ServerOptions::backend, ClientOptions::backend).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace fastws {

// How a server's or a client's event loops wait for and do their I/O.
enum class IoBackend : std::uint8_t {
  // The FASTWS_IO_BACKEND environment variable ("epoll" or "io_uring") when it is set, else
  // epoll. It lets a whole test suite or a deployment switch backends without a rebuild.
  automatic,
  // epoll readiness, then read() and send() per socket: works on every Linux.
  epoll,
  // io_uring (Linux 6.0 or later): plain sockets receive into the loop's provided buffers with a
  // multishot receive, so a read costs no system call; their writes are copied into a send buffer
  // of the loop's and leave as one send request per socket; listeners accept with a multishot
  // accept; one io_uring_enter per loop iteration submits all that and waits. TLS sockets and the
  // rest are polled through the same ring. Where
  // the kernel refuses io_uring (too old, kernel.io_uring_disabled, a seccomp filter) the loops
  // use epoll instead: Server::io_backend() and Client::io_backend() say which one runs. Loops
  // driven by the application's own event loop (ExternalLoop) always use epoll, whose fd an
  // outside loop can wait on. Only the threads that run the loops enter their rings: the kernel
  // interrupts a thread that entered a ring when the ring goes, and a blocking call with a
  // timeout of that thread (a recv() under SO_RCVTIMEO, a blocking OpenSSL handshake) then fails
  // with EINTR. A thread that runs a loop itself (Server::run()) is one of them.
  io_uring,
};

// "epoll", "io_uring" or "automatic": for command lines (--backend) and logs.
constexpr std::string_view name_of(IoBackend backend) noexcept {
  switch (backend) {
    case IoBackend::epoll:
      return "epoll";
    case IoBackend::io_uring:
      return "io_uring";
    case IoBackend::automatic:
      break;
  }
  return "automatic";
}

// The backend a name_of() string names; nothing for any other string.
constexpr std::optional<IoBackend> io_backend_named(std::string_view name) noexcept {
  for (IoBackend backend : {IoBackend::automatic, IoBackend::epoll, IoBackend::io_uring}) {
    if (name == name_of(backend)) return backend;
  }
  return std::nullopt;
}

}  // namespace fastws
