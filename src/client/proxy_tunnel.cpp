#include "client/proxy_tunnel.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <utility>

namespace fastws::detail {

ProxyTunnel::~ProxyTunnel() {
  cancel();
}

void ProxyTunnel::open(net::UniqueFd socket, const ProxyUrl& proxy, std::string_view host,
                       std::uint16_t port, std::chrono::milliseconds timeout,
                       std::size_t max_answer_size, Done done) {
  cancel();
  socket_ = std::move(socket);
  handshake_.emplace(proxy, host, port, max_answer_size);
  timeout_ = timeout;
  done_ = std::move(done);
  // From the loop, never inline: the caller may not be ready for `done` before open() returns.
  loop_.defer_flush(*this);
}

void ProxyTunnel::cancel() noexcept {
  if (registered_) loop_.remove(socket_.get(), *this);
  registered_ = false;
  socket_.reset();
  loop_.cancel_flush(*this);
  loop_.cancel_timer(*this);
  handshake_.reset();
  done_ = nullptr;
}

void ProxyTunnel::on_flush() {
  // Edge-triggered: an answer that is not complete yet stays in the socket (peeked, not read),
  // so level-triggered readiness would report it again and again until the rest comes.
  if (const std::error_code error =
          loop_.add(socket_.get(), EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, *this)) {
    finish("cannot register the socket: " + error.message());
    return;
  }
  registered_ = true;
  if (timeout_.count() > 0) loop_.arm_timer(*this, timeout_);
  advance(false);
}

void ProxyTunnel::on_io(std::uint32_t events) {
  advance((events & (EPOLLRDHUP | EPOLLHUP)) != 0);
}

void ProxyTunnel::on_timer() {
  finish("no answer within " + std::to_string(timeout_.count()) + " ms");
}

void ProxyTunnel::advance(bool peer_closed) {
  while (true) {
    if (!write_output()) return;
    if (handshake_->state() == ProxyHandshake::State::done) {
      finish({});
      return;
    }
    if (!handshake_->output().empty()) return;  // the rest when the socket has room
    const std::span<std::byte> buffer = loop_.read_buffer();
    const std::size_t most = std::min(buffer.size(), handshake_->max_answer_size());
    const ssize_t peeked = ::recv(socket_.get(), buffer.data(), most, MSG_PEEK | MSG_DONTWAIT);
    if (peeked < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // the answer's next bytes wake us
      finish("connection lost: " + std::system_category().message(errno));
      return;
    }
    if (peeked == 0) {
      finish("closed the connection before answering");
      return;
    }
    const std::size_t used = handshake_->read(
        {reinterpret_cast<const char*>(buffer.data()), static_cast<std::size_t>(peeked)});
    if (handshake_->state() == ProxyHandshake::State::failed) {
      finish(handshake_->error());
      return;
    }
    if (used == 0) {
      if (peer_closed) finish("closed the connection in the middle of its answer");
      return;  // more of the answer wakes us
    }
    // Takes exactly the answer's bytes, which are in the socket already: this cannot block.
    const ssize_t taken = ::recv(socket_.get(), buffer.data(), used, MSG_DONTWAIT);
    if (taken != static_cast<ssize_t>(used)) {
      finish("connection lost while reading the answer");
      return;
    }
  }
}

bool ProxyTunnel::write_output() {
  while (!handshake_->output().empty()) {
    const std::string_view output = handshake_->output();
    const ssize_t written =
        ::send(socket_.get(), output.data(), output.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (written >= 0) {
      handshake_->sent(static_cast<std::size_t>(written));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;  // EPOLLOUT wakes us
    finish("connection lost: " + std::system_category().message(errno));
    return false;
  }
  return true;
}

void ProxyTunnel::finish(std::string error) {
  if (registered_) loop_.remove(socket_.get(), *this);
  registered_ = false;
  loop_.cancel_timer(*this);
  loop_.cancel_flush(*this);
  Result result;
  if (error.empty()) {
    result.socket = std::move(socket_);
  } else {
    socket_.reset();
    result.error = std::move(error);
  }
  handshake_.reset();
  Done done = std::exchange(done_, nullptr);
  if (done) done(std::move(result));
}

}  // namespace fastws::detail
