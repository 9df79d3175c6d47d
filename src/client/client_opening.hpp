// One dialed connection before it opens: the URL, the request, the name resolution and the
// TCP connect (to the target, or to its proxy and through a tunnel), then the handshake's
// request and the check of the server's answer.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "client/proxy_tunnel.hpp"
#include "client/proxy_url.hpp"
#include "connection/endpoint.hpp"
#include "fastws/client.hpp"
#include "net/dialer.hpp"
#include "protocol/handshake_client.hpp"

namespace fastws::detail {

class Connection;
class Reconnection;

class ClientOpening final : public OpeningState {
 public:
  using Finished = std::function<void(ConnectResult)>;

  // `reconnection`: the attempt is one of a reconnection's, which hears how it failed.
  // `own_proxy`: ConnectOptions::proxy when it was given (else the client's setting applies).
  ClientOpening(net::EventLoop& loop, protocol::WebSocketUrl url,
                protocol::ClientHandshakeRequest request, std::any user_data,
                std::optional<ProxyConfig> own_proxy, Reconnection* reconnection)
      : url_(std::move(url)),
        request_(std::move(request)),
        user_data_(std::move(user_data)),
        own_proxy_(std::move(own_proxy)),
        reconnection_(reconnection),
        dialer_(loop),
        tunnel_(loop) {}

  // Resolves and dials the target or its proxy (loop thread), opens the tunnel through the
  // proxy; the connection starts on its socket when that is done.
  void start(Connection& connection, Client::Impl& client);
  // The transport is ready: the request goes out.
  void send_request(Connection& connection);
  // Input of the opening phase: returns the bytes used (the rest are the first frames).
  std::size_t on_input(Connection& connection, Client::Impl& client, std::span<std::byte> input);

  // The client is stopping: the opening ends with on_error and ConnectError::stopped.
  void cancel(Connection& connection);
  // The opening of `connection` while it is a client's connection still opening, else null.
  static ClientOpening* of(Connection& connection) noexcept;

  // Told once how the opening ended (connect_and_wait waits on it).
  void notify_when_finished(Finished finished) { finished_ = std::move(finished); }
  void opened(const Conn& conn) override;
  void failed(const CloseStatus& status) override;
  bool report_failure(CloseStatus& status) override;

 private:
  // How far the opening got: a failure without a more precise cause is this stage's.
  enum class Stage : std::uint8_t { resolving, connecting, securing, handshaking };

  // The resolver's answer for the connection behind `conn`, on its loop: dials unless the
  // opening ended meanwhile.
  static void resolved(const Conn& conn, Client::Impl& client, const std::string& host,
                       std::error_code error, std::vector<net::SocketAddress> addresses);
  void dial(Connection& connection, Client::Impl& client,
            std::vector<net::SocketAddress> addresses);
  // Why it failed: the cause found where it failed, or the stage it had reached.
  ConnectError failure(const CloseStatus& status) const noexcept;
  // TLS (for wss://) and the handshake on a socket to the target (`remote`: what it connects
  // to, the proxy's address through a proxy).
  void start_connection(Connection& connection, Client::Impl& client, net::UniqueFd socket,
                        const net::SocketAddress& remote);
  // "HTTP proxy host:port: " before the errors of a connection through a proxy, else "".
  std::string through_proxy() const;

  protocol::WebSocketUrl url_;
  protocol::ClientHandshakeRequest request_;
  std::any user_data_;
  std::optional<ProxyConfig> own_proxy_;
  Reconnection* reconnection_;
  std::optional<ProxyUrl> proxy_;  // the connection goes through it when set
  net::Dialer dialer_;
  ProxyTunnel tunnel_;
  std::string response_;  // the server's answer so far
  Stage stage_ = Stage::resolving;
  ConnectError failure_ = ConnectError::none;  // set where the cause is known exactly
  int http_status_ = 0;
  Finished finished_;
};

}  // namespace fastws::detail
