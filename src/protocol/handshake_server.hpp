// The server side of the WebSocket opening handshake (RFC 6455 section 4.2): checking an upgrade
// request, choosing a subprotocol, and writing the 101 answer or a refusal.
//
// The steps are separate because the user's on_upgrade callback runs between them:
//   check_upgrade_request -> (on_upgrade, choose_subprotocol, negotiate_deflate_offer)
//   -> append_switching_protocols, or append_rejection.
//
// Sans-I/O and pure: safe to call from any thread.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fastws/request.hpp"
#include "protocol/handshake.hpp"

namespace fastws::protocol {

// Whether a request asks for a WebSocket at all (its Upgrade field lists "websocket"). Requests
// that do not are plain HTTP; those that do are checked with check_upgrade_request.
bool is_websocket_upgrade(const Request& request) noexcept;

// The outcome of checking an upgrade request. The views point into the request's buffer.
struct UpgradeCheck {
  int status = 0;           // 0: a valid upgrade; else the status to refuse it with
  const char* reason = "";  // when refused: fixed readable text, also the refusal's body
  // Sent with the refusal when set: Sec-WebSocket-Version: 13 with a 426, Allow: GET with a 405.
  HttpHeader required_field;

  std::string_view key;                        // Sec-WebSocket-Key
  std::string_view origin;                     // Origin ("" when absent: not a browser)
  std::vector<std::string_view> subprotocols;  // Sec-WebSocket-Protocol, all fields, in order
  std::string extensions;  // Sec-WebSocket-Extensions, repeated fields joined with ", "

  bool ok() const noexcept { return status == 0; }
};

// Checks the client's opening handshake (RFC 6455 4.2.1), in this order:
//   405 method other than GET; 400 HTTP/1.0; 400 missing, repeated or empty Host;
//   400 Upgrade without "websocket"; 400 Connection without "upgrade";
//   426 Sec-WebSocket-Version missing, repeated or not exactly 13 (with Sec-WebSocket-Version: 13);
//   400 Sec-WebSocket-Key missing, repeated, or not base64 of 16 bytes;
//   400 more than one Origin; 400 a subprotocol that is not a token.
// Linear in the size of the request.
UpgradeCheck check_upgrade_request(const Request& request);

// The first subprotocol of the server's preference list that the client offered; "" for none.
// Names compare exactly (case-sensitive).
std::string_view choose_subprotocol(std::span<const std::string> preferred,
                                    std::span<const std::string_view> offered) noexcept;

// Appends the 101 answer (RFC 6455 4.2.2): status line, Upgrade, Connection,
// Sec-WebSocket-Accept for `key`, Sec-WebSocket-Protocol and Sec-WebSocket-Extensions when not
// empty, then `extra` fields. Returns false and appends nothing if the subprotocol is not a
// token, the extensions value has control characters or `extra` fails check_user_headers.
bool append_switching_protocols(std::string& out, std::string_view key,
                                std::string_view subprotocol, std::string_view extensions,
                                HeaderPairs extra = {});

// Appends a complete refusal that ends the connection: the status line with its reason phrase,
// Upgrade: websocket for a 426 (RFC 7231 6.5.15), `extra` fields, Connection: close,
// Content-Type: text/plain (unless `extra` has one), Content-Length and the body. Returns false
// and appends nothing for a status outside 200..599 or fields check_user_headers refuses.
bool append_rejection(std::string& out, int status, std::string_view body, HeaderPairs extra = {});
// The refusal for a failed check (!failed.ok()): its status and required field, its reason as
// the body.
void append_rejection(std::string& out, const UpgradeCheck& failed);

}  // namespace fastws::protocol
