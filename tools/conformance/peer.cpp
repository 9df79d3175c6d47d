#include "conformance/peer.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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
    const ssize_t n = ::send(fd_, piece.bytes.data() + piece.sent, piece.bytes.size() - piece.sent,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return Io::ok;
      return Io::closed;
    }
    piece.sent += static_cast<std::size_t>(n);
    if (piece.sent < piece.bytes.size()) return Io::ok;
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
    char buffer[64 * 1024];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0) {
      input_.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) return Io::closed;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return Io::ok;
    return Io::closed;
  }
  return Io::ok;
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
