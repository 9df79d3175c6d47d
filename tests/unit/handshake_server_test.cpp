// The server side of the opening handshake (RFC 6455 4.2): every acceptance and refusal rule
// with its exact status, subprotocol choice, and the exact bytes of the 101 and refusal answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "http_head_support.hpp"
#include "protocol/handshake_server.hpp"
#include "protocol/http_parser.hpp"

namespace fastws::protocol {
namespace {

using test::expect_request_in_every_split;
using test::ParsedRequest;
using test::ParsedResponse;
using test::rfc6455_request;
using Fields = std::vector<std::pair<std::string, std::string>>;

// RFC 6455 section 1.3.
constexpr std::string_view rfc_key = "dGhlIHNhbXBsZSBub25jZQ==";

// A valid upgrade request to break one rule at a time: without() drops the fields with a name,
// with() appends a field line, line() replaces the request line.
struct Head {
  std::string request_line = "GET /chat HTTP/1.1";
  std::vector<std::string> fields = {
      "Host: server.example.com", "Upgrade: websocket", "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"};

  Head& without(std::string_view name) {
    std::erase_if(fields, [&](const std::string& f) {
      return iequals(std::string_view(f).substr(0, name.size()), name) && f[name.size()] == ':';
    });
    return *this;
  }
  Head& with(std::string field) {
    fields.push_back(std::move(field));
    return *this;
  }
  Head& line(std::string request) {
    request_line = std::move(request);
    return *this;
  }
  std::string text() const {
    std::string out = request_line + "\r\n";
    for (const std::string& f : fields) out += f + "\r\n";
    return out + "\r\n";
  }
};

// A request parsed (also in every split) and checked; it keeps the bytes the check's views point
// into.
struct Checked {
  explicit Checked(std::string_view input, const HttpLimits& limits = {})
      : parsed(input, limits), result(check_upgrade_request(parsed.head)) {
    EXPECT_TRUE(parsed.result.complete()) << parsed.result.error;
    const std::size_t stride = std::max<std::size_t>(1, input.size() / 256);
    EXPECT_TRUE(expect_request_in_every_split(input, limits, stride).complete());
  }
  ParsedRequest parsed;
  UpgradeCheck result;
};

TEST(AcceptKey, MatchesTheRfc6455Example) {
  EXPECT_EQ(compute_accept_key(rfc_key), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(ServerHandshake, AcceptsTheRfc6455ExampleAndAnswersWithItsBytes) {
  ASSERT_TRUE(expect_request_in_every_split(rfc6455_request).complete());
  const Checked checked(rfc6455_request);
  const UpgradeCheck& result = checked.result;
  ASSERT_TRUE(result.ok()) << result.reason;
  EXPECT_EQ(result.key, rfc_key);
  EXPECT_EQ(result.origin, "http://example.com");
  EXPECT_EQ(result.subprotocols, (std::vector<std::string_view>{"chat", "superchat"}));
  EXPECT_EQ(result.extensions, "");

  const std::vector<std::string> preferred{"chat"};
  std::string out = "kept:";
  ASSERT_TRUE(append_switching_protocols(out, result.key,
                                         choose_subprotocol(preferred, result.subprotocols), ""));
  EXPECT_EQ(out, "kept:" + std::string(test::rfc6455_response));
}

TEST(ServerHandshake, ComparesNamesAndTokensCaseInsensitively) {
  const std::string input = Head()
                                .without("upgrade")
                                .without("connection")
                                .without("sec-websocket-key")
                                .with("UPGRADE: h2c, WebSocket")
                                .with("connection: keep-alive, UPGRADE")
                                .with("sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==")
                                .text();
  const Checked checked(input);
  const UpgradeCheck& result = checked.result;
  EXPECT_TRUE(result.ok()) << result.reason;
  EXPECT_EQ(result.key, rfc_key);
  EXPECT_EQ(result.origin, "");
}

TEST(ServerHandshake, AcceptsLaterHttp1MinorVersions) {
  EXPECT_TRUE(Checked(Head().line("GET / HTTP/1.2").text()).result.ok());
}

struct Refusal {
  const char* name;
  std::string input;
  int status;
};

TEST(ServerHandshake, RefusesEachBrokenRuleWithItsStatus) {
  const std::vector<Refusal> cases = {
      {"POST", Head().line("POST /chat HTTP/1.1").text(), 405},
      {"lowercase get", Head().line("get /chat HTTP/1.1").text(), 405},
      {"HTTP/1.0", Head().line("GET /chat HTTP/1.0").text(), 400},
      {"no Host", Head().without("host").text(), 400},
      {"two Hosts", Head().with("Host: other.example.com").text(), 400},
      {"empty Host", Head().without("host").with("Host:").text(), 400},
      {"no Upgrade", Head().without("upgrade").text(), 400},
      {"Upgrade h2c", Head().without("upgrade").with("Upgrade: h2c").text(), 400},
      {"Upgrade websockets", Head().without("upgrade").with("Upgrade: websockets").text(), 400},
      {"no Connection", Head().without("connection").text(), 400},
      {"Connection keep-alive", Head().without("connection").with("Connection: keep-alive").text(),
       400},
      {"version 8", Head().without("sec-websocket-version").with("Sec-WebSocket-Version: 8").text(),
       426},
      {"no version", Head().without("sec-websocket-version").text(), 426},
      {"two versions", Head().with("Sec-WebSocket-Version: 13").text(), 426},
      {"version list",
       Head().without("sec-websocket-version").with("Sec-WebSocket-Version: 13, 8").text(), 426},
      {"no key", Head().without("sec-websocket-key").text(), 400},
      {"duplicate key", Head().with("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==").text(), 400},
      {"15-byte key",
       Head().without("sec-websocket-key").with("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA").text(),
       400},
      {"18-byte key",
       Head()
           .without("sec-websocket-key")
           .with("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAA")
           .text(),
       400},
      {"unpadded key",
       Head().without("sec-websocket-key").with("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA").text(),
       400},
      {"key with a bad character",
       Head()
           .without("sec-websocket-key")
           .with("Sec-WebSocket-Key: AAAAAAAAAA-AAAAAAAAAAA==")
           .text(),
       400},
      {"key too long",
       Head()
           .without("sec-websocket-key")
           .with("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA==")
           .text(),
       400},
      {"two Origins",
       Head().with("Origin: http://a.example").with("Origin: http://b.example").text(), 400},
      {"subprotocol with a space", Head().with("Sec-WebSocket-Protocol: chat, super chat").text(),
       400},
      {"subprotocol with a slash", Head().with("Sec-WebSocket-Protocol: a/b").text(), 400},
  };
  for (const Refusal& c : cases) {
    SCOPED_TRACE(c.name);
    const Checked checked(c.input);
    const UpgradeCheck& result = checked.result;
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(result.status, c.status);
    EXPECT_STRNE(result.reason, "");
  }
}

TEST(ServerHandshake, Version8GetsA426NamingVersion13) {
  const Checked checked(
      Head().without("sec-websocket-version").with("Sec-WebSocket-Version: 8").text());
  const UpgradeCheck& result = checked.result;
  ASSERT_EQ(result.status, 426);
  std::string out;
  append_rejection(out, result);
  const std::string body = "only WebSocket version 13 is supported";
  EXPECT_EQ(out,
            "HTTP/1.1 426 Upgrade Required\r\n"
            "Upgrade: websocket\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "Connection: close\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
}

TEST(ServerHandshake, NonGetGetsA405WithAllow) {
  const Checked checked(Head().line("PUT / HTTP/1.1").text());
  const UpgradeCheck& result = checked.result;
  ASSERT_EQ(result.status, 405);
  std::string out;
  append_rejection(out, result);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\n")) << out;
}

TEST(ServerHandshake, CollectsSubprotocolsAcrossFields) {
  const Checked checked(Head()
                            .with("Sec-WebSocket-Protocol: a, b")
                            .with("X-Other: c")
                            .with("sec-websocket-protocol: , c ,,")
                            .text());
  const UpgradeCheck& result = checked.result;
  ASSERT_TRUE(result.ok()) << result.reason;
  EXPECT_EQ(result.subprotocols, (std::vector<std::string_view>{"a", "b", "c"}));
}

TEST(ServerHandshake, JoinsExtensionOffersAcrossFields) {
  const Checked checked(
      Head()
          .with("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
          .with("Sec-WebSocket-Extensions:")
          .with("sec-websocket-extensions: x-foo")
          .text());
  const UpgradeCheck& result = checked.result;
  ASSERT_TRUE(result.ok()) << result.reason;
  EXPECT_EQ(result.extensions, "permessage-deflate; client_max_window_bits, x-foo");
}

TEST(ServerHandshake, TellsUpgradesFromPlainRequests) {
  EXPECT_TRUE(is_websocket_upgrade(ParsedRequest(rfc6455_request).head));
  EXPECT_TRUE(is_websocket_upgrade(
      ParsedRequest(Head().without("upgrade").with("Upgrade: WebSocket").text()).head));
  EXPECT_FALSE(is_websocket_upgrade(ParsedRequest(Head().without("upgrade").text()).head));
}

TEST(ServerHandshake, ThirtyKiBOfSpacesInSubprotocolsIsAnsweredFast) {
  const std::string spaces = "Sec-WebSocket-Protocol: " + std::string(30u << 10, ' ');
  const std::string commas = "Sec-WebSocket-Protocol: " + std::string(30u << 10, ',');
  const auto start = std::chrono::steady_clock::now();
  // Over the default head limit: 431 from the parser.
  const HeadParseResult parsed = test::parse_request(Head().with(spaces).text());
  EXPECT_EQ(parsed.http_status, 431);
  // With a limit that lets it through, the check finds no subprotocol.
  const HttpLimits big{.max_head_size = 1u << 20, .max_headers = 100};
  for (const std::string& field : {spaces, commas}) {
    const Checked checked(Head().with(field).text(), big);
    const UpgradeCheck& result = checked.result;
    EXPECT_TRUE(result.ok()) << result.reason;
    EXPECT_TRUE(result.subprotocols.empty());
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(ChooseSubprotocol, ServerPreferenceWins) {
  const std::vector<std::string> preferred{"v2.chat", "v1.chat"};
  const std::vector<std::string_view> both{"v1.chat", "v2.chat"};
  const std::vector<std::string_view> old{"v1.chat", "other"};
  const std::vector<std::string_view> none{"other"};
  const std::vector<std::string_view> upper{"V2.CHAT"};
  EXPECT_EQ(choose_subprotocol(preferred, both), "v2.chat");
  EXPECT_EQ(choose_subprotocol(preferred, old), "v1.chat");
  EXPECT_EQ(choose_subprotocol(preferred, none), "");
  EXPECT_EQ(choose_subprotocol(preferred, {}), "");
  EXPECT_EQ(choose_subprotocol({}, both), "");
  EXPECT_EQ(choose_subprotocol(preferred, upper), "");  // names are case-sensitive
}

TEST(SwitchingProtocols, AddsExtensionsAndUserFields) {
  std::string out;
  const Fields extra{{"Set-Cookie", "id=1"}, {"X-Server", "fastws"}};
  ASSERT_TRUE(append_switching_protocols(out, rfc_key, "", "permessage-deflate", extra));
  EXPECT_EQ(out,
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate\r\n"
            "Set-Cookie: id=1\r\n"
            "X-Server: fastws\r\n"
            "\r\n");
}

TEST(SwitchingProtocols, RefusesInjectionAndReservedFields) {
  const std::vector<Fields> bad = {
      {{"X-A", "1\r\nX-Injected: 2"}},
      {{"X-A", "1\nX"}},
      {{"X-A", std::string("a\0b", 3)}},
      {{"X-A\r\nX-B", "1"}},
      {{"X A", "1"}},
      {{"", "1"}},
      {{"Sec-WebSocket-Accept", "x"}},
      {{"sec-websocket-protocol", "x"}},
      {{"Connection", "close"}},
      {{"UPGRADE", "h2c"}},
      {{"Content-Length", "5"}},
      {{"Transfer-Encoding", "chunked"}},
  };
  for (const Fields& fields : bad) {
    std::string out = "untouched";
    EXPECT_FALSE(append_switching_protocols(out, rfc_key, "", "", fields)) << fields[0].first;
    EXPECT_EQ(out, "untouched");
  }
  std::string out;
  EXPECT_FALSE(append_switching_protocols(out, rfc_key, "a b", ""));
  EXPECT_FALSE(append_switching_protocols(out, rfc_key, "chat\r\nX: 1", ""));
  EXPECT_FALSE(append_switching_protocols(out, rfc_key, "", "permessage-deflate\r\nX: 1"));
  EXPECT_EQ(out, "");
}

TEST(Rejection, WritesStatusReasonCloseAndBody) {
  std::string out;
  ASSERT_TRUE(append_rejection(out, 403, "forbidden"));
  EXPECT_EQ(out,
            "HTTP/1.1 403 Forbidden\r\n"
            "Connection: close\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 9\r\n"
            "\r\n"
            "forbidden");
}

TEST(Rejection, UserFieldsAndContentType) {
  std::string out;
  const Fields extra{{"Content-Type", "text/html"}, {"Sec-WebSocket-Version", "13"}};
  ASSERT_TRUE(append_rejection(out, 499, "<p>", extra));
  EXPECT_EQ(out,
            "HTTP/1.1 499 \r\n"
            "Content-Type: text/html\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "Connection: close\r\n"
            "Content-Length: 3\r\n"
            "\r\n"
            "<p>");
}

TEST(Rejection, RefusesBadStatusesAndFields) {
  std::string out;
  EXPECT_FALSE(append_rejection(out, 101, "x"));
  EXPECT_FALSE(append_rejection(out, 199, "x"));
  EXPECT_FALSE(append_rejection(out, 600, "x"));
  EXPECT_FALSE(append_rejection(out, 400, "x", Fields{{"X-A", "1\r\n\r\nHTTP/1.1 200 OK"}}));
  EXPECT_FALSE(append_rejection(out, 400, "x", Fields{{"Content-Length", "1"}}));
  EXPECT_FALSE(append_rejection(out, 400, "x", Fields{{"connection", "keep-alive"}}));
  EXPECT_EQ(out, "");
  EXPECT_TRUE(append_rejection(out, 200, "x"));
}

TEST(Rejection, EveryRefusalParsesBackWithItsStatus) {
  for (const std::string& input :
       {Head().line("POST / HTTP/1.1").text(), Head().without("host").text(),
        Head().without("sec-websocket-version").text()}) {
    const Checked checked(input);
    const UpgradeCheck& result = checked.result;
    ASSERT_FALSE(result.ok());
    std::string out;
    append_rejection(out, result);
    const ParsedResponse parsed(out);
    ASSERT_TRUE(parsed.result.complete()) << out;
    EXPECT_EQ(parsed.head.status_code, result.status);
    EXPECT_EQ(out.substr(parsed.result.consumed), result.reason);
    EXPECT_TRUE(header_has_token(parsed.head.headers, "connection", "close"));
  }
}

}  // namespace
}  // namespace fastws::protocol
