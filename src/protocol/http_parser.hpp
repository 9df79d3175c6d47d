// HTTP/1.1 message heads (RFC 7230 sections 2.6, 3.1, 3.2): a strict, stateless, zero-copy
// parser for request heads (server side) and response heads (client side).
//
// Zero-copy: the parsed views point into the caller's buffer and the header fields go into
// storage the caller provides (picohttpparser style), so parsing never allocates and the header
// count limit costs nothing. Every parse is linear in the buffer size.
//
// Incremental use: a caller that receives a head in pieces keeps one HeadScanner per head and
// calls scan() with everything received so far; the scanner resumes where it stopped, so a peer
// that sends one byte at a time costs linear time overall. Once scan() says complete, one call
// of parse_request_head / parse_response_head on the buffer gives the fields.
//
// Not thread-safe per object (a HeadScanner belongs to one connection); the free functions are
// pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "fastws/request.hpp"

namespace fastws::protocol {

struct HttpLimits {
  // The whole head: start line, header fields and the blank line that ends it. Above -> 431.
  std::size_t max_head_size = 16u << 10;
  // Header fields. Above -> 431 (RFC 6585 section 5).
  std::size_t max_headers = 100;
};

enum class HeadStatus : std::uint8_t { complete, partial, error };

struct HeadParseResult {
  HeadStatus status = HeadStatus::partial;
  std::size_t consumed = 0;  // complete: bytes of the head, blank line included
  int http_status = 0;       // error: the status to refuse a request with (400, 431, 505)
  const char* error = "";    // error: a fixed, readable reason

  bool complete() const noexcept { return status == HeadStatus::complete; }
  bool partial() const noexcept { return status == HeadStatus::partial; }
  bool failed() const noexcept { return status == HeadStatus::error; }
};

// Finds the end of a head (the first CRLF CRLF) and enforces the rules that hold for every byte
// of it: no NUL, no CR without LF, no LF without CR (RFC 7230 3.5 lets a strict recipient refuse
// them), at most max_head_size bytes, at most max_headers field lines.
class HeadScanner {
 public:
  explicit HeadScanner(const HttpLimits& limits = {}) noexcept : limits_(limits) {}

  // `buffer` holds every byte received so far for this head, from its first byte on; it only
  // grows between calls. Returns complete (consumed = head size), partial or error.
  HeadParseResult scan(std::string_view buffer) noexcept;
  // Starts over for the next head (after the previous one was consumed).
  void reset() noexcept { *this = HeadScanner(limits_); }

 private:
  HttpLimits limits_;
  std::size_t scanned_ = 0;     // bytes checked so far
  std::size_t line_start_ = 0;  // where the current line begins
  std::size_t lines_ = 0;       // complete lines so far, start line included
};

// Parses a request head at the start of `buffer`. On complete, `out` views `buffer` and
// `header_storage` (fewer slots than header fields -> 431) and `consumed` says where the body or
// the next request begins. Errors: 400 bad syntax, 431 head or header count over the limit,
// 505 an HTTP major version other than 1. Unknown methods are not an error here: any token is a
// method, the caller decides what it serves.
HeadParseResult parse_request_head(std::string_view buffer, Request& out,
                                   std::span<HttpHeader> header_storage,
                                   const HttpLimits& limits = {}) noexcept;

// A parsed status line and header fields (views into the parsed buffer and header storage).
struct ResponseHead {
  std::uint8_t minor_version = 1;
  int status_code = 0;      // three digits
  std::string_view reason;  // reason phrase, possibly empty
  std::span<const HttpHeader> headers;
};

// Parses a response head (`HTTP/1.1 101 Switching Protocols` CRLF, header fields, CRLF) like
// parse_request_head. http_status in an error result is 400 or 431 for symmetry; a client only
// reports the reason.
HeadParseResult parse_response_head(std::string_view buffer, ResponseHead& out,
                                    std::span<HttpHeader> header_storage,
                                    const HttpLimits& limits = {}) noexcept;

// Header field helpers shared by requests, responses and the handshake (RFC 7230 3.2.6, 7).

// tchar: the characters of a token (method, header name, subprotocol name).
bool is_tchar(char c) noexcept;
bool is_token(std::string_view text) noexcept;
bool iequals(std::string_view a, std::string_view b) noexcept;
// Removes spaces and tabs at both ends.
std::string_view trim_ows(std::string_view text) noexcept;
// Whether a field value may be sent: no control character but HTAB (so no CR, LF or NUL).
bool is_valid_field_value(std::string_view value) noexcept;

std::string_view find_header(std::span<const HttpHeader> headers, std::string_view name) noexcept;
std::size_t count_header(std::span<const HttpHeader> headers, std::string_view name) noexcept;
bool header_has_token(std::span<const HttpHeader> headers, std::string_view name,
                      std::string_view token) noexcept;

// Calls visit(element) for each element of a comma-separated list (RFC 7230 7), trimmed of
// whitespace, skipping empty elements as the RFC requires. Stops early when visit returns
// false; returns false then. Quoted strings are not special: use it for lists of tokens.
template <class Visit>
bool for_each_list_element(std::string_view list, Visit&& visit) {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string_view element = trim_ows(list.substr(0, comma));
    if (!element.empty() && !visit(element)) return false;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return true;
}

}  // namespace fastws::protocol
