#include "protocol/handshake_server.hpp"

#include "protocol/http_parser.hpp"

namespace fastws::protocol {

namespace {

UpgradeCheck refused(int status, const char* reason, HttpHeader required_field = {}) {
  UpgradeCheck check;
  check.status = status;
  check.reason = reason;
  check.required_field = required_field;
  return check;
}

constexpr bool is_base64_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// RFC 6455 4.1 item 7: the key is base64 (RFC 4648 section 4, padded) of 16 bytes, which is
// always 22 alphabet characters and "==".
bool is_base64_of_16_bytes(std::string_view key) noexcept {
  if (key.size() != 24 || !key.ends_with("==")) return false;
  for (char c : key.substr(0, 22)) {
    if (!is_base64_char(c)) return false;
  }
  return true;
}

// The whole refusal: status line, fields, body.
void append_refusal(std::string& out, int status, std::string_view body, HttpHeader required,
                    HeaderPairs extra) {
  out.append("HTTP/1.1 ").append(std::to_string(status)).append(" ");
  out.append(reason_phrase(status)).append("\r\n");
  if (status == 426) append_field(out, "Upgrade", "websocket");
  if (!required.name.empty()) append_field(out, required.name, required.value);
  bool has_content_type = false;
  for (const auto& [name, value] : extra) {
    append_field(out, name, value);
    has_content_type = has_content_type || iequals(name, "content-type");
  }
  // RFC 6455 4.2.2: after a refusal the server closes; nothing pipelined behind the request is
  // read, so the connection must say so.
  append_field(out, "Connection", "close");
  if (!has_content_type) append_field(out, "Content-Type", "text/plain; charset=utf-8");
  append_field(out, "Content-Length", std::to_string(body.size()));
  out.append("\r\n").append(body);
}

}  // namespace

bool is_websocket_upgrade(const Request& request) noexcept {
  return request.has_token("upgrade", "websocket");
}

UpgradeCheck check_upgrade_request(const Request& request) {
  if (request.method() != "GET") {
    return refused(405, "the WebSocket handshake must be a GET request", {"Allow", "GET"});
  }
  if (request.minor_version() < 1) return refused(400, "the WebSocket handshake needs HTTP/1.1");
  // RFC 7230 5.4: a request without Host, or with more than one, gets a 400.
  if (request.header_count("host") != 1 || request.header("host").empty()) {
    return refused(400, "exactly one non-empty Host header is required");
  }
  if (!request.has_token("upgrade", "websocket")) {
    return refused(400, "the Upgrade header does not list websocket");
  }
  if (!request.has_token("connection", "upgrade")) {
    return refused(400, "the Connection header does not list upgrade");
  }
  // RFC 6455 4.2.2: a version we do not speak gets the versions we do.
  if (request.header_count("sec-websocket-version") != 1 ||
      request.header("sec-websocket-version") != "13") {
    return refused(426, "only WebSocket version 13 is supported", {"Sec-WebSocket-Version", "13"});
  }
  if (request.header_count("sec-websocket-key") != 1) {
    return refused(400, "exactly one Sec-WebSocket-Key header is required");
  }
  const std::string_view key = request.header("sec-websocket-key");
  if (!is_base64_of_16_bytes(key)) {
    return refused(400, "Sec-WebSocket-Key is not the base64 form of 16 bytes");
  }
  // Two origins would let a policy check one and the application trust the other.
  if (request.header_count("origin") > 1) return refused(400, "more than one Origin header");
  // A GET upgrade has no body (RFC 6455 4.1). A proxy would read one as the body while we would
  // read it as frames: refuse rather than disagree on where the WebSocket stream starts.
  const std::string_view length = request.header("content-length");
  if ((!length.empty() && length != "0") || request.header_count("transfer-encoding") != 0) {
    return refused(400, "the WebSocket handshake has no body");
  }

  UpgradeCheck check;
  check.key = key;
  check.origin = request.header("origin");
  for (const HttpHeader& field : request.headers()) {
    if (iequals(field.name, "sec-websocket-protocol")) {
      // RFC 6455 4.1 item 10: a comma list of tokens, possibly over several fields.
      const bool all_tokens = for_each_list_element(field.value, [&](std::string_view name) {
        if (!is_token(name)) return false;
        check.subprotocols.push_back(name);
        return true;
      });
      if (!all_tokens)
        return refused(400, "Sec-WebSocket-Protocol holds a name that is not a token");
    } else if (iequals(field.name, "sec-websocket-extensions") && !field.value.empty()) {
      if (!check.extensions.empty()) check.extensions.append(", ");
      check.extensions.append(field.value);
    }
  }
  return check;
}

std::string_view choose_subprotocol(std::span<const std::string> preferred,
                                    std::span<const std::string_view> offered) noexcept {
  for (const std::string& candidate : preferred) {
    for (std::string_view name : offered) {
      if (name == candidate) return candidate;
    }
  }
  return {};
}

bool append_switching_protocols(std::string& out, std::string_view key,
                                std::string_view subprotocol, std::string_view extensions,
                                HeaderPairs extra) {
  if ((!subprotocol.empty() && !is_token(subprotocol)) || !is_valid_field_value(extensions) ||
      check_user_headers(extra, UserHeaderRules::websocket_message) != nullptr) {
    return false;
  }
  out.append("HTTP/1.1 101 Switching Protocols\r\n");
  append_field(out, "Upgrade", "websocket");
  append_field(out, "Connection", "Upgrade");
  append_field(out, "Sec-WebSocket-Accept", compute_accept_key(key));
  if (!subprotocol.empty()) append_field(out, "Sec-WebSocket-Protocol", subprotocol);
  if (!extensions.empty()) append_field(out, "Sec-WebSocket-Extensions", extensions);
  for (const auto& [name, value] : extra) append_field(out, name, value);
  out.append("\r\n");
  return true;
}

bool append_rejection(std::string& out, int status, std::string_view body, HeaderPairs extra) {
  if (status < 200 || status > 599 ||
      check_user_headers(extra, UserHeaderRules::rejection) != nullptr) {
    return false;
  }
  append_refusal(out, status, body, {}, extra);
  return true;
}

void append_rejection(std::string& out, const UpgradeCheck& failed) {
  append_refusal(out, failed.status, failed.reason, failed.required_field, {});
}

}  // namespace fastws::protocol
