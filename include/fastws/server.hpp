// Server: an embedded epoll HTTP/1.1 + WebSocket server (RFC 6455, RFC 7692).
//
//   fastws::Server server({.port = 8080});
//   server.on_message([](const fastws::Conn& c, fastws::Message m) { c.send(m.data(), m.opcode());
//   }); server.run();
//
// Threading: set the handlers before run(). run() blocks the calling thread and drives N event
// loops (ServerOptions::threads, default one per core); each connection stays on one loop and
// its callbacks run there one at a time (see conn.hpp for the full contract). stop() may be
// called from any thread and from a signal handler. stats() and broadcast-style use of Conn
// handles are safe from any thread. A callback that blocks stalls its loop: hand slow work to
// your own threads and send from there. A callback that throws closes only its own connection:
// close 1011 after the upgrade (on_error and on_close say "on_message threw: ..."), a 500
// response before it; an exception from on_close or on_error is ignored.
#pragma once

#include <any>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "fastws/close_code.hpp"
#include "fastws/conn.hpp"
#include "fastws/connection_events.hpp"
#include "fastws/external_loop.hpp"
#include "fastws/frame.hpp"
#include "fastws/options.hpp"
#include "fastws/request.hpp"
#include "fastws/topic_bridge.hpp"
#include "fastws/transport.hpp"

struct ssl_st;  // OpenSSL's SSL

namespace fastws {

// HTTP header fields to send: (name, value) pairs.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The decision about one upgrade request, made in on_upgrade (on the loop thread).
class Upgrade {
 public:
  // Refuses the upgrade: the client gets this status, headers and body, with Connection: close;
  // nothing pipelined behind the request is parsed.
  void reject(int status, std::string_view body = {}, HeaderList headers = {});
  // An extra header for the 101 response (names or values with CR, LF or NUL are refused).
  void add_header(std::string name, std::string value);
  // Data for the connection, readable later with Conn::user_data<T>().
  void set_user_data(std::any value) { user_data_ = std::move(value); }
  // Overrides the subprotocol the server's preference list chose ("" for none); must be one
  // the client offered.
  void select_subprotocol(std::string name);

  // Whether reject() was called.
  bool rejected() const noexcept { return status_ != 0; }
  // The subprotocols the client offered, in its order.
  const std::vector<std::string>& offered_subprotocols() const noexcept { return offered_; }
  // The subprotocol chosen so far ("" for none).
  std::string_view subprotocol() const noexcept { return subprotocol_; }

 private:
  friend class detail::Connection;
  int status_ = 0;
  std::string body_;
  HeaderList headers_;  // rejection headers, or extra 101 headers
  std::any user_data_;
  std::vector<std::string> offered_;
  std::string subprotocol_;
};

// The answer to a plain HTTP request, given in on_http (on the loop thread).
class Response {
 public:
  // The response: status, Content-Type and body (Content-Length is added).
  void send(int status, std::string_view content_type, std::string_view body);
  // An extra header field (names or values with CR, LF or NUL are refused).
  void add_header(std::string name, std::string value);
  // Ends the connection after this response (otherwise HTTP/1.1 keep-alive).
  void close_connection() noexcept { close_ = true; }
  // Whether send() was called.
  bool sent() const noexcept { return status_ != 0; }

 private:
  friend class detail::Connection;
  int status_ = 0;
  std::string content_type_;
  std::string body_;
  HeaderList headers_;
  bool close_ = false;
};

// Counters, readable from any thread (each is exact; together they are a near-instant snapshot).
struct ServerStats {
  std::uint64_t connections = 0;                // open WebSocket connections
  std::uint64_t messages_in = 0;                // data messages received
  std::uint64_t messages_out = 0;               // data messages sent
  std::uint64_t bytes_in = 0;                   // payload bytes
  std::uint64_t bytes_out = 0;                  // payload bytes
  std::uint64_t dropped_sends = 0;              // sends refused by the slow-consumer policy
  std::uint64_t backpressured_connections = 0;  // connections with bytes waiting right now
  // Bytes held right now by messages received in part, as counted against max_assembly_bytes.
  std::uint64_t assembly_bytes = 0;
};

// What a hand-over of a socket from another HTTP server produced.
struct HandoverResult {
  bool accepted = false;  // fastws took the socket (and the TLS session, if one came)
  // When refused: a complete HTTP response for the host server to send (fastws did not take
  // the socket; the host still owns it).
  std::string response;
  std::string error;  // why it was refused
};

// A TLS session that the application established with OpenSSL on a socket it hands to fastws
// (Server::handover, Server::adopt); see docs/tls.md.
//
// What the application must hand over, so that no byte of the conversation is lost: every byte
// it read from the socket is either in the SSL (decrypted and not yet read, or ciphertext still
// in its read BIO, a memory BIO or a BIO pair as Boost.Asio's ssl::stream makes), or in
// `unread_ciphertext`, or decrypted in the request bytes; and every byte the SSL wrote has been
// sent (when some still waits in its write BIO, the hand-over is refused).
//
// Ownership: when the hand-over is accepted, fastws owns the SSL and frees it (SSL_free) when
// the connection ends; the application must not use it any more. If something else will free it
// too (Asio's ssl::stream does in its destructor), call SSL_up_ref() before handing it over.
// fastws replaces the SSL's BIOs with its own socket BIO on the fd and frees the old ones: the
// application's half of a BIO pair stays the application's to free. The SSL keeps its own SSL_CTX
// (ServerOptions::tls is not used for it). When the hand-over is refused, nothing was changed
// and the SSL is still the application's.
struct TlsSession {
  ssl_st* ssl = nullptr;  // the server-side SSL*, its handshake finished
  // Ciphertext read from the socket but not given to the SSL; fastws reads it after what the
  // SSL's read BIO holds and before the socket.
  std::string_view unread_ciphertext;
};

// A WebSocket server (see the top of this file): listens, upgrades, runs the connections on
// its event loops; also serves plain HTTP requests and sockets handed over by other servers.
class Server : public ConnectionEvents {
 public:
  // Checks the options (std::invalid_argument for unusable ones, e.g. a zero limit or a TLS file
  // that cannot be loaded) and makes the event loops; nothing listens before listen() or run().
  explicit Server(ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Before the upgrade (auth, Origin, subprotocol, user data); the connection callbacks
  // (on_open, on_message, ...) are ConnectionEvents'.
  void on_upgrade(std::function<void(const Request&, Upgrade&)> handler);
  // Plain HTTP requests (404 when not set or when the handler sends nothing).
  void on_http(std::function<void(const Request&, Response&)> handler);

  // Binds the listening socket(s); run() calls it when it was not called. After it, port()
  // tells the port (useful with port 0).
  std::error_code listen();
  std::uint16_t port() const noexcept;
  // What the loops run on: epoll or io_uring (ServerOptions::backend, as the kernel allowed).
  IoBackend io_backend() const noexcept;
  // Runs the event loops until stop(); always returns.
  void run();
  // Instead of run(): the application's own event loop drives the server's loops (see
  // external_loop.hpp; fastws::asio::run_on does it on an io_context). Empty when they run
  // already (run(), or an earlier call). Does not listen: call listen() first for fastws's own
  // listening socket. stop() ends the loops as it ends run().
  std::vector<ExternalLoop> external_loops();
  // Graceful stop: stop accepting, close 1001 to everyone, wait for the close handshakes up to
  // close_timeout, close the sockets, return from run(). Any thread; async-signal-safe.
  void stop() noexcept;

  // The counters, summed over the loops (any thread).
  ServerStats stats() const noexcept;

  // Sends one message to every open connection (broadcast) or to the subscribers of a topic
  // (publish; `except` skips one connection, e.g. the sender). Any thread. The message is framed
  // once and each loop gets the shared bytes once; connections that cannot keep up follow the
  // slow-consumer policy without holding up the others. With permessage-deflate a message is
  // compressed once per window size for connections that agreed on server_no_context_takeover,
  // by each connection itself where context takeover requires it, and not when short.
  void broadcast(std::string_view text);
  void broadcast(std::span<const std::byte> data, Opcode op = Opcode::binary);
  void publish(std::string_view topic, std::string_view text, const Conn& except = {});
  void publish(std::string_view topic, std::span<const std::byte> data, Opcode op = Opcode::binary,
               const Conn& except = {});
  // publish() to the subscribers of this process only: what a TopicBridge delivers from other
  // processes (publish() itself also hands the message to the bridge, if one is attached).
  void publish_local(std::string_view topic, std::span<const std::byte> data,
                     Opcode op = Opcode::binary);
  // Scale-out: attaches a bridge to other processes (fastws::redis::attach() makes one). Before
  // run(), at most once; the server keeps it until it is destroyed, and tells it first.
  void attach_bridge(std::shared_ptr<TopicBridge> bridge);

  // Takes over a socket another HTTP server accepted, with the request bytes it already read
  // (Go's Hijack). On success fastws owns the fd; when refused, the host sends `response`.
  HandoverResult handover(int fd, std::string_view request_bytes);
  // The same over a TLS session the application established (TlsSession says what to hand over
  // and who owns what): `request_bytes` are the decrypted bytes it read. When refused, the host
  // sends `response` over its own TLS session: fastws took neither the socket nor the SSL.
  HandoverResult handover(int fd, TlsSession tls, std::string_view request_bytes);
  // The same for a connection whose bytes come from and go to `transport` (transport.hpp; an
  // Asio stream: fastws::asio::upgrade). It runs on one of the server's loops, which must be
  // driven from outside (external_loops()). The transport is taken only when accepted: when
  // refused, `transport` is left as it was, for the host to send `response` through it.
  HandoverResult handover(std::unique_ptr<Transport>&& transport, std::string_view request_bytes);
  // Serves an already-open socket (fastws reads the request itself).
  std::error_code adopt(int fd);
  // The same over an established TLS session (see TlsSession). std::errc::invalid_argument when
  // fastws cannot take the session (handover() says why in its error): the application keeps
  // the socket and the SSL.
  std::error_code adopt(int fd, TlsSession tls);

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fastws
