// Server internals shared by the server, its loops and the HTTP phase of its connections.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "connection/endpoint.hpp"
#include "connection/loop_context.hpp"
#include "fastws/server.hpp"
#include "net/accept_distributor.hpp"
#include "net/tls_context.hpp"
#include "net/unique_fd.hpp"
#include "server/server_loop.hpp"

namespace fastws {

// A server is the endpoint of the connections it accepts; what only a server has is here.
struct Server::Impl : detail::Endpoint {
  explicit Impl(ServerOptions opts);

  // The HTTP phase: plain requests, or the upgrade (http_phase.cpp).
  std::size_t opening_input(detail::Connection& connection, std::span<std::byte> input) override;

  // The endpoint of every connection on a server's loop context is its server.
  static Impl& of(detail::LoopContext& loop) noexcept {
    return static_cast<Impl&>(loop.endpoint());
  }

  ServerOptions options;
  // The user's callbacks before a connection opens. Set before run(); read-only after.
  std::function<void(const Request&, Upgrade&)> on_upgrade;
  std::function<void(const Request&, Response&)> on_http;
  std::unique_ptr<net::TlsContext> tls;  // set when accepted connections speak TLS
  net::UniqueFd shutdown_fd;             // an eventfd every loop watches; stop() writes it
  std::vector<std::unique_ptr<detail::ServerLoop>> server_loops;  // one per loop, same order
  std::unique_ptr<net::AcceptDistributor> distributor;  // Unix sockets: one listener for all
  bool listening = false;
  std::atomic<std::uint16_t> bound_port{0};
  std::atomic<unsigned> next_loop{0};  // round-robin for hand-overs
  // Scale-out to other processes (attach_bridge(), before run()); read-only after.
  std::shared_ptr<TopicBridge> bridge;

  detail::ServerLoop& pick_loop() noexcept {
    return *server_loops[next_loop.fetch_add(1, std::memory_order_relaxed) % server_loops.size()];
  }
};

}  // namespace fastws
