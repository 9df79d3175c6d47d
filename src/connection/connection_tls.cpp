// The transport of a connection: plain socket I/O, or TLS over the socket (wss). TLS state lives
// in Extras, so a plain connection pays one pointer test per read and write.
#include <sys/epoll.h>

#include "connection/connection.hpp"
#include "connection/connection_parts.hpp"
#include "net/tls_stream.hpp"

namespace fastws::detail {

void Connection::start(std::unique_ptr<net::TlsStream> established,
                       std::span<const std::byte> initial) {
  extras().tls = std::move(established);
  start(nullptr, initial);
}

net::IoResult Connection::read_input(std::span<std::byte> buffer) {
  net::TlsStream* secure = tls();
  if (secure == nullptr) [[likely]] {
    if (loop_receives_) return {net::IoStatus::would_block};  // bytes come with on_received()
    if (fd_) [[likely]]
      return net::read_some(fd_.get(), buffer);
    return read_transport(buffer);
  }
  net::IoResult result = secure->read(buffer);
  update_write_interest();
  return result;
}

net::IoResult Connection::write_output(std::span<const iovec> buffers) {
  net::TlsStream* secure = tls();
  if (secure == nullptr) [[likely]] {
    if (loop_receives_) return loop_->loop().send_stream(fd_.get(), buffers);  // batched
    if (!fd_) [[unlikely]]
      return write_transport(buffers);
    // One buffer (a corked batch, the usual case) goes by send(), without an iovec array.
    if (buffers.size() == 1) {
      return net::write_some(
          fd_.get(), {static_cast<const std::byte*>(buffers[0].iov_base), buffers[0].iov_len});
    }
    return net::write_vectored(fd_.get(), buffers);
  }
  return secure->write(buffers);
}

bool Connection::advance_tls_handshake() {
  std::string error;
  const net::TlsStream::Handshake step = extras_->tls->handshake(error);
  if (step == net::TlsStream::Handshake::failed) {
    fail_opening("TLS handshake failed: " + error);
    return false;
  }
  update_write_interest();
  if (step != net::TlsStream::Handshake::done) return false;
  loop_->endpoint().opening_ready(*this);
  return phase_ != Phase::closed;
}

void Connection::update_write_interest() {
  set_interest(reading_paused_ && input_waits_for_output());
}

void Connection::set_interest(bool paused) {
  // The common case first: no Extras (so no backlog, no TLS, no held input), and the
  // registration already says so.
  if (!extras_ && !write_interest_ && !receiving_held_ && paused == reading_paused_) {
    return;
  }
  const net::TlsStream* secure = tls();
  const bool write = backlog_size() > 0 || (secure != nullptr && secure->needs_writable());
  // A loop that receives for the socket would go on receiving while input waits here: it stops
  // until that input is used (epoll only reports the socket, and it is not read meanwhile).
  const bool held = loop_receives_ && (input_waiting() || input_taken_);
  if ((write == write_interest_ && paused == reading_paused_ && held == receiving_held_) ||
      phase_ == Phase::closed) {
    return;
  }
  if (Transport* outside = transport()) {
    outside->set_interest(!paused, write);
  } else {
    loop_->loop().modify(
        fd_.get(), (paused || held ? 0u : EPOLLIN | EPOLLRDHUP) | (write ? EPOLLOUT : 0u), *this);
  }
  receiving_held_ = held;
  write_interest_ = write;
  const bool resumed = reading_paused_ && !paused;
  reading_paused_ = paused;
  // Bytes left in the socket are reported again; those held here need a revisit.
  if (resumed && has_unseen_input()) loop_->loop().revisit(extras().revisit);
}

}  // namespace fastws::detail
