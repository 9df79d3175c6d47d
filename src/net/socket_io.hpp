// One non-blocking read or write on a socket, with the outcomes an event loop acts on.
//
// Each call makes as few system calls as possible: a short write is reported, not retried
// (the socket buffer is full, a retry would only return EAGAIN); EINTR is retried.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>

namespace fastws::net {

enum class IoStatus : std::uint8_t {
  done,         // `bytes` moved (a write may be short: wait for EPOLLOUT for the rest)
  would_block,  // nothing to read / no room to write now
  end_of_file,  // read only: the peer closed its side
  failed,       // `error` says why (ECONNRESET, EPIPE, ...)
};

struct IoResult {
  IoStatus status = IoStatus::done;
  std::size_t bytes = 0;
  // Set when failed. Optional because a std::error_code's constructor is a library call, and
  // every read and write returns an IoResult.
  std::optional<std::error_code> error;
};

// Reads what is there, up to buffer.size() bytes, from a socket (recv: not for pipes or files).
IoResult read_some(int fd, std::span<std::byte> buffer) noexcept;

// Writes what the socket takes of `bytes` with one send() (a short write is reported): the
// common case of one corked batch, without an iovec array. MSG_NOSIGNAL as below.
IoResult write_some(int fd, std::span<const std::byte> bytes) noexcept;

// Writes the buffers in order with as few sendmsg calls as the kernel allows (more than one only
// when there are more than IOV_MAX buffers). Uses MSG_NOSIGNAL: a peer that is gone gives EPIPE
// instead of killing the process with SIGPIPE.
IoResult write_vectored(int fd, std::span<const iovec> buffers) noexcept;

}  // namespace fastws::net
