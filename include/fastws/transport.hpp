// Transport: where the bytes of a connection come from and go to when that is not a socket
// fastws reads itself: an Asio stream (fastws::asio::upgrade), a TLS library of your own, a
// test double. The connection does all WebSocket work; the transport only moves bytes.
// Server::handover(std::unique_ptr<Transport>, request) serves one.
//
// Every call, both ways, happens as part of the connection's loop: from fastws, on the loop's
// thread; from the transport, inside ExternalLoop::run() of that loop (or run_ready()), which is
// why a transport belongs to loops driven from outside (external_loop.hpp).
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

namespace fastws {

// The connection's side, given to Transport::start().
class TransportEvents {
 public:
  // Input arrived, or ended (read() tells which): the connection reads it now.
  virtual void readable() = 0;
  // Room for output again, after write() took less than it was offered.
  virtual void writable() = 0;

 protected:
  ~TransportEvents() = default;
};

// What a Transport's read() or write() did.
struct TransportResult {
  // The outcome.
  enum class Status : std::uint8_t {
    done,          // `bytes` moved (a write may take less than offered: writable() follows)
    would_block,   // nothing held to read / no room to write now
    end_of_input,  // read only: the peer ended its side
    failed,        // `error` says why
  };
  Status status = Status::done;  // what happened
  std::size_t bytes = 0;         // bytes moved (done)
  std::error_code error;         // why (failed)
};

// The bytes of one connection, moved by someone other than fastws (see the top of this file).
class Transport {
 public:
  virtual ~Transport() = default;

  // Once, first, on the connection's loop: the connection wants input from now on.
  virtual void start(TransportEvents& events) = 0;
  // Copies up to buffer.size() bytes of held input; would_block when none is held (the
  // transport then fetches more, if the connection wants input, and calls readable()).
  virtual TransportResult read(std::span<std::byte> buffer) = 0;
  // Input held that the connection has not read yet (it comes back for it without readable()).
  virtual bool has_input() const noexcept = 0;
  // Takes what fits of `buffers`, in order, up to the transport's own bound: the rest stays in
  // the connection's backlog, whose limits (max_buffered_bytes, the slow-consumer policy) apply
  // as to a socket whose send buffer is full.
  virtual TransportResult write(std::span<const iovec> buffers) = 0;
  // Bytes write() took that have not left yet.
  virtual std::size_t unsent() const noexcept = 0;
  // What the connection wants to hear about: input (false while it pauses reading behind its
  // output) and room to write.
  virtual void set_interest(bool input, bool output) = 0;
  // After the unsent bytes, end the output (TCP: FIN); input goes on until the peer ends.
  virtual void shutdown_output() = 0;
  // The connection is done: no more calls either way; drop what is unsent and close.
  virtual void close() = 0;
  // The socket under the transport, for Conn::remote_address() and local_address(); -1: none.
  virtual int socket() const noexcept { return -1; }
};

}  // namespace fastws
