#include "protocol/handshake_client.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <charconv>

namespace fastws::protocol {

namespace {

constexpr bool is_visible_ascii(char c) noexcept {
  return c > 0x20 && c < 0x7f;
}

bool is_visible_ascii(std::string_view text) noexcept {
  return std::all_of(text.begin(), text.end(), [](char c) { return is_visible_ascii(c); });
}

constexpr bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

constexpr bool is_hex(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

bool is_valid_host(std::string_view host) noexcept {
  if (host.empty()) return false;
  if (host.find(':') != std::string_view::npos) {
    return std::all_of(host.begin(), host.end(),
                       [](char c) { return is_hex(c) || c == ':' || c == '.'; });
  }
  return std::all_of(host.begin(), host.end(), [](char c) {
    return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
  });
}

namespace {

// origin-form (RFC 7230 5.3.1): an absolute path and an optional query, no fragment.
bool is_valid_target(std::string_view target) noexcept {
  return target.starts_with('/') && is_visible_ascii(target) &&
         target.find('#') == std::string_view::npos;
}

std::string host_field(std::string_view host, std::uint16_t port, bool secure) {
  const bool ipv6 = host.find(':') != std::string_view::npos;
  std::string field;
  field.append(ipv6 ? "[" : "").append(host).append(ipv6 ? "]" : "");
  // RFC 6455 4.1 item 4: the port is named unless it is the scheme's default.
  if (port != (secure ? 443 : 80)) field.append(":").append(std::to_string(port));
  return field;
}

const char* check_parts(const ClientRequestParts& parts) noexcept {
  if (!is_valid_host(parts.host)) return "invalid host (empty, or a character not allowed)";
  if (parts.port == 0) return "invalid port 0";
  if (!is_valid_target(parts.target)) {
    return "invalid path or query (must start with '/', no space, control or non-ASCII byte, "
           "no fragment)";
  }
  if (!is_visible_ascii(parts.origin)) return "invalid Origin (space, control or non-ASCII byte)";
  for (std::size_t i = 0; i < parts.subprotocols.size(); ++i) {
    const std::string& name = parts.subprotocols[i];
    if (!is_token(name)) return "subprotocol name is not a token";
    const auto earlier = parts.subprotocols.first(i);
    if (std::find(earlier.begin(), earlier.end(), name) != earlier.end()) {
      return "subprotocol listed twice";
    }
  }
  return check_user_headers(parts.headers, UserHeaderRules::websocket_message);
}

std::string joined(std::span<const std::string> names) {
  std::string list;
  for (const std::string& name : names) {
    if (!list.empty()) list.append(", ");
    list.append(name);
  }
  return list;
}

void fail(ClientHandshakeResult& result, ClientHandshakeError error, std::string message) {
  result.status = HeadStatus::error;
  result.error = error;
  result.message = std::move(message);
}

// What comes before "://", or "" when nothing does.
std::string_view scheme_of(std::string_view url) noexcept {
  const std::size_t scheme_end = url.find("://");
  return url.substr(0, scheme_end == std::string_view::npos ? 0 : scheme_end);
}

}  // namespace

bool names_tls_scheme(std::string_view url) noexcept {
  const std::string_view scheme = scheme_of(url);
  return iequals(scheme, "wss") || iequals(scheme, "wss+unix");
}

std::optional<WebSocketUrl> parse_websocket_url(std::string_view url, std::string& error) {
  const auto refuse = [&](const char* why) -> std::optional<WebSocketUrl> {
    error = why;
    return std::nullopt;
  };
  if (!is_visible_ascii(url)) return refuse("URL contains a space, control or non-ASCII byte");
  const std::string_view scheme = scheme_of(url);
  const std::string_view rest = url.substr(scheme.empty() ? 0 : scheme.size() + 3);
  if (rest.find('#') != std::string_view::npos) {
    return refuse("a WebSocket URL has no fragment (RFC 6455 section 3)");
  }
  WebSocketUrl parsed;
  if (iequals(scheme, "ws+unix") || iequals(scheme, "wss+unix")) {
    parsed.secure = iequals(scheme, "wss+unix");
    const std::size_t socket_end = rest.find(':');
    parsed.unix_path = std::string(rest.substr(0, socket_end));
    if (parsed.unix_path.empty()) return refuse("ws+unix: URL without a socket path");
    const std::string_view target =
        socket_end == std::string_view::npos ? "/" : rest.substr(socket_end + 1);
    if (!target.starts_with('/')) return refuse("ws+unix: the path after ':' must start with '/'");
    parsed.host = "localhost";  // the Host field, and the name TLS verifies for wss+unix
    parsed.port = parsed.secure ? 443 : 80;
    parsed.target = std::string(target);
    return parsed;
  }
  if (iequals(scheme, "wss")) {
    parsed.secure = true;
  } else if (!iequals(scheme, "ws")) {
    return refuse("URL must start with ws://, wss://, ws+unix:// or wss+unix://");
  }
  const std::size_t authority_end = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, authority_end);
  if (authority.find('@') != std::string_view::npos) return refuse("user info is not supported");

  std::string_view host = authority;
  std::string_view port_text;
  bool has_port = false;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return refuse("IPv6 literal without ']'");
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (host.find(':') == std::string_view::npos) return refuse("invalid IPv6 literal");
    if (!after.empty() && !after.starts_with(':')) return refuse("text after the IPv6 literal");
    has_port = !after.empty();
    if (has_port) port_text = after.substr(1);
  } else if (const std::size_t colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port_text = authority.substr(colon + 1);
    has_port = true;
  }
  if (!is_valid_host(host)) return refuse("invalid host");
  parsed.host = std::string(host);
  parsed.port = parsed.secure ? 443 : 80;
  if (has_port) {
    unsigned value = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (port_text.empty() || port_text.size() > 5 || ec != std::errc() ||
        end != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      return refuse("invalid port (1..65535)");
    }
    parsed.port = static_cast<std::uint16_t>(value);
  }
  const std::string_view target =
      authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  parsed.target.append(target.starts_with('/') ? "" : "/").append(target);
  return parsed;
}

const char* to_string(ClientHandshakeError error) noexcept {
  switch (error) {
    case ClientHandshakeError::none:
      return "none";
    case ClientHandshakeError::malformed_response:
      return "malformed_response";
    case ClientHandshakeError::not_switching_protocols:
      return "not_switching_protocols";
    case ClientHandshakeError::missing_upgrade:
      return "missing_upgrade";
    case ClientHandshakeError::missing_connection_upgrade:
      return "missing_connection_upgrade";
    case ClientHandshakeError::bad_accept:
      return "bad_accept";
    case ClientHandshakeError::unexpected_subprotocol:
      return "unexpected_subprotocol";
    case ClientHandshakeError::unexpected_extension:
      return "unexpected_extension";
  }
  return "unknown";
}

std::optional<ClientHandshakeRequest> ClientHandshakeRequest::create(
    const ClientRequestParts& parts, std::string& error) {
  HandshakeNonce nonce{};
  if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) {
    error = "no random bytes for Sec-WebSocket-Key";
    return std::nullopt;
  }
  return create(parts, nonce, error);
}

std::optional<ClientHandshakeRequest> ClientHandshakeRequest::create(
    const ClientRequestParts& parts, const HandshakeNonce& nonce, std::string& error) {
  if (const char* problem = check_parts(parts)) {
    error = problem;
    return std::nullopt;
  }
  ClientHandshakeRequest request;
  request.key_ = base64_encode(nonce);
  request.expected_accept_ = compute_accept_key(request.key_);
  request.subprotocols_.assign(parts.subprotocols.begin(), parts.subprotocols.end());
  if (parts.deflate != nullptr) request.deflate_ = *parts.deflate;

  // Field order as in the example of RFC 6455 section 1.2.
  std::string& out = request.bytes_;
  out.append("GET ").append(parts.target).append(" HTTP/1.1\r\n");
  append_field(out, "Host", host_field(parts.host, parts.port, parts.secure));
  append_field(out, "Upgrade", "websocket");
  append_field(out, "Connection", "Upgrade");
  append_field(out, "Sec-WebSocket-Key", request.key_);
  if (!parts.origin.empty()) append_field(out, "Origin", parts.origin);
  if (!parts.subprotocols.empty()) {
    append_field(out, "Sec-WebSocket-Protocol", joined(parts.subprotocols));
  }
  append_field(out, "Sec-WebSocket-Version", "13");
  if (request.deflate_) {
    append_field(out, "Sec-WebSocket-Extensions", make_deflate_offer(*request.deflate_));
  }
  for (const auto& [name, value] : parts.headers) append_field(out, name, value);
  out.append("\r\n");
  return request;
}

ClientHandshakeResult ClientHandshakeRequest::check_response(std::string_view buffer,
                                                             std::span<HttpHeader> header_storage,
                                                             const HttpLimits& limits) const {
  ClientHandshakeResult result;
  ResponseHead head;
  const HeadParseResult parsed = parse_response_head(buffer, head, header_storage, limits);
  if (parsed.partial()) return result;
  if (parsed.failed()) {
    fail(result, ClientHandshakeError::malformed_response,
         std::string("malformed response head: ") + parsed.error);
    return result;
  }
  result.consumed = parsed.consumed;
  result.http_status = head.status_code;
  if (head.status_code != 101) {
    // The reason phrase is the server's text: keep the message short.
    std::string message = "server answered " + std::to_string(head.status_code);
    if (!head.reason.empty()) message.append(" ").append(head.reason.substr(0, 80));
    fail(result, ClientHandshakeError::not_switching_protocols, std::move(message));
    return result;
  }
  // RFC 6455 4.1, the client's checks of the server's handshake, items 2-6.
  if (count_header(head.headers, "upgrade") != 1 ||
      !iequals(find_header(head.headers, "upgrade"), "websocket")) {
    fail(result, ClientHandshakeError::missing_upgrade, "the response has no Upgrade: websocket");
    return result;
  }
  if (!header_has_token(head.headers, "connection", "upgrade")) {
    fail(result, ClientHandshakeError::missing_connection_upgrade,
         "the response has no Connection: Upgrade");
    return result;
  }
  if (count_header(head.headers, "sec-websocket-accept") != 1 ||
      find_header(head.headers, "sec-websocket-accept") != expected_accept_) {
    fail(result, ClientHandshakeError::bad_accept,
         "Sec-WebSocket-Accept is missing or does not match the key");
    return result;
  }
  check_negotiated(head, result);
  if (result.error == ClientHandshakeError::none) result.status = HeadStatus::complete;
  return result;
}

// What the server picked must be among what was offered: one subprotocol, and permessage-deflate
// within the offered parameters.
void ClientHandshakeRequest::check_negotiated(const ResponseHead& head,
                                              ClientHandshakeResult& result) const {
  const std::size_t protocols = count_header(head.headers, "sec-websocket-protocol");
  if (protocols > 0) {
    const std::string_view chosen = find_header(head.headers, "sec-websocket-protocol");
    if (protocols > 1 ||
        std::find(subprotocols_.begin(), subprotocols_.end(), chosen) == subprotocols_.end()) {
      fail(result, ClientHandshakeError::unexpected_subprotocol,
           "the server chose a subprotocol that was not offered");
      return;
    }
    result.subprotocol = std::string(chosen);
  }
  for (const HttpHeader& field : head.headers) {
    if (!iequals(field.name, "sec-websocket-extensions") || field.value.empty()) continue;
    if (!result.extensions.empty()) result.extensions.append(", ");
    result.extensions.append(field.value);
  }
  if (result.extensions.empty()) return;
  if (!deflate_) {
    fail(result, ClientHandshakeError::unexpected_extension,
         "the server accepted an extension that was not offered");
    return;
  }
  std::string refusal;
  result.deflate = accept_deflate_response(result.extensions, *deflate_, refusal);
  if (!result.deflate) {
    fail(result, ClientHandshakeError::unexpected_extension,
         "the server's extension answer does not fit the offer: " + refusal);
  }
}

}  // namespace fastws::protocol
