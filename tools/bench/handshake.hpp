// The client side of the opening handshake (RFC 6455 section 4.1), reduced to what a benchmark
// against a local server needs: a fixed GET request and a check for "101" in the response.
#pragma once

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace fastws::bench {

// Base64 (RFC 4648 section 4) of 16 random bytes: the Sec-WebSocket-Key (RFC 6455 4.1, item 7).
inline std::string make_client_key(std::mt19937_64& random) {
  static constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::array<std::uint8_t, 18> bytes{};  // 16 random bytes, 2 zero bytes to pad the last group
  for (std::size_t i = 0; i < 16; ++i) bytes[i] = static_cast<std::uint8_t>(random());
  std::string key;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::uint32_t group = (std::uint32_t{bytes[i]} << 16) |
                                (std::uint32_t{bytes[i + 1]} << 8) | std::uint32_t{bytes[i + 2]};
    for (int shift = 18; shift >= 0; shift -= 6) key += alphabet[(group >> shift) & 0x3F];
  }
  key.resize(22);  // 16 bytes encode to 22 characters plus "==" padding
  return key + "==";
}

// `extra_header_lines`: whole header lines, each ending in CRLF (an extension offer, say).
inline std::string make_upgrade_request(std::string_view host, std::uint16_t port,
                                        std::string_view path, std::string_view key,
                                        std::string_view extra_header_lines = {}) {
  std::string request;
  request += "GET ";
  request += path;
  request += " HTTP/1.1\r\nHost: ";
  request += host;
  request += ':';
  request += std::to_string(port);
  request += "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ";
  request += key;
  request += "\r\nSec-WebSocket-Version: 13\r\n";
  request += extra_header_lines;
  request += "\r\n";
  return request;
}

// The permessage-deflate offer (RFC 7692 5, 7.1.1) of `--deflate`: no context takeover either
// way, so that every message compresses to the same bytes and its echo can be built in advance.
inline constexpr std::string_view permessage_deflate_offer =
    "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; "
    "server_no_context_takeover\r\n";

// A browser's offer (Chrome, Firefox): the client keeps its context, and so may the server. Its
// messages still compress alone (a sender may always forget); the server must keep its
// inflater's window for it.
inline constexpr std::string_view context_keeping_deflate_offer =
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";

// True when a (complete) handshake response accepts permessage-deflate. The extension token is
// case-insensitive (RFC 7230 3.2.6); no server sends it any other way than in lower case, but
// the search does not rely on it.
inline bool accepts_permessage_deflate(std::string_view response) {
  std::string lower(response.substr(0, response.find("\r\n\r\n")));
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return lower.find("\r\nsec-websocket-extensions:") != std::string::npos &&
         lower.find("permessage-deflate") != std::string::npos;
}

enum class UpgradeResponse { incomplete, accepted, rejected, too_long, trailing_bytes };

inline constexpr std::size_t max_upgrade_response = 8192;

// Judges the bytes received so far. The Sec-WebSocket-Accept value is not checked: the peer is
// a local server under test, and the load it gets is what matters here. Bytes after the header
// block mean the server spoke before the client sent anything, which an echo server never does.
inline UpgradeResponse check_upgrade_response(std::string_view received) {
  const auto end = received.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    return received.size() > max_upgrade_response ? UpgradeResponse::too_long
                                                  : UpgradeResponse::incomplete;
  }
  const std::string_view status_line = received.substr(0, received.find("\r\n"));
  if (status_line != "HTTP/1.1 101" && !status_line.starts_with("HTTP/1.1 101 ")) {
    return UpgradeResponse::rejected;
  }
  if (end + 4 != received.size()) return UpgradeResponse::trailing_bytes;
  return UpgradeResponse::accepted;
}

}  // namespace fastws::bench
