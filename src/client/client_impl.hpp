// Client internals: the endpoint of the connections a client dials, its loops and threads,
// the resolver, and the TLS context.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "client/proxy_url.hpp"
#include "connection/endpoint.hpp"
#include "connection/loop_context.hpp"
#include "fastws/client.hpp"
#include "net/resolver.hpp"
#include "net/tls_context.hpp"

namespace fastws {

struct Client::Impl : detail::Endpoint {
  explicit Impl(ClientOptions opts);

  // The handshake (client_opening.cpp).
  std::size_t opening_input(detail::Connection& connection, std::span<std::byte> input) override;
  void opening_ready(detail::Connection& connection) override;

  // The TLS context for wss://, made on first use when the options name nothing to load:
  // reading the system's CA store takes about 0.1 s, which a ws:// client should not pay.
  const net::TlsContext* tls_context(std::string& error);

  ClientOptions options;
  std::once_flag tls_made;
  std::unique_ptr<net::TlsContext> tls;
  std::string tls_error;  // why the context could not be made
  // Made once, from `options` (above it): a proxy URL that is not one throws
  // std::invalid_argument from the constructor; with "env", the environment as it is now.
  detail::ProxyConfig proxy = detail::ProxyConfig::from_option(options.proxy);
  net::Resolver resolver;
  struct DetachLoop {
    void operator()(detail::LoopContext* loop) const noexcept { loop->detach(); }
  };
  std::vector<std::unique_ptr<detail::LoopContext, DetachLoop>> loops;
  std::vector<std::thread> threads;
  std::atomic<unsigned> next_loop{0};
  std::atomic<bool> stopped{false};

  detail::LoopContext& pick_loop() noexcept {
    return *loops[next_loop.fetch_add(1, std::memory_order_relaxed) % loops.size()];
  }
};

}  // namespace fastws
