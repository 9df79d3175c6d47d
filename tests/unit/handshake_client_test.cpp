// The client side of the opening handshake (RFC 6455 3, 4.1): URLs, the request bytes, refusal of
// anything that could inject header lines, and a typed error for each way an answer can be wrong.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "http_head_support.hpp"
#include "protocol/handshake_client.hpp"
#include "protocol/handshake_server.hpp"

namespace fastws::protocol {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

// RFC 6455 1.3: the key "dGhlIHNhbXBsZSBub25jZQ==" is the base64 of this nonce.
constexpr HandshakeNonce rfc_nonce = {'t', 'h', 'e', ' ', 's', 'a', 'm', 'p',
                                      'l', 'e', ' ', 'n', 'o', 'n', 'c', 'e'};
constexpr std::string_view rfc_accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

const std::vector<std::string> chat_protocols{"chat", "superchat"};

ClientRequestParts rfc_parts() {
  ClientRequestParts parts;
  parts.host = "server.example.com";
  parts.target = "/chat";
  parts.origin = "http://example.com";
  parts.subprotocols = chat_protocols;
  return parts;
}

ClientHandshakeRequest make_request(const ClientRequestParts& parts) {
  std::string error;
  auto request = ClientHandshakeRequest::create(parts, rfc_nonce, error);
  EXPECT_TRUE(request.has_value()) << error;
  return request.value();
}

std::string refusal_of(const ClientRequestParts& parts) {
  std::string error;
  const auto request = ClientHandshakeRequest::create(parts, rfc_nonce, error);
  EXPECT_FALSE(request.has_value());
  return error;
}

// The check of a whole response, after checking that every shorter piece of it gives partial or
// (a malformed head failing early) the same error.
ClientHandshakeResult answer(const ClientHandshakeRequest& request, std::string_view response) {
  std::vector<HttpHeader> storage(100);
  const ClientHandshakeResult whole = request.check_response(response, storage);
  for (std::size_t split = 0; split < response.size(); ++split) {
    const ClientHandshakeResult part = request.check_response(response.substr(0, split), storage);
    if (part.status == HeadStatus::partial) continue;
    EXPECT_EQ(part.status, whole.status) << "split at " << split;
    EXPECT_EQ(part.error, whole.error) << "split at " << split;
    EXPECT_EQ(part.consumed, whole.consumed) << "split at " << split;
  }
  return whole;
}

// A 101 answer to the RFC request: the fields after the status line are `fields` plus CRLF.
std::string switching(std::string_view fields) {
  return "HTTP/1.1 101 Switching Protocols\r\n" + std::string(fields) + "\r\n";
}
const std::string valid_fields =
    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";

TEST(ClientRequest, BuildsTheRfc6455ExampleBytes) {
  const ClientHandshakeRequest request = make_request(rfc_parts());
  EXPECT_EQ(request.key(), "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(request.bytes(), test::rfc6455_request);
}

TEST(ClientRequest, PassesTheServerCheck) {
  const Fields extra{{"Authorization", "Bearer x"}};
  ClientRequestParts parts = rfc_parts();
  parts.headers = extra;
  const ClientHandshakeRequest request = make_request(parts);
  ASSERT_TRUE(test::expect_request_in_every_split(request.bytes()).complete());
  test::ParsedRequest parsed(request.bytes());
  const UpgradeCheck check = check_upgrade_request(parsed.head);
  ASSERT_TRUE(check.ok()) << check.reason;
  EXPECT_EQ(check.key, request.key());
  EXPECT_EQ(parsed.head.header("authorization"), "Bearer x");
}

TEST(ClientRequest, RandomKeysAreFreshAndValid) {
  std::string error;
  const auto a = ClientHandshakeRequest::create(rfc_parts(), error);
  const auto b = ClientHandshakeRequest::create(rfc_parts(), error);
  ASSERT_TRUE(a && b) << error;
  EXPECT_NE(a->key(), b->key());
  for (const auto* request : {&*a, &*b}) {
    test::ParsedRequest parsed(request->bytes());
    EXPECT_TRUE(check_upgrade_request(parsed.head).ok());
  }
}

TEST(ClientRequest, NamesThePortOnlyWhenNotTheDefault) {
  const struct {
    std::string_view host;
    std::uint16_t port;
    bool secure;
    std::string_view field;
  } cases[] = {
      {"example.com", 80, false, "Host: example.com\r\n"},
      {"example.com", 8080, false, "Host: example.com:8080\r\n"},
      {"example.com", 443, true, "Host: example.com\r\n"},
      {"example.com", 80, true, "Host: example.com:80\r\n"},
      {"127.0.0.1", 9001, false, "Host: 127.0.0.1:9001\r\n"},
      {"::1", 9001, false, "Host: [::1]:9001\r\n"},
      {"::1", 80, false, "Host: [::1]\r\n"},
  };
  for (const auto& c : cases) {
    ClientRequestParts parts;
    parts.host = c.host;
    parts.port = c.port;
    parts.secure = c.secure;
    const std::string bytes = make_request(parts).bytes();
    EXPECT_NE(bytes.find(c.field), std::string::npos) << bytes;
  }
}

TEST(ClientRequest, RefusesInjectionInEveryPart) {
  using namespace std::string_literals;
  for (std::string_view host : {"", "a b", "a\r\nX: 1", "a\nb", "h\xC3\xA9", "a/b", "a:b:c\r"}) {
    ClientRequestParts parts = rfc_parts();
    parts.host = host;
    EXPECT_NE(refusal_of(parts), "") << host;
  }
  const std::string nul_target = "/a\0b"s;
  for (std::string_view target :
       {std::string_view("chat"), std::string_view(""), std::string_view("/a b"),
        std::string_view("/a\r\nX: 1"), std::string_view("/a#frag"), std::string_view("/\xC3\xA9"),
        std::string_view(nul_target), std::string_view("/\t")}) {
    ClientRequestParts parts = rfc_parts();
    parts.target = target;
    EXPECT_NE(refusal_of(parts), "") << target;
  }
  for (std::string_view origin : {"http://a\r\nX: 1", "http://a b", "http://a\n"}) {
    ClientRequestParts parts = rfc_parts();
    parts.origin = origin;
    EXPECT_NE(refusal_of(parts), "") << origin;
  }
  ClientRequestParts no_port = rfc_parts();
  no_port.port = 0;
  EXPECT_NE(refusal_of(no_port), "");
}

TEST(ClientRequest, RefusesBadSubprotocols) {
  for (const std::vector<std::string>& names :
       {std::vector<std::string>{"chat", "a b"}, std::vector<std::string>{""},
        std::vector<std::string>{"chat\r\nX: 1"}, std::vector<std::string>{"a,b"},
        std::vector<std::string>{"chat", "chat"}}) {
    ClientRequestParts parts = rfc_parts();
    parts.subprotocols = names;
    EXPECT_NE(refusal_of(parts), "") << names.back();
  }
}

TEST(ClientRequest, RefusesReservedAndInjectedFields) {
  const std::vector<Fields> bad = {
      {{"Sec-WebSocket-Key", "x"}},
      {{"sec-websocket-protocol", "x"}},
      {{"SEC-WEBSOCKET-EXTENSIONS", "x"}},
      {{"Sec-WebSocket-Version", "8"}},
      {{"Upgrade", "h2c"}},
      {{"connection", "close"}},
      {{"Host", "evil"}},
      {{"Content-Length", "5"}},
      {{"Transfer-Encoding", "chunked"}},
      {{"X-A", "1\r\nHost: evil"}},
      {{"X-A", "1\n"}},
      {{"X-A", std::string("1\0", 2)}},
      {{"X-A\r\nHost", "evil"}},
      {{"X-A: b", "c"}},
      {{"", "c"}},
  };
  for (const Fields& fields : bad) {
    ClientRequestParts parts = rfc_parts();
    parts.headers = fields;
    EXPECT_NE(refusal_of(parts), "") << fields[0].first;
  }
}

TEST(ClientRequest, OffersPermessageDeflateWhenAsked) {
  const DeflateConfig config;
  ClientRequestParts parts = rfc_parts();
  parts.deflate = &config;
  const ClientHandshakeRequest request = make_request(parts);
  const std::string expected = "Sec-WebSocket-Extensions: " + make_deflate_offer(config) + "\r\n";
  EXPECT_NE(request.bytes().find(expected), std::string::npos) << request.bytes();
  EXPECT_EQ(make_request(rfc_parts()).bytes().find("Sec-WebSocket-Extensions"), std::string::npos);
}

TEST(WebSocketUrl, SplitsValidUrls) {
  const struct {
    std::string_view url;
    bool secure;
    std::string_view host;
    std::uint16_t port;
    std::string_view target;
  } cases[] = {
      {"ws://example.com", false, "example.com", 80, "/"},
      {"wss://example.com", true, "example.com", 443, "/"},
      {"ws://example.com/", false, "example.com", 80, "/"},
      {"wss://example.com:8443/chat?room=1", true, "example.com", 8443, "/chat?room=1"},
      {"ws://127.0.0.1:9001/a%20b", false, "127.0.0.1", 9001, "/a%20b"},
      {"ws://[::1]:9001/p", false, "::1", 9001, "/p"},
      {"wss://[2001:db8::1]", true, "2001:db8::1", 443, "/"},
      {"ws://host?q=1", false, "host", 80, "/?q=1"},
      {"WS://Host.Example:65535", false, "Host.Example", 65535, "/"},
  };
  for (const auto& c : cases) {
    std::string error;
    const auto url = parse_websocket_url(c.url, error);
    ASSERT_TRUE(url.has_value()) << c.url << ": " << error;
    EXPECT_EQ(url->secure, c.secure) << c.url;
    EXPECT_EQ(url->host, c.host) << c.url;
    EXPECT_EQ(url->port, c.port) << c.url;
    EXPECT_EQ(url->target, c.target) << c.url;
  }
}

TEST(WebSocketUrl, RefusesWhatCannotBeDialedSafely) {
  for (std::string_view url : {"http://example.com/",
                               "example.com",
                               "ws:/example.com",
                               "ws://user@example.com/",
                               "ws://user:pw@example.com/",
                               "ws://example.com/#frag",
                               "ws://example.com/a\r\nX: 1",
                               "ws://example.com/a b",
                               "ws://exa mple.com/",
                               "ws://example.com/\xC3\xA9",
                               "ws://example.com:0/",
                               "ws://example.com:65536/",
                               "ws://example.com:80a/",
                               "ws://example.com:/",
                               "ws://example.com:000080/",
                               "ws:///path",
                               "ws://[::1/",
                               "ws://[::1]x/",
                               "ws://[]/",
                               "ws://[example.com]/",
                               "ws://a:1:2/",
                               "ws://"}) {
    std::string error;
    EXPECT_FALSE(parse_websocket_url(url, error).has_value()) << url;
    EXPECT_NE(error, "") << url;
  }
}

// What the client checks before the dial, to make the TLS context on the caller's thread: the
// scheme alone, as parse_websocket_url reads it.
TEST(WebSocketUrl, NamesTlsSchemeLooksAtTheSchemeAlone) {
  for (const std::string_view url :
       {"wss://example.com/", "WSS://example.com", "wss+unix:///tmp/s:/chat", "wss://"}) {
    EXPECT_TRUE(names_tls_scheme(url)) << url;
  }
  for (const std::string_view url :
       {"ws://example.com/", "ws+unix:///tmp/s", "https://example.com/", "wss:example.com",
        "example.com/wss://", ""}) {
    EXPECT_FALSE(names_tls_scheme(url)) << url;
  }
}

TEST(WebSocketUrl, SplitsUnixSocketUrls) {
  const struct {
    std::string_view url;
    std::string_view socket;
    std::string_view target;
  } cases[] = {
      {"ws+unix:///tmp/fastws.sock", "/tmp/fastws.sock", "/"},
      {"ws+unix:///tmp/fastws.sock:/chat?room=1", "/tmp/fastws.sock", "/chat?room=1"},
      {"WS+UNIX://relative/sock:/", "relative/sock", "/"},
  };
  for (const auto& c : cases) {
    std::string error;
    const auto url = parse_websocket_url(c.url, error);
    ASSERT_TRUE(url.has_value()) << c.url << ": " << error;
    EXPECT_EQ(url->unix_path, c.socket) << c.url;
    EXPECT_EQ(url->target, c.target) << c.url;
    EXPECT_EQ(url->host, "localhost") << c.url;
    EXPECT_FALSE(url->secure) << c.url;
  }
  std::string secure_error;
  const auto secure = parse_websocket_url("wss+unix:///tmp/s:/chat", secure_error);
  ASSERT_TRUE(secure.has_value()) << secure_error;
  EXPECT_TRUE(secure->secure);
  EXPECT_EQ(secure->unix_path, "/tmp/s");
  EXPECT_EQ(secure->host, "localhost");
  EXPECT_EQ(secure->target, "/chat");
  for (std::string_view url : {"ws+unix://", "ws+unix://:/chat", "ws+unix:///tmp/s:chat",
                               "ws+unix:///tmp/s:/a b", "ws+unix:///tmp/s:/#frag"}) {
    std::string error;
    EXPECT_FALSE(parse_websocket_url(url, error).has_value()) << url;
    EXPECT_NE(error, "") << url;
  }
}

TEST(WebSocketUrl, SaysWhyUserInfoIsRefused) {
  std::string error;
  EXPECT_FALSE(parse_websocket_url("ws://user@example.com/", error).has_value());
  EXPECT_EQ(error, "user info is not supported");
}

TEST(ClientResponse, AcceptsTheRfc6455ExampleAndLeavesTheFramesAfterIt) {
  const ClientHandshakeRequest request = make_request(rfc_parts());
  const std::string head(test::rfc6455_response);
  ASSERT_TRUE(test::expect_response_in_every_split(head).complete());
  const std::string input = head + "\x81\x05hello";
  for (std::size_t split = 0; split < head.size(); ++split) {
    const ClientHandshakeResult part = answer(request, std::string_view(input).substr(0, split));
    EXPECT_EQ(part.status, HeadStatus::partial) << split;
  }
  const ClientHandshakeResult result = answer(request, input);
  ASSERT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.consumed, head.size());
  EXPECT_EQ(result.http_status, 101);
  EXPECT_EQ(result.error, ClientHandshakeError::none);
  EXPECT_EQ(result.subprotocol, "chat");
  EXPECT_FALSE(result.deflate.has_value());
}

TEST(ClientResponse, AcceptsNoSubprotocolAndCaseInsensitiveFields) {
  const ClientHandshakeRequest request = make_request(rfc_parts());
  const ClientHandshakeResult result =
      answer(request, switching("UPGRADE: WebSocket\r\nconnection: keep-alive, upgrade\r\n"
                                "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
  ASSERT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.subprotocol, "");
}

TEST(ClientResponse, GivesATypedErrorForEachWrongAnswer) {
  const ClientHandshakeRequest request = make_request(rfc_parts());
  const std::string other_accept = compute_accept_key("AAAAAAAAAAAAAAAAAAAAAA==");
  const struct {
    const char* name;
    std::string response;
    ClientHandshakeError error;
  } cases[] = {
      {"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", ClientHandshakeError::malformed_response},
      {"bare LF", "HTTP/1.1 101 Switching Protocols\n\n", ClientHandshakeError::malformed_response},
      {"200", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
       ClientHandshakeError::not_switching_protocols},
      {"no Upgrade",
       switching("Connection: Upgrade\r\nSec-WebSocket-Accept: " + std::string(rfc_accept) +
                 "\r\n"),
       ClientHandshakeError::missing_upgrade},
      {"Upgrade h2c", switching("Upgrade: h2c\r\nConnection: Upgrade\r\n"),
       ClientHandshakeError::missing_upgrade},
      {"two Upgrades", switching("Upgrade: websocket\r\n" + valid_fields),
       ClientHandshakeError::missing_upgrade},
      {"no Connection",
       switching("Upgrade: websocket\r\nSec-WebSocket-Accept: " + std::string(rfc_accept) + "\r\n"),
       ClientHandshakeError::missing_connection_upgrade},
      {"Connection close", switching("Upgrade: websocket\r\nConnection: close\r\n"),
       ClientHandshakeError::missing_connection_upgrade},
      {"no accept", switching("Upgrade: websocket\r\nConnection: Upgrade\r\n"),
       ClientHandshakeError::bad_accept},
      {"wrong accept",
       switching("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: " +
                 other_accept + "\r\n"),
       ClientHandshakeError::bad_accept},
      {"accept in lowercase",
       switching("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: s3pplmbitxaq9kygzzhzrbk+xoo=\r\n"),
       ClientHandshakeError::bad_accept},
      {"two accepts",
       switching(valid_fields + "Sec-WebSocket-Accept: " + std::string(rfc_accept) + "\r\n"),
       ClientHandshakeError::bad_accept},
      {"subprotocol not offered", switching(valid_fields + "Sec-WebSocket-Protocol: other\r\n"),
       ClientHandshakeError::unexpected_subprotocol},
      {"two subprotocols", switching(valid_fields + "Sec-WebSocket-Protocol: chat, superchat\r\n"),
       ClientHandshakeError::unexpected_subprotocol},
      {"repeated subprotocol field",
       switching(valid_fields + "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n"),
       ClientHandshakeError::unexpected_subprotocol},
      {"subprotocol case differs", switching(valid_fields + "Sec-WebSocket-Protocol: CHAT\r\n"),
       ClientHandshakeError::unexpected_subprotocol},
      {"extension not offered",
       switching(valid_fields + "Sec-WebSocket-Extensions: permessage-deflate\r\n"),
       ClientHandshakeError::unexpected_extension},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const ClientHandshakeResult result = answer(request, c.response);
    EXPECT_EQ(result.status, HeadStatus::error);
    EXPECT_EQ(result.error, c.error) << to_string(result.error) << ": " << result.message;
    EXPECT_NE(result.message, "");
  }
}

TEST(ClientResponse, ReportsTheStatusOfARefusal) {
  const ClientHandshakeRequest request = make_request(rfc_parts());
  const std::string input = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
  const ClientHandshakeResult ok = answer(request, input);
  EXPECT_EQ(ok.error, ClientHandshakeError::not_switching_protocols);
  EXPECT_EQ(ok.http_status, 200);
  EXPECT_EQ(ok.message, "server answered 200 OK");
  EXPECT_EQ(ok.consumed, input.size() - 2);

  const ClientHandshakeResult bare = answer(request, "HTTP/1.1 403\r\n\r\n");
  EXPECT_EQ(bare.http_status, 403);
  EXPECT_EQ(bare.message, "server answered 403");
}

TEST(ClientResponse, NoSubprotocolOfferedMeansNoneMayBeChosen) {
  ClientRequestParts parts = rfc_parts();
  parts.subprotocols = {};
  const ClientHandshakeRequest request = make_request(parts);
  EXPECT_EQ(answer(request, switching(valid_fields + "Sec-WebSocket-Protocol: chat\r\n")).error,
            ClientHandshakeError::unexpected_subprotocol);
}

TEST(ClientResponse, LimitsTheResponseHead) {
  const ClientHandshakeRequest request = make_request(rfc_parts());
  std::string fields = valid_fields;
  for (int i = 0; i < 200; ++i) fields += "X-" + std::to_string(i) + ": v\r\n";
  const ClientHandshakeResult result = answer(request, switching(fields));
  EXPECT_EQ(result.error, ClientHandshakeError::malformed_response);
}

TEST(ClientResponse, ChecksTheExtensionAgainstTheDeflateOffer) {
  const DeflateConfig config;
  ClientRequestParts parts = rfc_parts();
  parts.deflate = &config;
  const ClientHandshakeRequest request = make_request(parts);

  const ClientHandshakeResult agreed =
      answer(request, switching(valid_fields + "Sec-WebSocket-Extensions: permessage-deflate\r\n"));
  ASSERT_TRUE(agreed.ok()) << agreed.message;
  ASSERT_TRUE(agreed.deflate.has_value());
  EXPECT_EQ(agreed.extensions, "permessage-deflate");
  EXPECT_EQ(agreed.deflate->server_max_window_bits, 15);

  const ClientHandshakeResult other = answer(
      request, switching(valid_fields + "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n"));
  EXPECT_EQ(other.error, ClientHandshakeError::unexpected_extension) << other.message;
}

TEST(ClientResponse, NegotiatesDeflateEndToEndWithTheServerSide) {
  const DeflateConfig config;
  ClientRequestParts parts = rfc_parts();
  parts.deflate = &config;
  const ClientHandshakeRequest request = make_request(parts);

  test::ParsedRequest parsed(request.bytes());
  const UpgradeCheck check = check_upgrade_request(parsed.head);
  ASSERT_TRUE(check.ok()) << check.reason;
  std::string extension_answer;
  ASSERT_TRUE(negotiate_deflate_offer(check.extensions, config, extension_answer).has_value());
  const std::vector<std::string> preferred{"superchat"};
  std::string response;
  ASSERT_TRUE(append_switching_protocols(
      response, check.key, choose_subprotocol(preferred, check.subprotocols), extension_answer));

  const ClientHandshakeResult result = answer(request, response);
  ASSERT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.subprotocol, "superchat");
  EXPECT_EQ(result.extensions, extension_answer);
  EXPECT_TRUE(result.deflate.has_value());
}

}  // namespace
}  // namespace fastws::protocol
