// Client: dials ws:// and wss:// and gives the same Conn and the same callbacks as the Server.
//
//   fastws::Client client;                         // its own event loop thread(s)
//   client.on_open([](const fastws::Conn& c) { c.send("subscribe ticker"); });
//   client.on_message([](const fastws::Conn& c, fastws::Message m) { /* ... */ });
//   client.on_error([](const fastws::Conn&, const fastws::CloseStatus& s) { /* s.error */ });
//   fastws::Conn feed = client.connect("wss://feed.example/ws", {.headers = {{"Authorization",
//   "Bearer x"}}});
//
// Threading: the same contract as the Server (conn.hpp): the client runs its own event loops
// (ClientOptions::threads) from construction to destruction; each connection stays on one loop
// and its callbacks run there one at a time. connect() and every Conn method may be called from
// any thread. Set the callbacks before the first connect().
//
// TLS verifies the server by default: the system's CA store (or the CA file/directory given),
// the host name or IP address of the URL against the certificate, SNI for names.
#pragma once

#include <any>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fastws/conn.hpp"
#include "fastws/connection_events.hpp"
#include "fastws/options.hpp"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace fastws {

struct ClientTlsOptions {
  // Trusted CAs (PEM file and/or OpenSSL hashed directory). Neither: the system's store.
  std::string ca_file;
  std::string ca_directory;
  // A client certificate chain and its key (PEM), for servers that ask for one.
  std::string certificate_file;
  std::string key_file;
  // Your own SSL_CTX, used as it is (verification settings included); the fields above are
  // ignored. fastws still sets SNI and the expected host name on each connection.
  ssl_ctx_st* context = nullptr;
  // Accepts any certificate for any name: anyone on the path can read and change the traffic.
  // For tests against self-signed servers only.
  bool insecure_skip_verification = false;
};

// Which addresses of a name to try.
enum class IpFamily : std::uint8_t { any, ipv4, ipv6 };

struct ClientOptions {
  unsigned threads = 1;  // event loops

  // Limits (as in ServerOptions).
  std::size_t max_message_size = 16u << 20;  // after decompression; larger -> close 1009
  std::size_t max_header_size = 16u << 10;   // the server's response head
  // Per connection, as in ServerOptions, with one difference: a client keeps reading while its
  // output is over the limit (a server stops), so that a fastws client and a fastws server that
  // send each other large messages never both wait for the other to read.
  std::size_t max_buffered_bytes = 4u << 20;
  SlowConsumerPolicy slow_consumer = SlowConsumerPolicy::drop;

  // Timeouts (zero disables one).
  std::chrono::milliseconds connect_timeout{10'000};    // TCP connect, every address in turn
  std::chrono::milliseconds handshake_timeout{15'000};  // connect() -> on_open, all included
  std::chrono::milliseconds idle_timeout{0};            // no frame received -> close 1001
  std::chrono::milliseconds ping_interval{0};           // send a ping after this much silence
  std::chrono::milliseconds pong_timeout{10'000};       // no pong after our ping -> close
  std::chrono::milliseconds close_timeout{5'000};       // close handshake -> drop the socket
  std::chrono::milliseconds write_timeout{30'000};      // the server takes none of our bytes

  IpFamily ip_family = IpFamily::any;  // through a proxy: for the proxy's own address

  // The proxy every connection of this client goes through:
  //   ""     none: connections go directly (the default; the environment is not read).
  //   "http://[user:password@]host[:port]"   an HTTP proxy: a CONNECT tunnel, for ws:// and
  //          wss:// alike, with Basic credentials when given (port 80 when none is named; no
  //          scheme means http://). Percent-escape '@', ':' and '%' in credentials.
  //   "socks5://[user:password@]host[:port]" a SOCKS5 proxy (RFC 1928), username/password
  //          (RFC 1929) when given; port 1080 by default. Names are resolved by the proxy, so
  //          socks5h:// is the same. https:// proxies (TLS to the proxy) are not supported.
  //   "env"  from the environment, read once, when the Client is constructed: https_proxy for
  //          wss://, http_proxy for ws://, all_proxy for either when its own is unset; each
  //          lowercase first, then uppercase. no_proxy (or NO_PROXY) lists hosts reached
  //          directly: comma-separated names, matching their subdomains too ("example.com",
  //          ".example.com", "*.example.com"), IP addresses (exactly, no CIDR), each with an
  //          optional ":port", or "*". Loopback is proxied too unless listed there.
  // The proxy's name is resolved off the loops; connect_timeout bounds the connect to the
  // proxy, and then the proxy's answer, each. TLS verifies the target's name, never the
  // proxy's, and Conn::remote_address() is the proxy's address. Errors name the proxy:
  // "HTTP proxy 127.0.0.1:3128: refused CONNECT: 407 Proxy Authentication Required",
  // "SOCKS5 proxy 10.0.0.1:1080: connection refused by destination (5)". A value that is
  // neither makes the constructor throw std::invalid_argument; a bad environment value fails
  // each connection that would use it, naming the variable.
  std::string proxy;
  // Offered when enabled: each parameter as set (server_no_context_takeover asks the server
  // not to keep its context; client_max_window_bits is offered as our window).
  CompressionOptions compression;
  ClientTlsOptions tls;
  bool stream_fragments = false;  // deliver large messages in pieces to on_fragment
  bool auto_pong = true;
};

// One connection's request.
struct ConnectOptions {
  std::vector<std::pair<std::string, std::string>> headers;  // extra request fields
  std::vector<std::string> subprotocols;                     // offered in this order
  std::string origin;                                        // sent when not empty
  std::any user_data;  // readable with Conn::user_data<T>() from on_open on
};

// Why a connection did not open.
enum class ConnectError : std::uint8_t {
  none,
  invalid_request,  // refused before a byte was sent: the URL, a header, a subprotocol
  resolve,          // the host name did not resolve
  connect,          // no address of the host took the TCP connection
  tls,              // the TLS handshake failed (certificate verification included)
  http_status,      // the server answered with a status other than 101 (see http_status)
  handshake,        // the answer broke RFC 6455 (Upgrade, Accept, extensions...), or none came
  timeout,          // connect_timeout or handshake_timeout passed
  stopped,          // the client stopped first
};

// What connect_and_wait() produced: an open connection, or why there is none.
struct ConnectResult {
  Conn conn;          // open, or empty
  CloseStatus error;  // 1006 and a readable reason when there is no connection
  ConnectError failure = ConnectError::none;
  int http_status = 0;  // the server's status, when it answered
  explicit operator bool() const noexcept { return static_cast<bool>(conn); }
};

class Client : public ConnectionEvents {
 public:
  // Starts the event loop thread(s). Throws std::invalid_argument for unusable options (a TLS
  // file that cannot be loaded) and std::system_error when a loop cannot be made.
  explicit Client(ClientOptions options = {});
  // Closes every connection (1001, waiting up to close_timeout) and joins the threads.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Dials `url` (ws://host[:port][/path][?query] or wss://...) and returns at once. The handle
  // works at once (sends before on_open report `closed`); on_open follows when the server
  // accepted, or on_error (1006 and why: the URL, name resolution, connect, TLS, the server's
  // answer, a timeout) when it did not. After stop() the handle is empty.
  Conn connect(std::string_view url, ConnectOptions options = {});
  // Dials and waits until the connection is open or has failed (at most handshake_timeout).
  // Not from a callback of this client: its loop would wait for itself.
  ConnectResult connect_and_wait(std::string_view url, ConnectOptions options = {});

  // Closes every connection with 1001 and ends the loops (the destructor does it too). Any
  // thread; later connect() calls return an empty handle.
  void stop() noexcept;

  struct Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fastws
