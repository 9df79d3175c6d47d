// Client: options, loops and threads, connect, stop.
#include "fastws/client.hpp"

#include <future>
#include <stdexcept>
#include <system_error>

#include "client/client_impl.hpp"
#include "client/client_opening.hpp"
#include "connection/connection.hpp"
#include "net/event_loop.hpp"
#include "protocol/handshake_client.hpp"

namespace fastws {

namespace {

std::unique_ptr<net::TlsContext> make_tls_context(const ClientTlsOptions& options,
                                                  std::string& error) {
  if (options.context != nullptr) return net::TlsContext::shared(options.context);
  net::TlsClientSettings settings;
  settings.verify_peer = !options.insecure_skip_verification;
  settings.ca_file = options.ca_file;
  settings.ca_directory = options.ca_directory;
  settings.certificate_file = options.certificate_file;
  settings.key_file = options.key_file;
  return net::TlsContext::client(settings, error);
}

// Files to load are checked at construction, where a mistake is best reported.
bool names_tls_files(const ClientTlsOptions& options) {
  return !options.ca_file.empty() || !options.ca_directory.empty() ||
         !options.certificate_file.empty() || options.context != nullptr;
}

}  // namespace

Client::Impl::Impl(ClientOptions opts) : options(std::move(opts)) {
  reports_opening_failures = true;
  pauses_input_behind_output = false;
  settings = detail::common_settings_from(options);
  deflate_config = detail::deflate_config_from(options.compression);
  session_config.role = protocol::Role::client;
  session_config.max_message_size = options.max_message_size;
  session_config.stream_fragments = options.stream_fragments;
  session_config.auto_pong = options.auto_pong;
  session_config.deflate = deflate_config;
  if (names_tls_files(options.tls)) {
    std::string error;
    if (!tls_context(error)) throw std::invalid_argument("fastws: " + error);
  }
}

const net::TlsContext* Client::Impl::tls_context(std::string& error) {
  std::call_once(tls_made, [this] { tls = make_tls_context(options.tls, tls_error); });
  if (!tls) error = tls_error;
  return tls.get();
}

Client::Client(ClientOptions options) : Client(std::make_unique<Impl>(std::move(options))) {}

Client::Client(std::unique_ptr<Impl> impl) : ConnectionEvents(*impl), impl_(std::move(impl)) {
  const unsigned count = impl_->options.threads == 0 ? 1 : impl_->options.threads;
  for (unsigned i = 0; i < count; ++i) {
    std::error_code error;
    auto loop = net::EventLoop::create(error);
    if (!loop) throw std::system_error(error, "fastws: cannot create an event loop");
    impl_->loops.emplace_back(new detail::LoopContext(*impl_, std::move(loop)));
  }
  for (auto& loop : impl_->loops) {
    impl_->threads.emplace_back([&event_loop = loop->loop()] { event_loop.run(); });
  }
}

Client::~Client() {
  stop();
  for (auto& thread : impl_->threads) thread.join();
  // A loop context lives on while Conn handles of its connections exist.
  impl_->loops.clear();
}

void Client::stop() noexcept {
  if (impl_->stopped.exchange(true)) return;
  for (auto& loop : impl_->loops) {
    detail::LoopContext* context = loop.get();
    context->loop().post([context] { context->begin_shutdown("client stopping"); });
  }
}

namespace {

using Finished = detail::ClientOpening::Finished;

// Everything about the request that can be wrong is found here, before a byte is sent; the
// error goes to on_error like any other failure to open.
std::unique_ptr<detail::ClientOpening> make_opening(const Client::Impl& client,
                                                    std::string_view url_text,
                                                    ConnectOptions& options, net::EventLoop& loop,
                                                    std::string& error) {
  std::optional<protocol::WebSocketUrl> url = protocol::parse_websocket_url(url_text, error);
  if (!url) return nullptr;
  protocol::ClientRequestParts parts;
  parts.host = url->host;
  parts.port = url->port;
  parts.secure = url->secure;
  parts.target = url->target;
  parts.origin = options.origin;
  parts.subprotocols = options.subprotocols;
  parts.headers = options.headers;
  if (client.options.compression.enabled) parts.deflate = &client.deflate_config;
  std::optional<protocol::ClientHandshakeRequest> request =
      protocol::ClientHandshakeRequest::create(parts, error);
  if (!request) return nullptr;
  return std::make_unique<detail::ClientOpening>(loop, std::move(*url), std::move(*request),
                                                 std::move(options.user_data));
}

Conn dial(Client::Impl& client, std::string_view url, ConnectOptions options, Finished finished) {
  if (client.stopped.load(std::memory_order_acquire)) return {};
  detail::LoopContext& loop = client.pick_loop();
  std::string error;
  std::unique_ptr<detail::ClientOpening> opening =
      make_opening(client, url, options, loop.loop(), error);
  if (opening && finished) opening->notify_when_finished(std::move(finished));
  client.open_connections.fetch_add(1, std::memory_order_relaxed);
  auto* connection = new detail::Connection(
      loop, {}, {}, {}, client.next_connection_id.fetch_add(1, std::memory_order_relaxed));
  Conn conn = connection->handle();
  loop.loop().post([connection, &client, opening = std::move(opening), error = std::move(error),
                    finished = std::move(finished)]() mutable {
    connection->start_pending();
    if (!opening) {
      const CloseStatus status{close_code::abnormal, {}, "cannot connect: " + error};
      if (finished) finished({Conn{}, status, ConnectError::invalid_request, 0});
      connection->fail_opening(status.error);
      return;
    }
    if (connection->loop().shutting_down()) {
      connection->set_opening_state(std::move(opening));
      connection->fail_opening("the client is stopping");
      return;
    }
    detail::ClientOpening& started = *opening;
    connection->set_opening_state(std::move(opening));
    started.start(*connection, client);
  });
  return conn;
}

}  // namespace

Conn Client::connect(std::string_view url, ConnectOptions options) {
  return dial(*impl_, url, std::move(options), nullptr);
}

ConnectResult Client::connect_and_wait(std::string_view url, ConnectOptions options) {
  if (net::EventLoop* current = net::EventLoop::current()) {
    for (auto& loop : impl_->loops) {
      if (&loop->loop() == current) {
        return {{},
                {close_code::abnormal, {}, "connect_and_wait on the client's own loop"},
                ConnectError::invalid_request};
      }
    }
  }
  auto outcome = std::make_shared<std::promise<ConnectResult>>();
  std::future<ConnectResult> result = outcome->get_future();
  const Conn conn = dial(*impl_, url, std::move(options), [outcome](ConnectResult outcome_of_dial) {
    outcome->set_value(std::move(outcome_of_dial));
  });
  if (!conn)
    return {{}, {close_code::abnormal, {}, "the client is stopped"}, ConnectError::stopped};
  // The handshake timeout ends every opening; the margin covers the loop's timer tick.
  const auto limit = impl_->options.handshake_timeout.count() > 0
                         ? impl_->options.handshake_timeout + std::chrono::seconds(1)
                         : std::chrono::milliseconds(std::chrono::hours(24));
  if (result.wait_for(limit) != std::future_status::ready) {
    conn.terminate();
    return {{},
            {close_code::abnormal, {}, "no answer within the handshake timeout"},
            ConnectError::timeout};
  }
  return result.get();
}

}  // namespace fastws
