// Client: options, loops (its own or a server's), connect, reconnection, stop.
#include "fastws/client.hpp"

#include <future>
#include <stdexcept>
#include <system_error>

#include "client/client_impl.hpp"
#include "client/client_opening.hpp"
#include "client/reconnection.hpp"
#include "connection/connection.hpp"
#include "fastws/server.hpp"
#include "net/event_loop.hpp"
#include "net/task.hpp"
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

void Client::Impl::make_waiting_lists() {
  waiting_reconnections = std::make_unique<net::ListHead[]>(loops.size());
}

net::ListHead& Client::Impl::waiting_on(const detail::LoopContext& loop) noexcept {
  std::size_t index = 0;
  while (loops[index].get() != &loop) ++index;
  return waiting_reconnections[index];
}

void Client::Impl::shutting_down(detail::LoopContext& loop) {
  detail::Reconnection::end_all(waiting_on(loop));
  // Dials in progress end here, with on_error: the application stopped the client, it did not
  // end those connections itself (the shutdown's close that follows would end them silently).
  for (const Conn& conn : loop.all_connections()) {
    detail::Connection& connection = detail::Connection::of(conn);
    if (detail::ClientOpening* opening = detail::ClientOpening::of(connection)) {
      opening->cancel(connection);
    }
  }
}

Client::Client(ClientOptions options)
    : Client(std::make_unique<Impl>(std::move(options)), nullptr) {}

Client::Client(Server& server, ClientOptions options)
    : Client(std::make_unique<Impl>(std::move(options)),
             &static_cast<ConnectionEvents&>(server).endpoint_) {}

Client::Client(std::unique_ptr<Impl> impl, detail::Endpoint* server)
    : ConnectionEvents(*impl), impl_(std::move(impl)) {
  if (server != nullptr) {
    impl_->share_loops(*server);
    impl_->on_server_loops = true;
  } else {
    impl_->make_loops(impl_->options.threads, impl_->options.backend);
  }
  impl_->make_waiting_lists();
  if (server == nullptr && !impl_->options.drive_loops_externally) impl_->event_loops->start();
}

IoBackend Client::io_backend() const noexcept {
  return (*impl_->event_loops)[0]->backend();
}

std::vector<ExternalLoop> Client::external_loops() {
  std::vector<ExternalLoop> loops;
  if (impl_->on_server_loops || !impl_->options.drive_loops_externally ||
      !impl_->event_loops->drive_externally()) {
    return loops;
  }
  for (std::size_t i = 0; i < impl_->event_loops->size(); ++i) {
    loops.push_back(ExternalLoop(impl_->event_loops, i));
  }
  return loops;
}

Client::~Client() {
  stop();
  // Every resolver callback has posted its answer once this returns: the loops still take the
  // answers now (or detach() runs them below). An answer posted after that would sit on a loop
  // that nothing runs, holding its connection, which holds the loop: a leak.
  impl_->resolver.shut_down();
  if (!impl_->on_server_loops) {
    impl_->event_loops->join();
    impl_->loops.clear();  // a loop context lives on while Conn handles of its connections exist
    return;
  }
  // On a server's loops: if they run, the shutdown stop() posted ends the connections there;
  // if they do not, nothing of this client runs there (tasks queued for it find it gone).
  for (auto& loop : impl_->loops) {
    if (impl_->event_loops->while_not_running([&loop] { loop.reset(); })) continue;
    loop->wait_finished();
    loop.reset();
  }
}

void Client::stop() noexcept {
  if (impl_->stopped.exchange(true)) return;
  for (auto& loop : impl_->loops) {
    detail::LoopContext* context = loop.get();
    context->hold();
    context->loop().post([context] {
      if (!context->gone()) context->begin_shutdown("client stopping");
      context->let_go();
    });
  }
}

namespace {

// Everything about the request that can be wrong is found here, before a byte is sent; the
// error goes to on_error like any other failure to open.
std::unique_ptr<detail::ClientOpening> make_opening(const Client::Impl& client,
                                                    std::string_view url_text,
                                                    ConnectOptions& options, net::EventLoop& loop,
                                                    detail::Reconnection* reconnection,
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
  std::optional<detail::ProxyConfig> own_proxy;
  if (!options.proxy.empty()) {
    own_proxy = detail::ProxyConfig::make(options.proxy, error);
    if (!own_proxy) {
      error = "proxy: " + error;
      return nullptr;
    }
  }
  return std::make_unique<detail::ClientOpening>(loop, std::move(*url), std::move(*request),
                                                 std::move(options.user_data), std::move(own_proxy),
                                                 reconnection);
}

}  // namespace

void Client::Impl::start_attempt(detail::Connection& connection, std::string_view url,
                                 ConnectOptions request, Finished finished,
                                 detail::Reconnection* reconnection) {
  connection.start_pending();
  if (reconnection != nullptr) connection.watch_end(*reconnection);
  std::string error;
  std::unique_ptr<detail::ClientOpening> opening =
      make_opening(*this, url, request, connection.loop().loop(), reconnection, error);
  if (!opening) {
    const CloseStatus status{close_code::abnormal, {}, "cannot connect: " + error};
    if (finished) finished({Conn{}, status, ConnectError::invalid_request, 0});
    if (reconnection != nullptr) reconnection->note_failure(ConnectError::invalid_request, 0);
    connection.fail_opening(status.error);
    return;
  }
  if (finished) opening->notify_when_finished(std::move(finished));
  detail::ClientOpening& started = *opening;
  connection.set_opening_state(std::move(opening));
  if (connection.loop().shutting_down()) {
    started.cancel(connection);
    return;
  }
  started.start(connection, *this);
}

namespace {

// What a dial carries besides its URL, boxed only when there is any. The task that takes a dial
// to its loop then fits in the task's own storage, and the caller's thread allocates nothing for
// a plain dial but the connection (and a URL too long for a short string). Bigger blocks that
// the caller's thread allocated and the loop thread freed were cut up for later connections and
// left holes between them: 10,000 idle dialed connections cost 10% more than accepted ones.
struct DialExtras {
  ConnectOptions options;
  Client::Impl::Finished finished;
  std::unique_ptr<detail::Reconnection> reconnection;
};

// Whether `options` differ from ConnectOptions{} in anything a dial uses. The binding names
// every field: one added to ConnectOptions fails to compile here until it is looked at.
bool carries_anything(const ConnectOptions& options) noexcept {
  const auto& [headers, subprotocols, origin, user_data, proxy, reconnect] = options;
  return !headers.empty() || !subprotocols.empty() || !origin.empty() || user_data.has_value() ||
         !proxy.empty() || reconnect.enabled;
}

Conn dial(Client::Impl& client, std::string_view url, ConnectOptions options,
          Client::Impl::Finished finished) {
  if (client.stopped.load(std::memory_order_acquire)) return {};
  if (protocol::names_tls_scheme(url)) {
    std::string unused;  // a failure is the dial's, reported on its loop
    client.tls_context(unused);
  }
  detail::LoopContext& loop = client.pick_loop();
  // A server's loops that ended (or a server that is gone) will run nothing more.
  if (loop.finished() || loop.gone()) return {};
  client.open_connections.fetch_add(1, std::memory_order_relaxed);
  auto* connection = new detail::Connection(
      loop, {}, {}, {}, client.next_connection_id.fetch_add(1, std::memory_order_relaxed));
  Conn conn = connection->handle();
  std::unique_ptr<DialExtras> extras;
  if (carries_anything(options) || finished) {
    extras = std::make_unique<DialExtras>();
    if (options.reconnect.enabled) {
      extras->reconnection = std::make_unique<detail::Reconnection>(
          client, loop, client.waiting_on(loop), std::string(url), options);
    }
    extras->options = std::move(options);
    extras->finished = std::move(finished);
  }
  // The client itself is not touched before the context says it is still there: a client on
  // a server's loops may be gone when this runs. The context's endpoint is the client.
  auto start = [connection, url = std::string(url), extras = std::move(extras)]() mutable {
    detail::LoopContext& context = connection->loop();
    if (context.gone()) {
      connection->release();
      return;
    }
    auto& dialing = static_cast<Client::Impl&>(context.endpoint());
    if (!extras) {
      dialing.start_attempt(*connection, url, {}, nullptr, nullptr);
      return;
    }
    dialing.start_attempt(*connection, url, std::move(extras->options), std::move(extras->finished),
                          extras->reconnection.release());
  };
  static_assert(net::Task::stored_inline<decltype(start)>, "a plain dial allocates no task");
  if (!loop.post_unless_finishing(std::move(start))) {
    // the loops ended since the check above (server.stop(), stop())
    client.open_connections.fetch_sub(1, std::memory_order_relaxed);
    connection->release();
    return {};
  }
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
