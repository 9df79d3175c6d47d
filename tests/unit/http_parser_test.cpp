// The HTTP/1.1 head parser (RFC 7230): every syntax rule it enforces, the limits, the incremental
// scanner, and the Request accessors. Every head is also fed in every split.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "http_head_support.hpp"
#include "protocol/http_parser.hpp"

namespace fastws::protocol {
namespace {

using test::expect_request_in_every_split;
using test::expect_response_in_every_split;
using test::parse_request;
using test::parse_response;
using test::ParsedRequest;
using test::ParsedResponse;
using test::rfc6455_request;
using test::rfc6455_response;

std::string request_with(std::string_view request_line, std::string_view fields = "") {
  return std::string(request_line) + "\r\nHost: a\r\n" + std::string(fields) + "\r\n";
}

TEST(HttpRequestHead, ParsesTheRfc6455Example) {
  const HeadParseResult whole = expect_request_in_every_split(rfc6455_request);
  ASSERT_TRUE(whole.complete());
  EXPECT_EQ(whole.consumed, rfc6455_request.size());

  ParsedRequest parsed(rfc6455_request);
  const Request& request = parsed.head;
  EXPECT_EQ(request.method(), "GET");
  EXPECT_EQ(request.target(), "/chat");
  EXPECT_EQ(request.path(), "/chat");
  EXPECT_EQ(request.query(), "");
  EXPECT_EQ(request.minor_version(), 1);
  ASSERT_EQ(request.headers().size(), 7u);
  EXPECT_EQ(request.headers()[0].name, "Host");
  EXPECT_EQ(request.headers()[0].value, "server.example.com");
  EXPECT_EQ(request.headers()[6].name, "Sec-WebSocket-Version");
  EXPECT_EQ(request.header("sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(request.header("SEC-WEBSOCKET-PROTOCOL"), "chat, superchat");
  EXPECT_EQ(request.header("absent"), "");
}

TEST(HttpRequestHead, ConsumesOnlyTheHead) {
  const std::string input = std::string(rfc6455_request) + "GET /next HTTP/1.1\r\n";
  const HeadParseResult result = parse_request(input);
  ASSERT_TRUE(result.complete());
  EXPECT_EQ(result.consumed, rfc6455_request.size());
}

TEST(HttpRequestHead, SplitsPathAndQuery) {
  const struct {
    std::string_view target, path, query;
  } cases[] = {
      {"/chat?room=1&x", "/chat", "room=1&x"},
      {"/a%20b?q=%41", "/a%20b", "q=%41"},  // percent-encoding left as is
      {"/a?", "/a", ""},
      {"/a?b?c", "/a", "b?c"},
      {"/", "/", ""},
      {"http://example.com/p/q?x=1", "/p/q", "x=1"},  // absolute-form, RFC 7230 5.3.2
      {"http://example.com", "/", ""},
      {"http://example.com?x", "/", "x"},
  };
  for (const auto& c : cases) {
    const std::string input = request_with("GET " + std::string(c.target) + " HTTP/1.1");
    ParsedRequest parsed(input);
    ASSERT_TRUE(parsed.result.complete()) << c.target;
    EXPECT_EQ(parsed.head.target(), c.target);
    EXPECT_EQ(parsed.head.path(), c.path) << c.target;
    EXPECT_EQ(parsed.head.query(), c.query) << c.target;
  }
}

// RFC 7230 5.3.4: "*" is the target of a server-wide OPTIONS request, and of nothing else.
TEST(HttpRequestHead, AsteriskFormIsForOptionsOnly) {
  ParsedRequest options(request_with("OPTIONS * HTTP/1.1"));
  ASSERT_TRUE(options.result.complete());
  EXPECT_EQ(options.head.target(), "*");
  EXPECT_EQ(options.head.path(), "*");
  EXPECT_EQ(options.head.query(), "");
  for (std::string_view method : {"GET", "HEAD", "POST", "M-SEARCH", "options"}) {
    SCOPED_TRACE(method);
    const HeadParseResult result =
        expect_request_in_every_split(request_with(std::string(method) + " * HTTP/1.1"));
    EXPECT_TRUE(result.failed());
    EXPECT_EQ(result.http_status, 400);
  }
  // Only the target "*" itself is the asterisk form.
  EXPECT_TRUE(ParsedRequest(request_with("GET /* HTTP/1.1")).result.complete());
}

TEST(HttpRequestHead, ReadsTheMinorVersion) {
  EXPECT_EQ(ParsedRequest(request_with("GET / HTTP/1.0")).head.minor_version(), 0);
  EXPECT_EQ(ParsedRequest(request_with("GET / HTTP/1.1")).head.minor_version(), 1);
  EXPECT_EQ(ParsedRequest(request_with("GET / HTTP/1.9")).head.minor_version(), 9);
}

TEST(HttpRequestHead, AcceptsAnyTokenAsMethod) {
  ParsedRequest parsed(request_with("M-SEARCH / HTTP/1.1"));
  ASSERT_TRUE(parsed.result.complete());
  EXPECT_EQ(parsed.head.method(), "M-SEARCH");
}

struct Refusal {
  const char* name;
  std::string input;
  int status;
};

void expect_refusals(const std::vector<Refusal>& cases, const HttpLimits& limits = {}) {
  for (const Refusal& c : cases) {
    SCOPED_TRACE(c.name);
    const HeadParseResult result = expect_request_in_every_split(c.input, limits);
    EXPECT_TRUE(result.failed());
    EXPECT_EQ(result.http_status, c.status);
    EXPECT_STRNE(result.error, "");
  }
}

TEST(HttpRequestHead, RefusesMalformedRequestLines) {
  expect_refusals({
      {"two spaces", request_with("GET  / HTTP/1.1"), 400},
      {"tab separator", request_with("GET\t/ HTTP/1.1"), 400},
      {"no target", request_with("GET HTTP/1.1"), 400},
      {"no version", request_with("GET /"), 400},
      {"space after version", request_with("GET / HTTP/1.1 "), 400},
      {"method not a token", request_with("G(T / HTTP/1.1"), 400},
      {"empty method", request_with(" / HTTP/1.1"), 400},
      {"space in target", request_with("GET /a b HTTP/1.1"), 400},
      {"non-ASCII target", request_with("GET /\xC3\xA9 HTTP/1.1"), 400},
      {"DEL in target", request_with("GET /\x7f HTTP/1.1"), 400},
      {"lowercase version", request_with("GET / http/1.1"), 400},
      {"two-digit minor", request_with("GET / HTTP/1.10"), 400},
      {"no minor", request_with("GET / HTTP/1"), 400},
      {"leading empty line", "\r\n" + request_with("GET / HTTP/1.1"), 400},
      {"HTTP/2.0", request_with("GET / HTTP/2.0"), 505},
      {"HTTP/0.9", request_with("GET / HTTP/0.9"), 505},
  });
}

TEST(HttpRequestHead, RefusesNulAndBareLineBreaksAnywhere) {
  using namespace std::string_literals;
  expect_refusals({
      {"NUL in request line", "GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n"s, 400},
      {"bare CR in request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"bare LF in request line", "GET /\n HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"LF line ends", "GET / HTTP/1.1\nHost: a\n\n", 400},
      {"LF LF after CRLF", "GET / HTTP/1.1\r\n\n", 400},
      {"NUL in header value", "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"s, 400},
      {"bare CR in header value", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400},
      {"bare LF in header value", "GET / HTTP/1.1\r\nX: a\nb\r\n\r\n", 400},
  });
}

TEST(HttpRequestHead, RefusesBadBytesBeforeTheHeadIsComplete) {
  using namespace std::string_literals;
  EXPECT_EQ(parse_request("GET /\0"s).http_status, 400);
  EXPECT_EQ(parse_request("GET /\n").http_status, 400);
  EXPECT_EQ(parse_request("GET /\rX").http_status, 400);
  // A CR at the end may still be followed by its LF.
  EXPECT_TRUE(parse_request("GET /\r").partial());
  EXPECT_TRUE(parse_request("GET / HTTP/1.1\r\nHost: a\r\n\r").partial());
}

TEST(HttpRequestHead, RefusesMalformedHeaderFields) {
  expect_refusals({
      {"space before colon", request_with("GET / HTTP/1.1", "X-A : 1\r\n"), 400},
      {"tab before colon", request_with("GET / HTTP/1.1", "X-A\t: 1\r\n"), 400},
      {"obs-fold", request_with("GET / HTTP/1.1", "X-A: 1\r\n 2\r\n"), 400},
      {"obs-fold with tab", request_with("GET / HTTP/1.1", "X-A: 1\r\n\t2\r\n"), 400},
      {"empty name", request_with("GET / HTTP/1.1", ": 1\r\n"), 400},
      {"no colon", request_with("GET / HTTP/1.1", "X-A\r\n"), 400},
      {"name not a token", request_with("GET / HTTP/1.1", "X@A: 1\r\n"), 400},
      {"control in value", request_with("GET / HTTP/1.1", "X-A: 1\x01\r\n"), 400},
      {"DEL in value", request_with("GET / HTTP/1.1", "X-A: \x7f\r\n"), 400},
  });
}

TEST(HttpRequestHead, NamesWhitespaceAroundFieldNames) {
  EXPECT_STREQ(parse_request(request_with("GET / HTTP/1.1", "X-A : 1\r\n")).error,
               "whitespace before the colon of a header field");
  EXPECT_STREQ(parse_request(request_with("GET / HTTP/1.1", "X-A: 1\r\n 2\r\n")).error,
               "header line starts with whitespace (obs-fold)");
}

TEST(HttpRequestHead, TrimsValuesAndKeepsTabsAndObsText) {
  const std::string input = request_with(
      "GET / HTTP/1.1", "A: \t one two \t\r\nB:\r\nC:x\r\nD: caf\xC3\xA9\r\nE: a\tb\r\n");
  ParsedRequest parsed(input);
  ASSERT_TRUE(parsed.result.complete());
  EXPECT_EQ(parsed.head.header("a"), "one two");
  EXPECT_EQ(parsed.head.header_count("b"), 1u);
  EXPECT_EQ(parsed.head.header("b"), "");
  EXPECT_EQ(parsed.head.header("c"), "x");
  EXPECT_EQ(parsed.head.header("d"), "caf\xC3\xA9");
  EXPECT_EQ(parsed.head.header("e"), "a\tb");
}

std::string with_fields(std::size_t count) {
  std::string fields;
  for (std::size_t i = 0; i < count; ++i) fields += "X-" + std::to_string(i) + ": v\r\n";
  return fields;
}

TEST(HttpRequestHead, LimitsTheNumberOfHeaderFields) {
  // Host plus 99 more is the default limit of 100.
  EXPECT_TRUE(parse_request(request_with("GET / HTTP/1.1", with_fields(99))).complete());
  const HeadParseResult over = parse_request(request_with("GET / HTTP/1.1", with_fields(100)));
  EXPECT_TRUE(over.failed());
  EXPECT_EQ(over.http_status, 431);

  // ANCHORS item 8: 2,000 header fields.
  const std::string flood = request_with("GET / HTTP/1.1", with_fields(2000));
  const HeadParseResult flooded = expect_request_in_every_split(flood, {}, 97);
  EXPECT_TRUE(flooded.failed());
  EXPECT_EQ(flooded.http_status, 431);
  // Refused as soon as field 101 ends, before the head is complete.
  EXPECT_TRUE(parse_request("GET / HTTP/1.1\r\n" + with_fields(100)).partial());
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r\n" + with_fields(101)).http_status, 431);
}

TEST(HttpRequestHead, HeaderStorageSmallerThanTheLimitGives431) {
  const std::string input = request_with("GET / HTTP/1.1", with_fields(3));
  std::vector<HttpHeader> storage(4);
  Request request;
  EXPECT_TRUE(parse_request_head(input, request, storage).complete());
  storage.resize(3);
  const HeadParseResult result = parse_request_head(input, request, storage);
  EXPECT_TRUE(result.failed());
  EXPECT_EQ(result.http_status, 431);
}

TEST(HttpRequestHead, LimitsTheHeadSize) {
  const std::string input = request_with("GET / HTTP/1.1", "X: " + std::string(100, 'a') + "\r\n");
  EXPECT_TRUE(parse_request(input, {.max_head_size = input.size()}).complete());
  const HeadParseResult over = parse_request(input, {.max_head_size = input.size() - 1});
  EXPECT_TRUE(over.failed());
  EXPECT_EQ(over.http_status, 431);
  // Without a terminator, the head is refused once it reaches the limit.
  const HeadParseResult endless = parse_request(std::string(16u << 10, 'G'));
  EXPECT_EQ(endless.http_status, 431);
  EXPECT_TRUE(parse_request(std::string((16u << 10) - 1, 'G')).partial());
}

TEST(HttpRequestHead, RefusesA64KiBHeaderLine) {
  const std::string input =
      request_with("GET / HTTP/1.1", "X-Big: " + std::string(64u << 10, 'a') + "\r\n");
  const HeadParseResult result = expect_request_in_every_split(input, {}, 1021);
  EXPECT_TRUE(result.failed());
  EXPECT_EQ(result.http_status, 431);
}

TEST(HttpRequestHead, ScannerResumesSoByteByByteIsLinear) {
  // A one-mebibyte head fed one byte at a time: re-scanning from the start on each byte would
  // take ~5 * 10^11 steps; resuming takes 10^6.
  const HttpLimits limits{.max_head_size = 2u << 20, .max_headers = 100};
  const std::string input =
      request_with("GET / HTTP/1.1", "X: " + std::string(1u << 20, 'a') + "\r\n");
  HeadScanner scanner(limits);
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t size = 1; size < input.size(); ++size) {
    ASSERT_TRUE(scanner.scan(std::string_view(input).substr(0, size)).partial());
  }
  const HeadParseResult done = scanner.scan(input);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  ASSERT_TRUE(done.complete());
  EXPECT_EQ(done.consumed, input.size());
}

TEST(HttpRequestHead, ScannerStartsOverAfterReset) {
  const std::string two = std::string(rfc6455_request) + request_with("GET /b HTTP/1.1");
  HeadScanner scanner;
  const HeadParseResult first = scanner.scan(two);
  ASSERT_TRUE(first.complete());
  EXPECT_EQ(first.consumed, rfc6455_request.size());
  scanner.reset();
  const std::string_view rest = std::string_view(two).substr(first.consumed);
  const HeadParseResult second = scanner.scan(rest);
  ASSERT_TRUE(second.complete());
  EXPECT_EQ(second.consumed, rest.size());
}

TEST(HttpRequestHead, ScanningAgainGivesTheSameAnswer) {
  using namespace std::string_literals;
  for (const std::string& input :
       {std::string(rfc6455_request), "GET /\0 HTTP/1.1\r\n"s,
        "GET / HTTP/1.1\r\n" + with_fields(101), std::string(16u << 10, 'a')}) {
    HeadScanner scanner;
    const HeadParseResult first = scanner.scan(input);
    ASSERT_FALSE(first.partial());
    const HeadParseResult again = scanner.scan(input);
    EXPECT_EQ(again.status, first.status);
    EXPECT_EQ(again.consumed, first.consumed);
    EXPECT_EQ(again.http_status, first.http_status);
  }
}

TEST(HttpRequestHead, FindsTokensInCommaListsCaseInsensitively) {
  const std::string input =
      request_with("GET / HTTP/1.1",
                   "Connection: keep-alive, Upgrade\r\nUpgrade: h2c\r\nupgrade: , ,WebSocket ,\r\n"
                   "X-List: alpha,beta\r\n");
  ParsedRequest parsed(input);
  const Request& request = parsed.head;
  ASSERT_TRUE(parsed.result.complete());
  EXPECT_TRUE(request.has_token("connection", "upgrade"));
  EXPECT_TRUE(request.has_token("CONNECTION", "Keep-Alive"));
  EXPECT_FALSE(request.has_token("connection", "keep"));
  EXPECT_FALSE(request.has_token("connection", "alive, upgrade"));
  EXPECT_TRUE(request.has_token("upgrade", "websocket"));  // in the second Upgrade field
  EXPECT_TRUE(request.has_token("x-list", "beta"));
  EXPECT_FALSE(request.has_token("x-list", ""));
  EXPECT_FALSE(request.has_token("absent", "x"));
  EXPECT_EQ(request.header_count("UPGRADE"), 2u);
  EXPECT_EQ(request.header("upgrade"), "h2c");  // the first of repeated fields
  EXPECT_EQ(request.header_count("absent"), 0u);
}

TEST(HttpRequestHead, KeepAliveFollowsVersionAndConnection) {
  EXPECT_TRUE(ParsedRequest(request_with("GET / HTTP/1.1")).head.keep_alive());
  EXPECT_FALSE(
      ParsedRequest(request_with("GET / HTTP/1.1", "Connection: Close\r\n")).head.keep_alive());
  EXPECT_FALSE(ParsedRequest(request_with("GET / HTTP/1.0")).head.keep_alive());
  EXPECT_TRUE(ParsedRequest(request_with("GET / HTTP/1.0", "Connection: keep-alive\r\n"))
                  .head.keep_alive());
}

TEST(HttpRequestHead, HugeListOfSpacesAndCommasIsLinear) {
  const HttpLimits limits{.max_head_size = 1u << 20, .max_headers = 100};
  const std::string input =
      request_with("GET / HTTP/1.1", "Connection: " + std::string(300'000, ' ') +
                                         "x\r\nUpgrade: " + std::string(300'000, ',') + "\r\n");
  const auto start = std::chrono::steady_clock::now();
  ParsedRequest parsed(input, limits);
  ASSERT_TRUE(parsed.result.complete());
  EXPECT_FALSE(parsed.head.has_token("connection", "upgrade"));
  EXPECT_FALSE(parsed.head.has_token("upgrade", "websocket"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(HttpHelpers, TokensAndValues) {
  EXPECT_TRUE(is_token("permessage-deflate"));
  EXPECT_TRUE(is_token("!#$%&'*+-.^_`|~09azAZ"));
  EXPECT_FALSE(is_token(""));
  for (std::string_view bad : {"a b", "a,b", "a;b", "a:b", "a/b", "a\"b", "a\r", "(a)", "a=b"}) {
    EXPECT_FALSE(is_token(bad)) << bad;
  }
  EXPECT_TRUE(is_valid_field_value("a\tb c \xff"));
  EXPECT_FALSE(is_valid_field_value("a\r\nb"));
  EXPECT_FALSE(is_valid_field_value(std::string_view("a\0b", 3)));
  EXPECT_TRUE(iequals("Sec-WebSocket-Key", "sec-websocket-KEY"));
  EXPECT_FALSE(iequals("key", "keys"));
  EXPECT_EQ(trim_ows(" \t a b \t "), "a b");
}

// Response heads (client side, RFC 7230 3.1.2).

TEST(HttpResponseHead, ParsesTheRfc6455Example) {
  const HeadParseResult whole = expect_response_in_every_split(rfc6455_response);
  ASSERT_TRUE(whole.complete());
  EXPECT_EQ(whole.consumed, rfc6455_response.size());

  const ParsedResponse parsed(std::string(rfc6455_response) + "\x81\x05hello");
  ASSERT_EQ(parsed.result.consumed, rfc6455_response.size());
  const ResponseHead& head = parsed.head;
  EXPECT_EQ(head.minor_version, 1);
  EXPECT_EQ(head.status_code, 101);
  EXPECT_EQ(head.reason, "Switching Protocols");
  ASSERT_EQ(head.headers.size(), 4u);
  EXPECT_EQ(find_header(head.headers, "sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(HttpResponseHead, ReasonPhraseMayBeEmpty) {
  const ParsedResponse without_space("HTTP/1.1 404\r\n\r\n");
  ASSERT_TRUE(without_space.result.complete());
  EXPECT_EQ(without_space.head.status_code, 404);
  EXPECT_EQ(without_space.head.reason, "");
  const ParsedResponse with_space("HTTP/1.0 200 \r\n\r\n");
  ASSERT_TRUE(with_space.result.complete());
  EXPECT_EQ(with_space.head.status_code, 200);
  EXPECT_EQ(with_space.head.minor_version, 0);
}

TEST(HttpResponseHead, RefusesMalformedStatusLines) {
  const struct {
    std::string_view input;
    int status;
  } cases[] = {
      {"HTTP/1.1 1010 X\r\n\r\n", 400},      {"HTTP/1.1 10 X\r\n\r\n", 400},
      {"HTTP/1.1  101 X\r\n\r\n", 400},      {"HTTP/1.1 1a1 X\r\n\r\n", 400},
      {"HTTP/2 101 X\r\n\r\n", 400},         {"HTTP/2.0 101 X\r\n\r\n", 505},
      {"http/1.1 101 X\r\n\r\n", 400},       {"HTTP/1.1 101 X\x01\r\n\r\n", 400},
      {"HTTP/1.1 101 X\nY\r\n\r\n", 400},    {"HTTP/1.1 101 X\r\nA : b\r\n\r\n", 400},
      {"HTTP/1.1 101 X\r\n b\r\n\r\n", 400},
  };
  for (const auto& c : cases) {
    const HeadParseResult result = expect_response_in_every_split(c.input);
    EXPECT_TRUE(result.failed()) << c.input;
    EXPECT_EQ(result.http_status, c.status) << c.input;
  }
  EXPECT_EQ(
      parse_response(std::string("HTTP/1.1 101 X\r\n") + with_fields(101) + "\r\n").http_status,
      431);
}

}  // namespace
}  // namespace fastws::protocol
