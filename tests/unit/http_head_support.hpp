// Test support for HTTP heads: parse helpers and the "every split" check shared by the parser and
// handshake tests.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "protocol/http_parser.hpp"

namespace fastws::protocol::test {

// The opening handshake of RFC 6455 section 1.2 (its key is the one of section 1.3): the request,
// and the answer of a server that picks the "chat" subprotocol.
inline constexpr std::string_view rfc6455_request =
    "GET /chat HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";
inline constexpr std::string_view rfc6455_response =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "Sec-WebSocket-Protocol: chat\r\n"
    "\r\n";

// A parsed head, Request or ResponseHead, with its own copy of the bytes and the header storage
// it points into.
template <typename Head>
struct Parsed {
  explicit Parsed(std::string_view input, const HttpLimits& limits = {})
      : bytes(input), storage(limits.max_headers) {
    if constexpr (std::is_same_v<Head, Request>) {
      result = parse_request_head(bytes, head, storage, limits);
    } else {
      result = parse_response_head(bytes, head, storage, limits);
    }
  }
  Parsed(const Parsed&) = delete;
  Parsed& operator=(const Parsed&) = delete;

  std::string bytes;
  std::vector<HttpHeader> storage;
  Head head;
  HeadParseResult result;
};
using ParsedRequest = Parsed<Request>;
using ParsedResponse = Parsed<ResponseHead>;

inline HeadParseResult parse_request(std::string_view input, const HttpLimits& limits = {}) {
  return ParsedRequest(input, limits).result;
}

inline HeadParseResult parse_response(std::string_view input, const HttpLimits& limits = {}) {
  return ParsedResponse(input, limits).result;
}

inline void expect_same(const HeadParseResult& actual, const HeadParseResult& expected,
                        std::size_t split) {
  EXPECT_EQ(actual.status, expected.status) << "split at " << split;
  EXPECT_EQ(actual.consumed, expected.consumed) << "split at " << split;
  EXPECT_EQ(actual.http_status, expected.http_status) << "split at " << split;
}

// Delivers `input` in two pieces, at every split point (every `stride`-th for big inputs):
//  - parsing the first piece alone gives partial, or (a strict parser fails early) exactly the
//    error parsing all of it gives;
//  - a HeadScanner that scanned the first piece, then scans everything, agrees with a fresh
//    scanner that sees everything at once.
// Returns the result of parsing the whole input.
template <class Parse>
HeadParseResult expect_same_in_every_split(std::string_view input, Parse parse,
                                           const HttpLimits& limits = {}, std::size_t stride = 1) {
  const HeadParseResult whole = parse(input);
  const HeadParseResult scanned_whole = HeadScanner(limits).scan(input);
  for (std::size_t split = 0; split < input.size(); split += stride) {
    const std::string_view first = input.substr(0, split);
    const HeadParseResult part = parse(first);
    if (!part.partial()) expect_same(part, whole, split);

    HeadScanner scanner(limits);
    if (scanner.scan(first).partial()) expect_same(scanner.scan(input), scanned_whole, split);
  }
  return whole;
}

inline HeadParseResult expect_request_in_every_split(std::string_view input,
                                                     const HttpLimits& limits = {},
                                                     std::size_t stride = 1) {
  return expect_same_in_every_split(
      input, [&](std::string_view part) { return parse_request(part, limits); }, limits, stride);
}

inline HeadParseResult expect_response_in_every_split(std::string_view input,
                                                      const HttpLimits& limits = {},
                                                      std::size_t stride = 1) {
  return expect_same_in_every_split(
      input, [&](std::string_view part) { return parse_response(part, limits); }, limits, stride);
}

}  // namespace fastws::protocol::test
