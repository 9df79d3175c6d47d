// Server options: small, declarative, with safe finite defaults for every limit.
//
//   fastws::Server server({.port = 9001, .threads = 2, .max_message_size = 1 << 20});
//
// Thread safety: plain values, copied into the server at construction.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "fastws/io_backend.hpp"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace fastws {

// TLS (wss://, RFC 6455 3 and 11.1.2): set the certificate and key files, or hand over your own
// SSL_CTX (client certificates, session tickets, ciphers: all yours). With files, fastws accepts
// TLS 1.2 and later and answers ALPN with "http/1.1"; your own SSL_CTX is used as it is (fastws
// changes nothing in it, so ALPN is yours to set). The handshake runs on the event loop,
// without blocking, and counts against `handshake_timeout`. A bad file makes the Server
// constructor throw std::invalid_argument with OpenSSL's reason.
struct TlsOptions {
  std::string certificate_file;   // PEM: the certificate, then any intermediates
  std::string key_file;           // PEM: its private key
  ssl_ctx_st* context = nullptr;  // or your SSL_CTX* (fastws takes a reference; files ignored)

  // Whether accepted connections speak TLS: a context or a certificate file is set.
  bool enabled() const noexcept { return context != nullptr || !certificate_file.empty(); }
};

// permessage-deflate (RFC 7692). Off by default: with context takeover zlib keeps about
// 256 KiB (deflate) + 40 KiB (inflate) per connection once used; `shared_compressor` or
// `no_context_takeover` on both sides (between messages a connection then holds nothing for
// compression: it costs what an uncompressed one does) and a lower `mem_level` cut that, at
// some cost in compression ratio.
struct CompressionOptions {
  bool enabled = false;                      // negotiate permessage-deflate when offered/accepted
  bool server_no_context_takeover = false;   // the server's compressor forgets after each message
  bool client_no_context_takeover = false;   // the client's compressor forgets after each message
  std::uint8_t server_max_window_bits = 15;  // 9..15 (zlib cannot compress with 8)
  std::uint8_t client_max_window_bits = 15;  // 8..15
  int level = 6;                             // zlib level 1..9
  int mem_level = 8;                         // zlib memLevel 1..9 (small lone messages use less)
  std::size_t min_size = 64;                 // shorter messages go uncompressed
  // Shared-compressor mode (uWebSockets' SHARED_COMPRESSOR): each of our messages is compressed
  // on its own, by one deflate stream per event loop (per thread) that every connection uses in
  // turn, reset between messages; a connection holds it only while it streams a message in
  // fragments. Negotiates: a server adds server_no_context_takeover to its response (RFC 7692
  // 7.1.1.1 lets it), a client offers client_no_context_takeover. Memory: zlib's deflate state
  // per loop instead of per connection: ~260 KiB (at window 15, memLevel 8) for messages
  // streamed in pieces or too large for a smaller window, and for each size of whole message
  // sent a stream just large enough for it (window and hash table: ~30 KiB for 1 KiB
  // messages), which is what makes its reset after every message cheap.
  // Cost: ratio, for messages that repeat earlier ones (one message's compression cannot refer
  // to the last): 120-byte JSON messages of one schema come out at 79% of their size instead of
  // 21% (3.9x the bytes), 2.5 KB ones at 19% instead of 15% (1.3x).
  // Incoming messages are inflated by one stream per loop as well when the peer agreed to drop
  // its context (here: client_no_context_takeover = true asks a client for it, which costs the
  // client's ratio the same way; uWS's SHARED_DECOMPRESSOR); otherwise each connection keeps
  // its own inflater (~40 KiB once used), the peer's messages referring to its earlier ones.
  // Whatever this says, a direction agreed without context takeover uses the shared stream.
  bool shared_compressor = false;
};

// What to do with a send that would take a connection's buffered bytes over the limit.
enum class SlowConsumerPolicy : std::uint8_t {
  drop,   // drop that message, count it, report SendStatus::dropped; the connection stays
  close,  // close the connection (1008: it cannot keep up); this and later sends report dropped
};

// Which browser origins may open WebSockets (the Origin header, RFC 6455 10.2). Requests without
// an Origin header come from non-browser clients and are always allowed (decide about those in
// on_upgrade); the policy, `check` included, judges requests that carry one.
struct OriginPolicy {
  // How the Origin header is judged.
  enum class Mode : std::uint8_t {
    same_origin,  // Origin's host[:port] must equal the Host header (default)
    allow_list,   // Origin must equal one of `allowed` exactly (scheme://host[:port])
    any,          // no check
    custom,       // `check(origin, host)` decides
  };
  Mode mode = Mode::same_origin;     // same_origin by default
  std::vector<std::string> allowed;  // for allow_list: "https://example.com", exactly
  std::function<bool(std::string_view origin, std::string_view host)> check;  // for custom
};

// Everything a Server is configured with (aggregate: designated initializers read well).
struct ServerOptions {
  // Where to listen. `host` is a numeric IPv4/IPv6 address, "localhost", or empty for all IPv4
  // addresses; `unix_path` (if set) listens on a Unix domain socket instead.
  std::string host = "0.0.0.0";
  std::uint16_t port = 8080;
  std::string unix_path;
  bool ipv6_only = false;                    // for IPv6 hosts: refuse IPv4-mapped connections
  unsigned threads = 0;                      // event loops; 0 = one per core
  IoBackend backend = IoBackend::automatic;  // epoll unless FASTWS_IO_BACKEND=io_uring

  // Limits. Zero is not "unlimited": the Server constructor refuses a zero message size,
  // header size or connection count (std::invalid_argument), since nothing could get through.
  std::size_t max_message_size = 16u << 20;  // after decompression; larger -> close 1009
  std::size_t max_header_size = 16u << 10;   // HTTP request head; larger -> 431
  std::size_t max_connections = 100'000;     // further connections are closed at accept
  // Bytes a connection may hold for a peer slower than we send (what the kernel has not taken,
  // plus sends queued from other threads or waiting for a streamed message). A message that would
  // take the connection over it gets `slow_consumer`, with one exception: a message larger than
  // the limit is admitted when nothing waits (an empty buffer). So with the defaults every message
  // the server accepts (up to max_message_size, 16 MiB) can be answered with one of the same
  // size, one at a time, while a peer that does not read holds at most 4 MiB of small messages.
  // We chose this over deriving the limit from max_message_size (16 MiB of small messages per
  // slow peer) and over refusing a limit below the message size (every server answering large
  // messages would need a larger limit, for all of its traffic). The exception keeps the memory
  // bound: the limit, or one message alone. Streamed messages (Writer, fragmented send_frame) are
  // judged at their first piece and then finished, up to max_buffered_bytes + max_message_size;
  // past that the connection is closed (1008) rather than the message cut (see Writer).
  // A server also stops reading a connection's input (in every phase) while its backlog is near
  // the limit: over the limit less one read (256 KiB, or half the limit if that is less, at least
  // 16 KiB), until it is written out below that. In the WebSocket phase a turn then takes in no
  // more than what is left under the limit, so answers no bigger than what they answer (an echo)
  // stay under it: a peer that pipelines messages and reads slowly is held back by TCP and loses
  // none (a handler that answers with more can still meet `slow_consumer`). Plain-HTTP responses,
  // which cannot be dropped, stop being made over the limit, so a peer that pipelines requests
  // and never reads holds about this much at most (plus the responses of one turn) and is then
  // cut by the keep-alive or write timeout. A client keeps reading.
  std::size_t max_buffered_bytes = 4u << 20;
  // Server-wide: the memory held by messages received in part (the reassembly buffer of a
  // message whose frames span reads, the inflated output of a compressed one), summed over the
  // connections, as allocated. Over it, the connection with the largest message in assembly is
  // closed (with several threads: the largest on the loop whose read took the total over), not
  // necessarily the one that grew: 1013 "try again later" when the server is full, 1009 when
  // that message alone holds more than this budget. The check follows each turn of a connection
  // on its loop, and a turn inflates about 16 KiB of a compressed message (held in 64 KiB
  // blocks), so the total passes the budget by a block or so per loop before the largest message
  // is closed. Counted in 16 KiB steps: a message held under 16 KiB, or one that arrives whole in
  // one read, costs nothing here. Without this bound, 30 peers each sending 16 KB of deflate that
  // inflates to an unfinished 16 MiB - 1 message held 535 MB; with it they hold 64 MiB (peak RSS
  // 73 MiB). The others bound each connection only: uWebSockets maxPayloadLength 16 KiB, Python
  // websockets max_size 1 MiB, Node ws maxPayload 100 MiB (30 such peers: 480 KiB, 30 MiB,
  // 3 GB); fastws allows 16 MiB per message and 64 MiB in all.
  std::size_t max_assembly_bytes = 64u << 20;
  SlowConsumerPolicy slow_consumer = SlowConsumerPolicy::drop;
  // Topics one connection may be in at once (each costs about 100 bytes plus its name when it
  // is the topic's first member). Conn::subscribe beyond it returns false and changes nothing;
  // the connection stays open, and unsubscribing frees a place.
  std::size_t max_topics_per_connection = 10'000;
  // Pipelined plain-HTTP requests answered per connection per turn of its event loop (1 to
  // 255; 0 counts as 1, more as 255); the rest wait for its next turn, after the other connections
  // ready then (fairness; nothing is refused).
  std::size_t http_requests_per_turn = 32;

  // Timeouts (zero disables one).
  std::chrono::milliseconds handshake_timeout{10'000};  // accept -> upgrade (slowloris)
  std::chrono::milliseconds idle_timeout{120'000};      // no frame received -> close 1001
  std::chrono::milliseconds ping_interval{0};           // send a ping after this much silence
  std::chrono::milliseconds pong_timeout{10'000};       // no pong after our ping -> close
  std::chrono::milliseconds close_timeout{5'000};       // close handshake -> drop the socket
  // Our bytes wait and the peer takes none of them for this long -> drop the socket (1006).
  // A peer that reads however slowly is never cut; one that never reads but keeps sending is.
  std::chrono::milliseconds write_timeout{30'000};
  std::chrono::milliseconds http_keepalive_timeout{5'000};  // idle plain-HTTP connection
  // A message must be complete this long after its first frame arrived; later fragments do not
  // extend it (while every input pushes the idle timeout back, which let a peer hold a message
  // in assembly for ever). Over it -> close 1008: a slow message breaks no rule of RFC 6455
  // (1002 would blame the peer's protocol), only the server's policy. Checked every quarter of
  // the timeout; with stream_fragments too. 60 s lets a 16 MiB message in at 280 KB/s; raise it
  // for slower uploads.
  std::chrono::milliseconds message_timeout{60'000};

  CompressionOptions compression;  // permessage-deflate, off by default
  // Accepted connections speak TLS when enabled. Sockets given to Server::adopt or
  // Server::handover are plain unless they come with their own TLS session (TlsSession).
  TlsOptions tls;
  OriginPolicy origin;  // which browser origins may open WebSockets
  // Subprotocols in the server's order of preference; the first one the client offers wins.
  std::vector<std::string> subprotocols;
  // Deliver large messages in pieces to on_fragment instead of whole to on_message.
  bool stream_fragments = false;
  // Answer pings automatically (the pong carries the ping's payload).
  bool auto_pong = true;
};

}  // namespace fastws
