// Server internals shared by the server, its loops and its connections.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "fastws/server.hpp"
#include "connection/loop_context.hpp"
#include "net/accept_distributor.hpp"
#include "net/tls_context.hpp"
#include "net/unique_fd.hpp"
#include "protocol/permessage_deflate.hpp"
#include "protocol/session.hpp"

namespace fastws {

// The user's callbacks. Set before run(); read-only while the loops run.
struct ServerHandlers {
  std::function<void(const Request&, Upgrade&)> upgrade;
  std::function<void(const Conn&)> open;
  std::function<void(const Conn&, Message)> message;
  std::function<void(const Conn&, Opcode, std::span<const std::byte>, bool, bool)> fragment;
  std::function<void(const Conn&, std::span<const std::byte>)> ping;
  std::function<void(const Conn&, std::span<const std::byte>)> pong;
  std::function<void(const Conn&, const CloseStatus&)> close;
  std::function<void(const Conn&, const CloseStatus&)> error;
  std::function<void(const Conn&, const Frame&)> frame;
  std::function<void(const Request&, Response&)> http;
  std::function<void(const Conn&)> drain;
};

struct Server::Impl {
  explicit Impl(ServerOptions opts);

  ServerOptions options;
  ServerHandlers handlers;
  protocol::SessionConfig session_config;  // shared by every connection's session
  protocol::DeflateConfig deflate_config;
  std::unique_ptr<net::TlsContext> tls;  // set when accepted connections speak TLS
  net::UniqueFd shutdown_fd;             // an eventfd every loop watches; stop() writes it
  // Contexts are detached, not deleted, when the server goes: Conn handles may still use them.
  struct DetachLoop {
    void operator()(detail::LoopContext* loop) const noexcept { loop->detach(); }
  };
  std::vector<std::unique_ptr<detail::LoopContext, DetachLoop>> loops;
  std::unique_ptr<net::AcceptDistributor> distributor;  // Unix sockets: one listener for all
  bool listening = false;
  std::atomic<std::uint16_t> bound_port{0};
  std::atomic<std::uint64_t> next_connection_id{1};
  std::atomic<std::uint64_t> open_connections{0};  // for max_connections
  // Bytes of messages in assembly on every loop, against options.max_assembly_bytes.
  std::atomic<std::size_t> assembly_bytes{0};
  std::atomic<unsigned> next_loop{0};              // round-robin for hand-overs

  detail::LoopContext& pick_loop() noexcept {
    return *loops[next_loop.fetch_add(1, std::memory_order_relaxed) % loops.size()];
  }
};

}  // namespace fastws
