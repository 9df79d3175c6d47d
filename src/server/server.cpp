// Server: options, handlers, listening sockets, the loop threads, shutdown, hand-over.
#include "fastws/server.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include "connection/connection.hpp"
#include "connection/prepared_message.hpp"
#include "net/accept_distributor.hpp"
#include "net/socket.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/handshake_server.hpp"
#include "protocol/http_parser.hpp"
#include "server/origin_policy.hpp"
#include "server/server_impl.hpp"

namespace fastws {

namespace {

std::unique_ptr<net::TlsContext> make_tls_context(const TlsOptions& options) {
  if (options.context != nullptr) return net::TlsContext::shared(options.context);
  if (options.certificate_file.empty()) return nullptr;
  std::string error;
  auto context = net::TlsContext::from_files(options.certificate_file, options.key_file, error);
  if (!context) throw std::invalid_argument("fastws: " + error);
  return context;
}

// Limits under which nothing could get through are refused here, at construction, rather than
// failing every connection later. Zero is not "unlimited" for any of them. (A send buffer limit
// smaller than max_message_size is fine: a message larger than the limit goes into an empty
// buffer; see ServerOptions::max_buffered_bytes.)
void refuse_unworkable_limits(const ServerOptions& options) {
  const auto refuse = [](const char* why) {
    throw std::invalid_argument(std::string("fastws: ") + why);
  };
  if (options.max_message_size == 0) refuse("max_message_size is 0: no message could be received");
  if (options.max_header_size == 0) refuse("max_header_size is 0: no request could be read");
  if (options.max_connections == 0) refuse("max_connections is 0: no connection could be accepted");
}

unsigned loop_count(unsigned requested) {
  if (requested != 0) return requested;
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : cores;
}

detail::ConnectionSettings settings_from(const ServerOptions& options) {
  detail::ConnectionSettings settings = detail::common_settings_from(options);
  settings.max_topics_per_connection = options.max_topics_per_connection;
  settings.http_keepalive_timeout = options.http_keepalive_timeout;
  return settings;
}

void add_loop_stats(const detail::LoopStats& loop, ServerStats& total) noexcept {
  total.connections += loop.connections.load(std::memory_order_relaxed);
  total.messages_in += loop.messages_in.load(std::memory_order_relaxed);
  total.messages_out += loop.messages_out.load(std::memory_order_relaxed);
  total.bytes_in += loop.bytes_in.load(std::memory_order_relaxed);
  total.bytes_out += loop.bytes_out.load(std::memory_order_relaxed);
  total.dropped_sends += loop.dropped_sends.load(std::memory_order_relaxed);
  total.backpressured_connections += loop.backpressured.load(std::memory_order_relaxed);
}

}  // namespace

Server::Impl::Impl(ServerOptions opts)
    : options(std::move(opts)), shutdown_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  settings = settings_from(options);
  deflate_config = detail::deflate_config_from(options.compression);
  session_config.role = protocol::Role::server;
  session_config.max_message_size = options.max_message_size;
  session_config.stream_fragments = options.stream_fragments;
  session_config.auto_pong = options.auto_pong;
  session_config.deflate = deflate_config;
}

Server::Server(ServerOptions options) : Server(std::make_unique<Impl>(std::move(options))) {}

Server::Server(std::unique_ptr<Impl> impl) : ConnectionEvents(*impl), impl_(std::move(impl)) {
  refuse_unworkable_limits(impl_->options);
  if (!impl_->shutdown_fd) throw std::system_error(errno, std::system_category(), "eventfd");
  impl_->tls = make_tls_context(impl_->options.tls);
  impl_->make_loops(loop_count(impl_->options.threads), impl_->options.backend);
  for (auto& loop : impl_->loops) {
    impl_->server_loops.push_back(std::make_unique<detail::ServerLoop>(*impl_, *loop));
    if (auto watch = impl_->server_loops.back()->watch_shutdown(impl_->shutdown_fd.get())) {
      throw std::system_error(watch, "fastws: cannot watch the shutdown event");
    }
  }
}

Server::~Server() {
  // The bridge first: it delivers into the server from its own thread until told.
  if (impl_->bridge) impl_->bridge->server_closing();
  // Listeners first, then the loops (their connections use the handlers and options), then the
  // rest. A loop context lives on while Conn handles of its connections exist.
  impl_->server_loops.clear();
  impl_->loops.clear();
}

void Server::on_upgrade(std::function<void(const Request&, Upgrade&)> handler) {
  impl_->on_upgrade = std::move(handler);
}
void Server::on_http(std::function<void(const Request&, Response&)> handler) {
  impl_->on_http = std::move(handler);
}

std::error_code Server::listen() {
  Impl& impl = *impl_;
  if (impl.listening) return {};
  const ServerOptions& options = impl.options;
  net::ListenOptions listen_options;
  listen_options.v6_only = options.ipv6_only;

  if (!options.unix_path.empty()) {
    // No SO_REUSEPORT balancing for Unix sockets: one listener hands connections round-robin.
    net::SocketAddress address;
    if (auto error = net::SocketAddress::from_unix_path(options.unix_path, address)) return error;
    net::UniqueFd socket;
    if (auto error = net::listen_on(address, listen_options, socket)) return error;
    std::vector<net::AcceptTarget> targets;
    for (auto& loop : impl.server_loops) targets.push_back({&loop->loop(), loop.get()});
    impl.distributor = std::make_unique<net::AcceptDistributor>(std::move(targets));
    auto listener = std::make_unique<net::Listener>(impl.loops[0]->loop(), std::move(socket),
                                                    *impl.distributor);
    if (auto error = listener->start()) return error;
    impl.server_loops[0]->add_listener(std::move(listener));
    impl.listening = true;
    return {};
  }

  std::vector<net::SocketAddress> addresses;
  const std::string host = options.host.empty() ? "0.0.0.0" : options.host;
  if (auto error = net::resolve(host, options.port, addresses)) return error;
  net::SocketAddress address = addresses.front();
  // One listening socket per loop on the same port; the kernel spreads the connections.
  listen_options.reuse_port = true;
  std::vector<std::unique_ptr<net::Listener>> listeners;
  for (auto& loop : impl.server_loops) {
    net::UniqueFd socket;
    if (auto error = net::listen_on(address, listen_options, socket)) return error;
    if (listeners.empty()) {
      // With port 0 the kernel chose a port: the other loops listen on the same one.
      net::SocketAddress bound;
      if (auto error = net::local_address(socket.get(), bound)) return error;
      address = bound;
      impl.bound_port.store(bound.port(), std::memory_order_release);
    }
    listeners.push_back(std::make_unique<net::Listener>(loop->loop(), std::move(socket), *loop));
  }
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    if (auto error = listeners[i]->start()) return error;
    impl.server_loops[i]->add_listener(std::move(listeners[i]));
  }
  impl.listening = true;
  return {};
}

std::uint16_t Server::port() const noexcept {
  return impl_->bound_port.load(std::memory_order_acquire);
}

IoBackend Server::io_backend() const noexcept {
  return (*impl_->event_loops)[0]->backend();
}

void Server::run() {
  Impl& impl = *impl_;
  if (auto error = listen()) {
    std::fprintf(stderr, "fastws: cannot listen: %s\n", error.message().c_str());
    return;
  }
  impl.event_loops->run();
}

std::vector<ExternalLoop> Server::external_loops() {
  std::vector<ExternalLoop> loops;
  if (!impl_->event_loops->drive_externally()) return loops;
  for (std::size_t i = 0; i < impl_->event_loops->size(); ++i) {
    loops.push_back(ExternalLoop(impl_->event_loops, i));
  }
  return loops;
}

void Server::stop() noexcept {
  // Only a write to an eventfd: safe from any thread and from a signal handler.
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto written = ::write(impl_->shutdown_fd.get(), &one, sizeof one);
}

ServerStats Server::stats() const noexcept {
  ServerStats total;
  for (const auto& loop : impl_->loops) add_loop_stats(loop->stats(), total);
  total.assembly_bytes = impl_->assembly_bytes.load(std::memory_order_relaxed);
  return total;
}

namespace {

std::span<const std::byte> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

// publish() in this process: framed once, queued to every loop.
void deliver_local(Server::Impl& impl, std::string_view topic, std::span<const std::byte> data,
                   Opcode op, const Conn& except) {
  auto message = std::make_shared<detail::PreparedMessage>(op, data);
  detail::Connection* skip = except ? &detail::Connection::of(except) : nullptr;
  for (auto& loop : impl.loops) {
    detail::OutgoingSend send;
    send.kind = detail::OutgoingSend::Kind::publish;
    send.prepared = message;
    send.bytes.assign(bytes_of(topic).begin(), bytes_of(topic).end());
    if (skip != nullptr) {
      skip->acquire();  // released by the loop after delivery
      send.connection = skip;
    }
    loop->post_send(std::move(send));
  }
}

}  // namespace

void Server::broadcast(std::string_view text) {
  broadcast(bytes_of(text), Opcode::text);
}

void Server::broadcast(std::span<const std::byte> data, Opcode op) {
  auto message = std::make_shared<detail::PreparedMessage>(op, data);
  for (auto& loop : impl_->loops) {
    detail::OutgoingSend send;
    send.kind = detail::OutgoingSend::Kind::broadcast;
    send.prepared = message;
    loop->post_send(std::move(send));
  }
}

void Server::publish(std::string_view topic, std::string_view text, const Conn& except) {
  publish(topic, bytes_of(text), Opcode::text, except);
}

void Server::publish(std::string_view topic, std::span<const std::byte> data, Opcode op,
                     const Conn& except) {
  deliver_local(*impl_, topic, data, op, except);
  if (impl_->bridge) impl_->bridge->published(topic, data, op);
}

void Server::publish_local(std::string_view topic, std::span<const std::byte> data, Opcode op) {
  deliver_local(*impl_, topic, data, op, {});
}

void Server::attach_bridge(std::shared_ptr<TopicBridge> bridge) {
  if (impl_->bridge) throw std::logic_error("fastws: a bridge is attached to this server already");
  impl_->bridge = std::move(bridge);
  for (auto& loop : impl_->loops) loop->topics().report_to(impl_->bridge.get());
}

namespace {

HandoverResult refused(int status, std::string error) {
  HandoverResult result;
  result.error = std::move(error);
  protocol::append_rejection(result.response, status, result.error + "\n");
  return result;
}

// The checks of a handed-over request that need no user code, so that a refusal can go back to
// the host server as a ready response. on_upgrade runs later on the connection's loop, like for
// any upgrade. Accepted (with no response) when the upgrade may go on.
HandoverResult check_handed_request(const ServerOptions& options, std::string_view request_bytes) {
  Request request;
  std::array<HttpHeader, 100> storage;
  const protocol::HttpLimits limits{options.max_header_size, storage.size()};
  protocol::HeadParseResult parsed =
      protocol::parse_request_head(request_bytes, request, storage, limits);
  if (!parsed.complete()) {
    if (parsed.failed()) return refused(parsed.http_status, parsed.error);
    return refused(400, "incomplete request head");
  }
  protocol::UpgradeCheck check = protocol::check_upgrade_request(request);
  if (!check.ok()) {
    HandoverResult result;
    result.error = check.reason;
    protocol::append_rejection(result.response, check);
    return result;
  }
  if (!check.origin.empty() &&
      !detail::origin_allowed(options.origin, check.origin, request.header("host"))) {
    return refused(403, "origin not allowed");
  }
  HandoverResult accepted;
  accepted.accepted = true;
  return accepted;
}

// Serves `fd` on the next loop, over `tls` when it has a session: the request bytes the host
// read go first.
void serve_handed(Server::Impl& impl, int fd, std::vector<std::byte> bytes,
                  std::unique_ptr<net::TlsStream> tls) {
  detail::ServerLoop& loop = impl.pick_loop();
  loop.loop().post(
      [&loop, socket = net::UniqueFd(fd), bytes = std::move(bytes),
       tls = std::move(tls)]() mutable { loop.serve(std::move(socket), bytes, std::move(tls)); });
}

HandoverResult hand_over(Server::Impl& impl, int fd, const TlsSession* tls,
                         std::string_view request_bytes) {
  HandoverResult result = check_handed_request(impl.options, request_bytes);
  if (!result.accepted) return result;
  if (tls != nullptr) {
    if (std::string refusal = net::TlsStream::adoption_refusal(tls->ssl); !refusal.empty()) {
      return refused(500, "cannot take over the TLS session: " + refusal);
    }
  }
  net::SocketInfo info;
  if (auto error = net::adopt_socket(fd, info)) {
    return refused(500, "cannot adopt the socket: " + error.message());
  }
  std::unique_ptr<net::TlsStream> stream;
  if (tls != nullptr) {
    stream = net::TlsStream::adopt(tls->ssl, fd, bytes_of(tls->unread_ciphertext));
    if (!stream) return refused(500, "cannot take over the TLS session: out of memory");
  }
  const std::span<const std::byte> request = bytes_of(request_bytes);
  serve_handed(impl, fd, {request.begin(), request.end()}, std::move(stream));
  return result;
}

std::error_code adopt_open_socket(Server::Impl& impl, int fd, const TlsSession* tls) {
  if (tls != nullptr && !net::TlsStream::adoption_refusal(tls->ssl).empty()) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  net::SocketInfo info;
  if (auto error = net::adopt_socket(fd, info)) return error;
  if (info.listening) return std::make_error_code(std::errc::invalid_argument);
  std::unique_ptr<net::TlsStream> stream;
  if (tls != nullptr) {
    stream = net::TlsStream::adopt(tls->ssl, fd, bytes_of(tls->unread_ciphertext));
    if (!stream) return std::make_error_code(std::errc::not_enough_memory);
  }
  serve_handed(impl, fd, {}, std::move(stream));
  return {};
}

}  // namespace

HandoverResult Server::handover(int fd, std::string_view request_bytes) {
  return hand_over(*impl_, fd, nullptr, request_bytes);
}

HandoverResult Server::handover(int fd, TlsSession tls, std::string_view request_bytes) {
  return hand_over(*impl_, fd, &tls, request_bytes);
}

HandoverResult Server::handover(std::unique_ptr<Transport>&& transport,
                                std::string_view request_bytes) {
  HandoverResult result = check_handed_request(impl_->options, request_bytes);
  if (!result.accepted) return result;
  detail::ServerLoop& loop = impl_->pick_loop();
  const std::span<const std::byte> request = bytes_of(request_bytes);
  loop.loop().post([&loop, transport = std::move(transport),
                    bytes = std::vector<std::byte>(request.begin(), request.end())]() mutable {
    loop.serve(std::move(transport), bytes);
  });
  return result;
}

std::error_code Server::adopt(int fd) {
  return adopt_open_socket(*impl_, fd, nullptr);
}

std::error_code Server::adopt(int fd, TlsSession tls) {
  return adopt_open_socket(*impl_, fd, &tls);
}

}  // namespace fastws
