#include "net/listener.hpp"

#include <sys/epoll.h>

#include <cerrno>
#include <utility>

#include "net/socket.hpp"

namespace fastws::net {

namespace {

// accept() reports errors of the connection being accepted, not of the listener: the peer reset
// before we got to it, or (Linux passes them through) a network error on that connection.
bool concerns_only_that_connection(const std::error_code& error) noexcept {
  if (error.category() != std::system_category()) return false;
  switch (error.value()) {
    case ECONNABORTED:
    case EPROTO:
    case EPERM:  // a firewall rule refused it
    case ENETDOWN:
    case ENETUNREACH:
    case EHOSTDOWN:
    case EHOSTUNREACH:
    case ENONET:
    case ENOPROTOOPT:
    case ETIMEDOUT:
      return true;
    default:
      return false;
  }
}

}  // namespace

void AcceptHandler::on_accept_error(std::error_code /*error*/) {}

Listener::Listener(EventLoop& loop, UniqueFd socket, AcceptHandler& handler,
                   const ListenerOptions& options)
    : loop_(loop), socket_(std::move(socket)), handler_(handler), options_(options) {}

Listener::~Listener() {
  stop();
}

std::error_code Listener::start() {
  if (registered_) return {};
  if (auto error = loop_.add_listener(socket_.get(), EPOLLIN, *this)) return error;
  registered_ = true;
  return {};
}

void Listener::stop() {
  loop_.cancel_timer(*this);
  paused_ = false;
  if (registered_) {
    loop_.remove(socket_.get(), *this);
    registered_ = false;
  }
}

void Listener::on_io(std::uint32_t /*events*/) {
  // The handler may stop() the listener from on_accept().
  for (std::size_t i = 0; i < options_.accepts_per_event && registered_ && !paused_; ++i) {
    if (!accept_one()) return;
  }
}

bool Listener::accept_one() {
  UniqueFd connection;
  SocketAddress peer;
  for (;;) {
    const std::error_code error = accept_connection(socket_.get(), connection, &peer);
    if (!error) break;
    if (error == std::errc::operation_would_block) return false;
    if (concerns_only_that_connection(error)) continue;
    pause(error);
    return false;
  }
  take(std::move(connection), peer);
  return true;
}

void Listener::on_accepted(UniqueFd connection) {
  SocketAddress peer;
  // The multishot accept cannot give each connection its address: ask. A connection reset in
  // between has none, and is dropped as accept() would have skipped it.
  if (remote_address(connection.get(), peer)) return;
  take(std::move(connection), peer);
}

void Listener::on_accept_failed(std::error_code error) {
  if (!concerns_only_that_connection(error)) pause(error);
}

void Listener::take(UniqueFd connection, const SocketAddress& peer) {
  if (options_.tcp_nodelay && (peer.family() == AF_INET || peer.family() == AF_INET6)) {
    // A failure leaves a working connection with Nagle on: not worth dropping it for.
    set_tcp_nodelay(connection.get());
  }
  handler_.on_accept(std::move(connection), peer);
}

void Listener::pause(std::error_code error) {
  // Watch nothing (the registration stays, so resuming is one epoll_ctl) until the timer.
  paused_ = true;
  loop_.modify(socket_.get(), 0, *this);
  loop_.arm_timer(*this, options_.retry_delay);
  handler_.on_accept_error(error);
}

void Listener::on_timer() {
  if (!paused_ || !registered_) return;
  paused_ = false;
  // Level-triggered: connections that waited in the backlog are reported at once.
  loop_.modify(socket_.get(), EPOLLIN, *this);
}

}  // namespace fastws::net
