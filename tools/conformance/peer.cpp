#include "conformance/peer.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "net/socket_io.hpp"
#include "net/tls_context.hpp"
#include "net/tls_stream.hpp"
#include "protocol/mask_key.hpp"

namespace fastws::conformance {

Peer::Peer(int fd, PeerRole role) noexcept : fd_(fd), role_(role) {
  const int on = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
}

Peer::~Peer() {
  drop();
}

bool Peer::secure(const net::TlsContext& context, const std::string& host,
                  std::chrono::milliseconds timeout, std::string& error) {
  std::unique_ptr<net::TlsStream> tls = role_ == PeerRole::client
                                            ? net::TlsStream::connect(context, fd_, host, error)
                                            : net::TlsStream::accept(context, fd_);
  if (!tls) {
    if (error.empty()) error = "OpenSSL could not make a TLS session";
    return false;
  }
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    switch (tls->handshake(error)) {
      case net::TlsStream::Handshake::done:
        tls_ = std::move(tls);
        return true;
      case net::TlsStream::Handshake::failed:
        error = "TLS handshake failed: " + (error.empty() ? std::string("no reason given") : error);
        return false;
      case net::TlsStream::Handshake::in_progress:
        break;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd ready{fd_, static_cast<short>(tls->needs_writable() ? POLLOUT : POLLIN), 0};
    if (left.count() <= 0 || ::poll(&ready, 1, static_cast<int>(left.count())) == 0) {
      error = "no TLS handshake within " + std::to_string(timeout.count()) + " ms";
      return false;
    }
  }
}

std::optional<MaskKey> Peer::next_mask() const {
  if (role_ == PeerRole::server) return std::nullopt;
  return protocol::random_mask_key();
}

void Peer::queue(std::string bytes, bool alone, std::chrono::microseconds pause) {
  if (bytes.empty()) return;
  if (!alone && !output_.empty() && !output_.back().alone) {
    output_.back().bytes.append(bytes);
    return;
  }
  output_.push_back({std::move(bytes), 0, alone, pause});
}

Peer::Io Peer::flush() {
  while (fd_ >= 0 && !output_.empty()) {
    Piece& piece = output_.front();
    if (piece.alone && Clock::now() < next_write_) return Io::ok;
    const iovec rest{piece.bytes.data() + piece.sent, piece.bytes.size() - piece.sent};
    const net::IoResult wrote =
        tls_ ? tls_->write({&rest, 1}) : net::write_vectored(fd_, {&rest, 1});
    if (wrote.status == net::IoStatus::failed) return Io::closed;
    piece.sent += wrote.bytes;
    if (piece.sent < piece.bytes.size()) return Io::ok;  // the socket is full
    const auto pause = piece.alone ? piece.pause : std::chrono::microseconds(0);
    output_.pop_front();
    next_write_ = Clock::now() + pause;
  }
  return Io::ok;
}

Peer::Io Peer::read_available() {
  if (fd_ < 0) return Io::closed;
  // Bounded, so that a peer sending without pause cannot keep the timers from running.
  for (int reads = 0; reads < 64; ++reads) {
    std::byte buffer[64 * 1024];
    const net::IoResult read = tls_ ? tls_->read(buffer) : net::read_some(fd_, buffer);
    input_.append(reinterpret_cast<const char*>(buffer), read.bytes);
    switch (read.status) {
      case net::IoStatus::done:
        if (read.bytes == 0) return Io::ok;
        continue;
      case net::IoStatus::would_block:
        return Io::ok;
      case net::IoStatus::end_of_file:
      case net::IoStatus::failed:
        return Io::closed;
    }
  }
  return Io::ok;
}

short Peer::wait(short events, std::chrono::nanoseconds timeout) {
  if ((events & POLLIN) != 0 && tls_ && tls_->has_buffered_input()) return POLLIN;
  // A TLS read that stopped to write (OpenSSL answering the peer) goes on once it can.
  const bool read_needs_writable = (events & POLLIN) != 0 && tls_ && tls_->needs_writable();
  if (read_needs_writable) events |= POLLOUT;
  const auto wait = std::max(timeout, std::chrono::nanoseconds::zero());
  const timespec limit{static_cast<time_t>(wait.count() / 1'000'000'000),
                       static_cast<long>(wait.count() % 1'000'000'000)};
  pollfd ready{fd_, events, 0};
  const int result = ::ppoll(&ready, 1, &limit, nullptr);
  if (result < 0) return errno == EINTR ? 0 : POLLERR;
  if (read_needs_writable && (ready.revents & POLLOUT) != 0) ready.revents |= POLLIN;
  return ready.revents;
}

void Peer::consume_input(std::size_t size) {
  input_at_ += size;
  if (input_at_ == input_.size()) {
    input_.clear();
    input_at_ = 0;
  } else if (input_at_ > (1u << 20) && input_at_ * 2 > input_.size()) {
    input_.erase(0, input_at_);
    input_at_ = 0;
  }
}

void Peer::reserve_input(std::size_t total) {
  if (input_at_ > 0) {
    input_.erase(0, input_at_);
    input_at_ = 0;
  }
  input_.reserve(total);
}

void Peer::drop() noexcept {
  if (fd_ < 0) return;
  if (tls_) {
    tls_->close_notify();
    tls_.reset();
  }
  ::close(fd_);
  fd_ = -1;
  output_.clear();
}

int connect_tcp(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout,
                std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int status = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
      status != 0) {
    error = "cannot resolve " + host + ": " + ::gai_strerror(status);
    return -1;
  }
  int fd = -1;
  for (addrinfo* at = found; at != nullptr && fd < 0; at = at->ai_next) {
    fd = ::socket(at->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    if (::connect(fd, at->ai_addr, at->ai_addrlen) != 0 && errno != EINPROGRESS) {
      error = std::string("connect: ") + std::strerror(errno);
      ::close(fd);
      fd = -1;
      continue;
    }
    pollfd ready{fd, POLLOUT, 0};
    int result = 0;
    socklen_t size = sizeof result;
    if (::poll(&ready, 1, static_cast<int>(timeout.count())) != 1 ||
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &result, &size) != 0 || result != 0) {
      error = result != 0 ? std::string("connect: ") + std::strerror(result)
                          : std::string("connect timed out");
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  return fd;
}

}  // namespace fastws::conformance
