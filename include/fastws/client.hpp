// Client: dials ws:// and wss:// and gives the same Conn and the same callbacks as the Server.
//
//   fastws::Client client;                         // its own event loop thread(s)
//   client.on_open([](const fastws::Conn& c) { c.send("subscribe ticker"); });
//   client.on_message([](const fastws::Conn& c, fastws::Message m) { /* ... */ });
//   client.on_error([](const fastws::Conn&, const fastws::CloseStatus& s) { /* s.error */ });
//   fastws::Conn feed = client.connect("wss://feed.example/ws", {
//       .headers = {{"Authorization", "Bearer ..."}},
//       .proxy = "socks5://127.0.0.1:1080",            // or from HTTP(S)_PROXY / NO_PROXY
//       .reconnect = {.initial_delay = 500ms, .max_delay = 30s},
//   });
//
// Threading: the same contract as the Server (conn.hpp): the client runs its own event loops
// (ClientOptions::threads) from construction to destruction, or a server's (Client(server));
// each connection stays on one loop and its callbacks run there one at a time. connect() and
// every Conn method may be called from any thread. Set the callbacks before the first connect().
//
// A Conn is usable from on_open on: until then (while the client dials) sends report `closed`
// and nothing is queued, so send the first messages from on_open. close() and terminate() on a
// connection still opening cancel the dial (no on_error, no on_close: the application ended it).
// stop() ends the dials in progress with on_error (1006, "the dial was cancelled: the client is
// stopping"; ConnectError::stopped for connect_and_wait).
//
// TLS verifies the server by default: the system's CA store (or the CA file/directory given),
// the host name or IP address of the URL against the certificate, SNI for names.
#pragma once

#include <any>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fastws/conn.hpp"
#include "fastws/connection_events.hpp"
#include "fastws/external_loop.hpp"
#include "fastws/options.hpp"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace fastws {

// How a client checks the servers it dials over wss:// (verification is on by default).
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

// Everything a Client is configured with.
struct ClientOptions {
  unsigned threads = 1;  // event loops; ignored by Client(server), which uses the server's
  IoBackend backend = IoBackend::automatic;  // as ServerOptions::backend
  // No threads of the client's own: the application's event loop drives the loops through
  // external_loops() (fastws::asio::run_on does it on an io_context). Ignored by Client(server).
  bool drive_loops_externally = false;

  // Limits (as in ServerOptions).
  std::size_t max_message_size = 16u << 20;  // after decompression; larger -> close 1009
  std::size_t max_header_size = 16u << 10;   // the server's response head
  // Per connection, as in ServerOptions, with one difference: a client keeps reading while its
  // output is near or over the limit (a server stops), so that a fastws client and a fastws server
  // that send each other large messages never both wait for the other to read.
  std::size_t max_buffered_bytes = 4u << 20;
  // Client-wide: memory held by messages received in part, over all connections (see
  // ServerOptions::max_assembly_bytes). Over it, the connection with the largest message in
  // assembly is closed: 1013, or 1009 when that message alone holds more than the budget.
  std::size_t max_assembly_bytes = 64u << 20;
  SlowConsumerPolicy slow_consumer = SlowConsumerPolicy::drop;

  // Timeouts (zero disables one).
  std::chrono::milliseconds connect_timeout{10'000};    // TCP connect, every address in turn
  std::chrono::milliseconds handshake_timeout{15'000};  // connect() -> on_open, all included
  std::chrono::milliseconds idle_timeout{0};            // no frame received -> close 1001
  std::chrono::milliseconds ping_interval{0};           // send a ping after this much silence
  std::chrono::milliseconds pong_timeout{10'000};       // no pong after our ping -> close
  std::chrono::milliseconds close_timeout{5'000};       // close handshake -> drop the socket
  std::chrono::milliseconds write_timeout{30'000};      // the server takes none of our bytes
  // A message must be complete this long after its first frame arrived -> else close 1008
  // (see ServerOptions::message_timeout).
  std::chrono::milliseconds message_timeout{60'000};

  IpFamily ip_family = IpFamily::any;  // through a proxy: for the proxy's own address

  // The proxy every connection of this client goes through (ConnectOptions::proxy overrides it
  // for one connection):
  //   ""     none: connections go directly (the default; the environment is not read);
  //          "direct" says the same.
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
  ClientTlsOptions tls;           // wss:// verification and client certificates
  bool stream_fragments = false;  // deliver large messages in pieces to on_fragment
  bool auto_pong = true;          // answer pings automatically
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

// What ReconnectPolicy::on_attempt is told before each attempt, and may change.
struct ReconnectAttempt {
  // 1 for the first attempt after a connection was lost or after connect()'s own attempt
  // failed, then 2, 3... until a connection opens again.
  unsigned number = 0;
  std::chrono::milliseconds delay{0};  // how long the client waited before this attempt
  // How the previous connection ended: an opened one's close (on_close's status: the server's
  // code and reason, or 1006 and an error), or why the previous attempt did not open (the
  // status on_error would have had; `failure` and `http_status` as in ConnectResult).
  CloseStatus last_error;
  ConnectError failure = ConnectError::none;  // none when the previous connection had opened
  int http_status = 0;  // the status of the previous attempt's response, when it had one
  // Where this attempt dials and with what extra request fields: change them here (a new
  // token, another server) for this attempt and the later ones. The rest of ConnectOptions
  // stays as it was given.
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // extra request fields
};

// Dialing again when a connection is lost or an attempt fails: on for a connection given a
// policy (`.reconnect = {.initial_delay = 500ms, .max_delay = 30s}`, or `.reconnect = {}` for
// the defaults); ConnectOptions' own default is a policy with `enabled = false`.
//
// Each attempt is a connection of its own, with a Conn of its own: on_open reports the ones
// that open (from their on_open on, send through that Conn), on_close the end of each, and
// the handle connect() returned keeps referring to the first attempt. Give each connection
// its state through ConnectOptions::user_data, copied into every attempt's connection (a
// shared_ptr there is shared by all of them).
//
// The client dials again after a connection it opened ends for any reason other than the
// application's (Conn::close, Conn::terminate, stop(), the destructor): the server closing
// (whatever its code, 1000 and 1001 included: ask on_attempt to decide otherwise), a lost
// connection, a protocol error or a limit. It dials again after an attempt that failed
// (refused, unresolved, TLS, a status other than 101, a timeout), connect()'s first attempt
// included; not after one whose URL or headers cannot make a request (invalid_request: it
// would fail the same way). Failed attempts that will be tried again are not reported to
// on_error (on_attempt hears of them in last_error); the failure of the last one (max_attempts
// reached) is, with "(gave up after N reconnection attempts)" at the end of its error. A
// failed first attempt of connect_and_wait() is its result, and the reconnection goes on in
// the background.
//
// Delays: the n-th attempt waits min(max_delay, initial_delay * multiplier^(n-1)) shortened by
// a random fraction up to `jitter` (0.2: between 80% and 100% of it), so that clients cut off
// together do not come back together; the loop's timers make it up to 100 ms longer. The
// count starts again when a connection opens. Timers run on the connection's loop: no thread
// sleeps. stop() and the destructor end every reconnection at once: a waiting one never makes
// its attempt; at most the one attempt the loop thread was beginning at that very moment goes
// ahead (its on_attempt may still run), and the shutdown closes its connection at once.
struct ReconnectPolicy {
  // A policy given is on; false only in ConnectOptions' default (or to switch one off).
  bool enabled = true;
  std::chrono::milliseconds initial_delay{500};  // before the first attempt again
  std::chrono::milliseconds max_delay{30'000};   // the most any attempt waits
  double multiplier = 2.0;                       // below 1 counts as 1
  double jitter = 0.2;                           // 0 to 1
  // Attempts in a row without a connection opening; 0 = no limit.
  unsigned max_attempts = 0;
  // Before each attempt, on the loop thread (like the other callbacks: do not block): may
  // change the URL and the headers; false ends the reconnection (no attempt, no on_error). An
  // exception ends it as well. To end a reconnection while it waits for its time, let this
  // return false: it is asked before every attempt.
  std::function<bool(ReconnectAttempt&)> on_attempt;
};

// One connection's request.
struct ConnectOptions {
  std::vector<std::pair<std::string, std::string>> headers;  // extra request fields
  std::vector<std::string> subprotocols;                     // offered in this order
  std::string origin;                                        // sent when not empty
  std::any user_data;  // readable with Conn::user_data<T>() from on_open on
  // The proxy of this connection, overriding ClientOptions::proxy for it: "" uses the client's
  // setting; "direct" goes without a proxy; "http://...", "socks5://..." or "env" as in
  // ClientOptions::proxy ("env" reads the environment at each attempt). A value that is none of
  // these fails the connection (invalid_request) before a byte is sent. Not for ws+unix://.
  std::string proxy;
  // Dial again when the connection is lost: give a policy to turn it on (see ReconnectPolicy).
  ReconnectPolicy reconnect{.enabled = false};
};

// What connect_and_wait() produced: an open connection, or why there is none.
struct ConnectResult {
  Conn conn;          // open, or empty
  CloseStatus error;  // 1006 and a readable reason when there is no connection
  ConnectError failure = ConnectError::none;  // which stage failed
  int http_status = 0;                        // the server's status, when it answered
  // True when the connection opened.
  explicit operator bool() const noexcept { return static_cast<bool>(conn); }
};

class Server;

// A WebSocket client (ws:// and wss://): dials on its own event loop(s), or on a Server's, and
// runs its connections with the same callbacks and Conn handles as a server's.
class Client : public ConnectionEvents {
 public:
  // Starts the event loop thread(s). Throws std::invalid_argument for unusable options (a TLS
  // file that cannot be loaded) and std::system_error when a loop cannot be made.
  explicit Client(ClientOptions options = {});
  // A client on the event loops of `server`, so that a process that serves and dials shares
  // its threads: each connection runs on one of the server's loops, its callbacks on that
  // loop's thread, beside the server's connections. The loops run while server.run() does:
  // connections dialed before it start when it starts. server.stop() closes this client's
  // connections too (1001) and ends its reconnections; connect() after the server's loops
  // ended returns an empty handle.
  // Lifetime: destroy the client before the server. Destroying it while the server runs
  // closes its connections (1001, waiting up to close_timeout) and leaves the server running;
  // after run() returned, or before it started, it returns at once (what was dialed but never
  // started is dropped). If the server is destroyed first, the client's connect() returns an
  // empty handle from then on, and its destructor returns at once.
  Client(Server& server, ClientOptions options = {});
  // Closes every connection (1001, waiting up to close_timeout) and joins the threads (a
  // client on a server's loops: see above).
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Dials `url` and returns at once. The URL is ws://host[:port][/path][?query], wss://..., or
  // ws+unix:///path/to/socket[:/path][?query] for a server on a Unix domain socket (the form
  // of Node's ws; the socket's path ends at the first ':', the request target is "/" when none
  // follows; Host is "localhost"; no proxy is used; remote_address() is "unix:/path/to/socket"),
  // or wss+unix://... for TLS over it, which verifies the server's certificate for "localhost".
  // The handle works at once (sends before on_open report `closed`); on_open follows when the
  // server accepted, or on_error (1006 and why: the URL, name resolution, connect, TLS, the
  // server's answer, a timeout) when it did not. After stop() the handle is empty.
  Conn connect(std::string_view url, ConnectOptions options = {});
  // Dials and waits until the connection is open or has failed (at most handshake_timeout).
  // Not from a callback of this client: its loop would wait for itself.
  ConnectResult connect_and_wait(std::string_view url, ConnectOptions options = {});

  // Closes every connection with 1001, ends every reconnection and ends the loops (a client on
  // a server's loops leaves them running); the destructor does it too. Any thread; later
  // connect() calls return an empty handle.
  void stop() noexcept;

  // With ClientOptions::drive_loops_externally: the loops, for the application's event loop to
  // drive (see external_loop.hpp); empty otherwise or when called before. stop() ends them.
  // Destroy the client only once they ended (or while nothing drives them).
  std::vector<ExternalLoop> external_loops();
  // What the loops run on: epoll or io_uring (ClientOptions::backend, or the server's).
  IoBackend io_backend() const noexcept;

  struct Impl;

 private:
  // `server`: the endpoint of the server whose loops the client shares, or null for its own.
  Client(std::unique_ptr<Impl> impl, detail::Endpoint* server);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fastws
