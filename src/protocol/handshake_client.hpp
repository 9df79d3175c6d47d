// The client side of the WebSocket opening handshake (RFC 6455 sections 3, 4.1): the URL, the
// request, and the checks on the server's answer.
//
// Everything a user can put into the request (URL parts, Origin, subprotocols, extra fields) is
// checked before a single byte is built, so a CR or LF smuggled into any of them cannot inject
// header lines.
//
// Sans-I/O. A ClientHandshakeRequest is immutable after creation: safe to share across threads.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fastws/request.hpp"
#include "protocol/handshake.hpp"
#include "protocol/http_parser.hpp"
#include "protocol/permessage_deflate.hpp"

namespace fastws::protocol {

// A ws:// or wss:// URL split for dialing (RFC 6455 section 3).
struct WebSocketUrl {
  bool secure = false;     // wss
  std::string host;        // an IPv6 literal without its brackets: "::1"
  std::uint16_t port = 0;  // 80 for ws, 443 for wss when the URL names none
  std::string target;      // path and query, "/" at least: "/chat?room=1"
  std::string unix_path;   // ws+unix, wss+unix: the socket's path (host "localhost")
};

// A DNS name or IPv4 address, or (with a colon) an IPv6 literal without brackets. Narrower than
// RFC 3986's reg-name on purpose: nothing here can end a Host field or a URL part.
bool is_valid_host(std::string_view host) noexcept;

// Parses `ws://host[:port][/path][?query]` and `wss://...`; hosts are names, IPv4 addresses or
// bracketed IPv6 literals. Refused, with `error` set: other schemes, user info ("user@host"),
// fragments (RFC 6455 section 3), ports outside 1..65535, spaces, control and non-ASCII bytes.
// Also `ws+unix://SOCKET[:/path][?query]` (Node ws's form) for a server on a Unix domain
// socket: SOCKET is the socket's path up to the first ':' ("ws+unix:///tmp/s:/chat" dials
// /tmp/s for /chat), the target "/" when none follows; `wss+unix://` the same over TLS, which
// verifies the name "localhost" (the Host field of both).
std::optional<WebSocketUrl> parse_websocket_url(std::string_view url, std::string& error);
// Whether `url` names a scheme over TLS (wss://, wss+unix://), looking at the scheme alone.
bool names_tls_scheme(std::string_view url) noexcept;

// What the request is made of. Views: they need to live only during create().
struct ClientRequestParts {
  std::string_view host;  // name, IPv4, or IPv6 literal without brackets
  std::uint16_t port = 80;
  bool secure = false;                        // only decides whether the port is the default one
  std::string_view target = "/";              // path and query
  std::string_view origin;                    // sent when not empty
  std::span<const std::string> subprotocols;  // offered in this order
  HeaderPairs headers;                        // extra fields
  const DeflateConfig* deflate = nullptr;     // offer permessage-deflate with this when set
};

// Sec-WebSocket-Key material: 16 random bytes (RFC 6455 4.1 item 7).
using HandshakeNonce = std::array<unsigned char, 16>;

// Each way a server's answer can fail the handshake (RFC 6455 4.1, the client's checks).
enum class ClientHandshakeError : std::uint8_t {
  none,
  malformed_response,          // not an HTTP/1.x response head, or over the limits
  not_switching_protocols,     // a status other than 101 (http_status tells which)
  missing_upgrade,             // no single "Upgrade: websocket"
  missing_connection_upgrade,  // Connection does not list "upgrade"
  bad_accept,                  // Sec-WebSocket-Accept missing, repeated or wrong
  unexpected_subprotocol,      // a subprotocol that was not offered, or several
  unexpected_extension,        // an extension not offered, or parameters outside the offer
};

const char* to_string(ClientHandshakeError error) noexcept;

struct ClientHandshakeResult {
  // complete: the server accepted; partial: the head is not all there yet; error: see `error`.
  HeadStatus status = HeadStatus::partial;
  // Bytes of the response head, once it is complete (also for a refusal). Bytes after it are
  // the server's first WebSocket frames (or the body of a refusal).
  std::size_t consumed = 0;
  ClientHandshakeError error = ClientHandshakeError::none;
  int http_status = 0;  // the server's status code, once known
  std::string message;  // when failed: readable, e.g. "server answered 200 OK"

  std::string subprotocol;               // the one the server chose, "" for none
  std::string extensions;                // Sec-WebSocket-Extensions as the server sent it
  std::optional<DeflateParams> deflate;  // set when permessage-deflate was agreed

  bool ok() const noexcept { return status == HeadStatus::complete; }
};

class ClientHandshakeRequest {
 public:
  // Checks the parts and builds the request with a fresh key from OpenSSL's CSPRNG. Returns
  // nullopt with `error` set when a part is invalid: a host, target or origin with a space,
  // control or non-ASCII byte; a subprotocol that is not a token, or listed twice; an extra
  // field check_user_headers refuses (Sec-WebSocket-*, Upgrade, Connection, Host, ...).
  static std::optional<ClientHandshakeRequest> create(const ClientRequestParts& parts,
                                                      std::string& error);
  // The same with a given nonce (tests, reproducible fuzzing).
  static std::optional<ClientHandshakeRequest> create(const ClientRequestParts& parts,
                                                      const HandshakeNonce& nonce,
                                                      std::string& error);

  // The request head to send.
  const std::string& bytes() const noexcept { return bytes_; }
  // Sec-WebSocket-Key as sent.
  const std::string& key() const noexcept { return key_; }

  // Checks the server's answer at the start of `buffer` (everything received so far).
  ClientHandshakeResult check_response(std::string_view buffer,
                                       std::span<HttpHeader> header_storage,
                                       const HttpLimits& limits = {}) const;

 private:
  ClientHandshakeRequest() = default;
  void check_negotiated(const ResponseHead& head, ClientHandshakeResult& result) const;

  std::string bytes_;
  std::string key_;
  std::string expected_accept_;
  std::vector<std::string> subprotocols_;
  std::optional<DeflateConfig> deflate_;
};

}  // namespace fastws::protocol
