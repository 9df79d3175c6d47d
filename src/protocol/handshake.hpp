// The WebSocket opening handshake (RFC 6455 section 4): the pieces both roles share. The server
// side is in handshake_server.hpp, the client side in handshake_client.hpp.
//
// Sans-I/O and pure: no sockets, no clocks; safe to call from any thread.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace fastws::protocol {

// The GUID every accept key is derived with (RFC 6455 section 1.3).
inline constexpr std::string_view websocket_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// Header fields a user adds to a request or response: {name, value}.
using HeaderPairs = std::span<const std::pair<std::string, std::string>>;

// Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)), RFC 6455 4.2.2.
// "dGhlIHNhbXBsZSBub25jZQ==" gives "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".
std::string compute_accept_key(std::string_view sec_websocket_key);

// Standard base64 with padding (RFC 4648 section 4).
std::string base64_encode(std::span<const unsigned char> bytes);

// The reason phrase of a status ("Switching Protocols", "Bad Request"); "" when unknown.
std::string_view reason_phrase(int status) noexcept;

// Which fields a user may add to a handshake message.
enum class UserHeaderRules : unsigned char {
  // Client requests and 101 responses: the handshake sets Upgrade, Connection, Host, the
  // framing fields and every Sec-WebSocket-* field itself.
  websocket_message,
  // Refusals: only Connection, Upgrade, Host and the framing fields are reserved (a 426 may
  // carry Sec-WebSocket-Version).
  rejection,
};

// Checks fields a user asked to add: names must be tokens, values free of control characters
// (no CR, LF or NUL: no header injection), no reserved name. Returns nullptr when all are
// acceptable, else a fixed readable reason.
const char* check_user_headers(HeaderPairs headers, UserHeaderRules rules) noexcept;

// Appends "name: value" CRLF.
void append_field(std::string& out, std::string_view name, std::string_view value);

}  // namespace fastws::protocol
