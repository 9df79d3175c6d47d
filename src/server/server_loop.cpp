#include "server/server_loop.hpp"

#include <sys/epoll.h>

#include "connection/connection.hpp"
#include "connection/loop_context.hpp"
#include "net/socket.hpp"
#include "server/server_impl.hpp"

namespace fastws::detail {

ServerLoop::~ServerLoop() {
  listeners_.clear();
  if (shutdown_fd_ >= 0) loop().remove(shutdown_fd_, *this);
}

net::EventLoop& ServerLoop::loop() noexcept {
  return context_.loop();
}

void ServerLoop::on_accept(net::UniqueFd socket, const net::SocketAddress& peer) {
  if (context_.shutting_down()) return;
  // max_connections: over the limit the socket is closed at once, before any byte is read.
  if (server_.open_connections.fetch_add(1, std::memory_order_relaxed) >=
      server_.options.max_connections) {
    server_.open_connections.fetch_sub(1, std::memory_order_relaxed);
    return;
  }
  net::SocketAddress local;
  net::local_address(socket.get(), local);
  auto* connection = new Connection(
      context_, std::move(socket), PeerAddress::of_peer(peer, local), PeerAddress(local),
      server_.next_connection_id.fetch_add(1, std::memory_order_relaxed));
  connection->start(server_.tls.get());
}

void ServerLoop::serve(net::UniqueFd socket, std::span<const std::byte> initial,
                       std::unique_ptr<net::TlsStream> tls) {
  if (context_.shutting_down()) return;
  server_.open_connections.fetch_add(1, std::memory_order_relaxed);
  net::SocketAddress local, peer;
  net::local_address(socket.get(), local);
  net::remote_address(socket.get(), peer);
  net::set_tcp_nodelay(socket.get());
  auto* connection = new Connection(
      context_, std::move(socket), PeerAddress::of_peer(peer, local), PeerAddress(local),
      server_.next_connection_id.fetch_add(1, std::memory_order_relaxed));
  if (tls) {
    connection->start(std::move(tls), initial);
  } else {
    connection->start(nullptr, initial);
  }
}

void ServerLoop::serve(std::unique_ptr<Transport> transport, std::span<const std::byte> initial) {
  if (context_.shutting_down()) return;
  server_.open_connections.fetch_add(1, std::memory_order_relaxed);
  net::SocketAddress local, peer;
  if (const int socket = transport->socket(); socket >= 0) {
    net::local_address(socket, local);
    net::remote_address(socket, peer);
  }
  auto* connection = new Connection(
      context_, net::UniqueFd(), PeerAddress::of_peer(peer, local), PeerAddress(local),
      server_.next_connection_id.fetch_add(1, std::memory_order_relaxed));
  connection->start_on(std::move(transport), initial);
}

void ServerLoop::add_listener(std::unique_ptr<net::Listener> listener) {
  listeners_.push_back(std::move(listener));
}

std::error_code ServerLoop::watch_shutdown(int shutdown_fd) {
  shutdown_fd_ = shutdown_fd;
  return loop().add(shutdown_fd, EPOLLIN, *this);
}

void ServerLoop::on_io(std::uint32_t) {
  // The eventfd stays readable for every loop (nobody reads it); each loop acts once.
  loop().remove(shutdown_fd_, *this);
  shutdown_fd_ = -1;
  listeners_.clear();  // closes the listening sockets: no new connections
  context_.begin_shutdown("server shutting down");
}

}  // namespace fastws::detail
