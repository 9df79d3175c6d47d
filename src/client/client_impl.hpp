// Client internals: the endpoint of the connections a client dials, its loops (its own or a
// server's), the resolver, the TLS context and the reconnections waiting for their time.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "client/proxy_url.hpp"
#include "connection/endpoint.hpp"
#include "connection/loop_context.hpp"
#include "fastws/client.hpp"
#include "net/intrusive_list.hpp"
#include "net/resolver.hpp"
#include "net/tls_context.hpp"

namespace fastws::detail {
class Reconnection;
}  // namespace fastws::detail

namespace fastws {

struct Client::Impl : detail::Endpoint {
  explicit Impl(ClientOptions opts);

  // The handshake (client_opening.cpp).
  std::size_t opening_input(detail::Connection& connection, std::span<std::byte> input) override;
  void opening_ready(detail::Connection& connection) override;
  // Ends the reconnections that wait for their time on that loop.
  void shutting_down(detail::LoopContext& loop) override;

  using Finished = std::function<void(ConnectResult)>;
  // On the loop thread: makes the opening of `connection` (a new one, not started) from `url`
  // and `request`, or fails it at once when they cannot make a request, and starts it.
  // `finished` hears how the opening ended; `reconnection` follows the connection when set.
  void start_attempt(detail::Connection& connection, std::string_view url, ConnectOptions request,
                     Finished finished, detail::Reconnection* reconnection);
  // Makes the list of waiting reconnections of each loop (after the loops).
  void make_waiting_lists();
  net::ListHead& waiting_on(const detail::LoopContext& loop) noexcept;

  // The TLS context for wss://, made on first use when the options name nothing to load:
  // reading the system's CA store takes about 0.1 s, which a ws:// client should not pay. The
  // first wss:// connect() makes it, on its caller's thread: on a loop it would stall every
  // connection there (unless connect() is called on a loop thread).
  const net::TlsContext* tls_context(std::string& error);

  ClientOptions options;
  std::once_flag tls_made;
  std::unique_ptr<net::TlsContext> tls;
  std::string tls_error;  // why the context could not be made
  // Made once, from `options` (above it): a proxy URL that is not one throws
  // std::invalid_argument from the constructor; with "env", the environment as it is now.
  detail::ProxyConfig proxy = detail::ProxyConfig::from_option(options.proxy);
  net::Resolver resolver;
  bool on_server_loops = false;  // Client(server): the loops are the server's
  // Reconnections waiting for their time, a list per loop (loop thread), in the order of loops.
  std::unique_ptr<net::ListHead[]> waiting_reconnections;
  std::atomic<unsigned> next_loop{0};
  std::atomic<bool> stopped{false};

  detail::LoopContext& pick_loop() noexcept {
    return *loops[next_loop.fetch_add(1, std::memory_order_relaxed) % loops.size()];
  }
};

}  // namespace fastws
