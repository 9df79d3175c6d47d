#include "client/client_opening.hpp"

#include <array>
#include <utility>

#include "client/client_impl.hpp"
#include "client/reconnection.hpp"
#include "connection/connection.hpp"
#include "net/socket.hpp"

namespace fastws::detail {

namespace {

net::AddressFamily family_of(IpFamily family) {
  switch (family) {
    case IpFamily::ipv4:
      return net::AddressFamily::ipv4;
    case IpFamily::ipv6:
      return net::AddressFamily::ipv6;
    case IpFamily::any:
      break;
  }
  return net::AddressFamily::any;
}

}  // namespace

ClientOpening* ClientOpening::of(Connection& connection) noexcept {
  if (connection.phase() != Connection::Phase::http) return nullptr;
  return static_cast<ClientOpening*>(connection.opening_state());
}

void ClientOpening::cancel(Connection& connection) {
  failure_ = ConnectError::stopped;
  connection.fail_opening("the dial was cancelled: the client is stopping");  // ends this opening
}

void ClientOpening::start(Connection& connection, Client::Impl& client) {
  if (!url_.unix_path.empty()) {  // ws+unix: no name, no proxy
    net::SocketAddress address;
    if (auto error = net::SocketAddress::from_unix_path(url_.unix_path, address)) {
      failure_ = ConnectError::connect;
      connection.fail_opening("cannot connect to unix:" + url_.unix_path + ": " + error.message());
      return;
    }
    dial(connection, client, {address});
    return;
  }
  const ProxyConfig& proxies = own_proxy_ ? *own_proxy_ : client.proxy;
  const ProxyChoice& route = proxies.choose(url_.secure, url_.host, url_.port);
  if (!route.error.empty()) {
    connection.fail_opening("cannot connect: " + route.error);
    return;
  }
  proxy_ = route.proxy;
  // Through a proxy the client resolves only the proxy's name: the target's name goes to the
  // proxy as it is.
  const std::string& host = proxy_ ? proxy_->host : url_.host;
  const std::uint16_t port = proxy_ ? proxy_->port : url_.port;
  // The answer comes on the resolver's thread, or at once for an IP address. From the resolver's
  // thread it goes back to the loop, where the connection may have timed out or closed meanwhile.
  // At once it is still on the loop, inside this call: the dial goes on without a posted task,
  // which would hold the host name and the addresses on the heap until the end of the batch.
  client.resolver.resolve(
      host, port, family_of(client.options.ip_family),
      [conn = connection.handle(), &client, host](
          std::error_code error, std::vector<net::SocketAddress> addresses) mutable {
        net::EventLoop& loop = Connection::of(conn).loop().loop();
        if (loop.is_in_loop_thread()) {
          resolved(conn, client, host, error, std::move(addresses));
          return;
        }
        loop.post([conn, &client, host = std::move(host), error,
                   addresses = std::move(addresses)]() mutable {
          resolved(conn, client, host, error, std::move(addresses));
        });
      });
}

void ClientOpening::resolved(const Conn& conn, Client::Impl& client, const std::string& host,
                             std::error_code error, std::vector<net::SocketAddress> addresses) {
  Connection& dialing = Connection::of(conn);
  ClientOpening* opening = of(dialing);
  if (opening == nullptr) return;
  if (error) {
    opening->failure_ = ConnectError::resolve;
    dialing.fail_opening(opening->through_proxy() + "cannot resolve '" + host +
                         "': " + error.message());
    return;
  }
  opening->dial(dialing, client, std::move(addresses));
}

void ClientOpening::dial(Connection& connection, Client::Impl& client,
                         std::vector<net::SocketAddress> addresses) {
  stage_ = Stage::connecting;
  dialer_.dial(std::move(addresses), client.options.connect_timeout,
               [this, &connection, &client](net::Dialer::Result result) {
                 if (!result.socket) {
                   if (result.error == std::errc::timed_out) failure_ = ConnectError::timeout;
                   // ends this opening
                   connection.fail_opening(through_proxy() + std::move(result.message));
                   return;
                 }
                 net::set_tcp_nodelay(result.socket.get());
                 if (!proxy_) {
                   start_connection(connection, client, std::move(result.socket), result.address);
                   return;
                 }
                 tunnel_.open(std::move(result.socket), *proxy_, url_.host, url_.port,
                              client.options.connect_timeout, client.options.max_header_size,
                              [this, &connection, &client,
                               proxy_address = result.address](ProxyTunnel::Result tunnel) {
                                if (!tunnel.socket) {
                                  connection.fail_opening(through_proxy() + tunnel.error);
                                  return;
                                }
                                start_connection(connection, client, std::move(tunnel.socket),
                                                 proxy_address);
                              });
               });
}

void ClientOpening::start_connection(Connection& connection, Client::Impl& client,
                                     net::UniqueFd socket, const net::SocketAddress& remote) {
  const net::TlsContext* tls = nullptr;
  if (url_.secure) {
    std::string error;
    tls = client.tls_context(error);
    if (tls == nullptr) {
      failure_ = ConnectError::tls;
      connection.fail_opening("cannot make a TLS context: " + error);
      return;
    }
  }
  stage_ = url_.secure ? Stage::securing : Stage::handshaking;
  net::SocketAddress local;
  net::local_address(socket.get(), local);
  // TLS names and verifies the target, never the proxy.
  connection.start_dialed(std::move(socket), PeerAddress(remote), PeerAddress(local), tls,
                          url_.host);
}

std::string ClientOpening::through_proxy() const {
  return proxy_ ? proxy_->describe() + ": " : std::string();
}

std::size_t ClientOpening::on_input(Connection& connection, Client::Impl& client,
                                    std::span<std::byte> input) {
  response_.append(reinterpret_cast<const char*>(input.data()), input.size());
  std::array<HttpHeader, 100> storage;
  const protocol::HttpLimits limits{client.options.max_header_size, storage.size()};
  protocol::ClientHandshakeResult result = request_.check_response(response_, storage, limits);
  if (result.status == protocol::HeadStatus::partial) return input.size();
  if (!result.ok()) {
    http_status_ = result.http_status;
    failure_ = result.error == protocol::ClientHandshakeError::not_switching_protocols
                   ? ConnectError::http_status
                   : ConnectError::handshake;
    connection.fail_opening(result.message);  // ends this opening
    return input.size();
  }
  // What followed the response head in this input is the server's first frames.
  const std::size_t used = input.size() - (response_.size() - result.consumed);
  connection.open_websocket(protocol::Session(client.session_config, result.deflate),
                            std::move(result.subprotocol), std::move(result.extensions),
                            std::move(user_data_), nullptr);  // ends this opening
  return used;
}

void ClientOpening::send_request(Connection& connection) {
  stage_ = Stage::handshaking;
  const std::string& bytes = request_.bytes();
  connection.write_raw({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
}

void ClientOpening::opened(const Conn& conn) {
  if (finished_) finished_({conn, {}, ConnectError::none, 101});
}

ConnectError ClientOpening::failure(const CloseStatus& status) const noexcept {
  if (timed_out) return ConnectError::timeout;
  if (failure_ != ConnectError::none) return failure_;
  switch (stage_) {
    case Stage::resolving:  // closed before the name resolved: stop() or close()
    case Stage::connecting:
      return status.code == close_code::going_away ? ConnectError::stopped : ConnectError::connect;
    case Stage::securing:
      return ConnectError::tls;
    case Stage::handshaking:
      break;
  }
  return ConnectError::handshake;
}

void ClientOpening::failed(const CloseStatus& status) {
  if (reconnection_) reconnection_->note_failure(failure(status), http_status_);
  if (finished_) finished_({Conn{}, status, failure(status), http_status_});
}

bool ClientOpening::report_failure(CloseStatus& status) {
  return reconnection_ == nullptr || reconnection_->report_failure(status);
}

}  // namespace fastws::detail

namespace fastws {

std::size_t Client::Impl::opening_input(detail::Connection& connection,
                                        std::span<std::byte> input) {
  auto* opening = static_cast<detail::ClientOpening*>(connection.opening_state());
  return opening->on_input(connection, *this, input);
}

void Client::Impl::opening_ready(detail::Connection& connection) {
  static_cast<detail::ClientOpening*>(connection.opening_state())->send_request(connection);
}

}  // namespace fastws
