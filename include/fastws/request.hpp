// Request: a parsed HTTP/1.1 request head (RFC 7230 section 3), as the upgrade and HTTP
// callbacks see it.
//
// Lifetime: a Request is a non-owning view. Every string_view it returns points into the bytes
// the request arrived in, and headers() into storage owned by whoever parsed it. In the server's
// callbacks (on_upgrade, on_open, on_http) it is valid during the callback only: copy what you
// keep (a path, a header value) into your own strings or the connection's user data.
//
// Thread safety: a Request is read-only; reading one from several threads at once is safe as long
// as the bytes it points into live and do not change. The library hands it out on the
// connection's loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace fastws {

// One header field as it arrived: the name as spelled by the peer, the value without the
// optional whitespace around it (RFC 7230 3.2).
struct HttpHeader {
  std::string_view name;   // as spelled by the peer
  std::string_view value;  // without the whitespace around it
};

// The request head: method, target, path and query, header fields (see the top of this file for
// lifetime and threading).
class Request {
 public:
  Request() noexcept = default;
  // `minor_version` is the x of HTTP/1.x. Used by the parser; also handy in tests.
  Request(std::string_view method, std::string_view target, std::uint8_t minor_version,
          std::span<const HttpHeader> headers) noexcept
      : method_(method), target_(target), headers_(headers), minor_version_(minor_version) {}

  // "GET", "POST", ... exactly as sent (methods are case-sensitive, RFC 7231 4.1).
  std::string_view method() const noexcept { return method_; }
  // The request-target as sent: "/chat?room=1", or the absolute form "http://host/chat".
  std::string_view target() const noexcept { return target_; }
  // The path of the target, percent-encoding left as is: "/chat". For an absolute-form target
  // the scheme and authority are skipped; an empty path there reads as "/". Targets in
  // authority-form (CONNECT) and asterisk-form ("*") come back whole.
  std::string_view path() const noexcept;
  // What follows the first '?' of the target, without it ("" when there is none).
  std::string_view query() const noexcept;
  // HTTP/1.<minor_version>: 0 for HTTP/1.0, 1 for HTTP/1.1.
  std::uint8_t minor_version() const noexcept { return minor_version_; }

  // Every header field in arrival order, repeated names included.
  std::span<const HttpHeader> headers() const noexcept { return headers_; }
  // The value of the first field called `name` (ASCII case-insensitive), "" if there is none.
  std::string_view header(std::string_view name) const noexcept;
  // How many fields are called `name`.
  std::size_t header_count(std::string_view name) const noexcept;
  // Whether the comma-separated lists of all fields called `name` hold `token`, both compared
  // ASCII case-insensitively: has_token("connection", "upgrade") is true for
  // "Connection: keep-alive, Upgrade".
  bool has_token(std::string_view name, std::string_view token) const noexcept;
  // Whether the client wants the connection kept open after the response (RFC 7230 6.3):
  // HTTP/1.1 unless "Connection: close", HTTP/1.0 only with "Connection: keep-alive".
  bool keep_alive() const noexcept;

 private:
  std::string_view method_;
  std::string_view target_;
  std::span<const HttpHeader> headers_;
  std::uint8_t minor_version_ = 1;
};

}  // namespace fastws
