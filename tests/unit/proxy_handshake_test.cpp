// The conversation that opens a tunnel (src/client/proxy_handshake.hpp), byte by byte: the
// CONNECT request and its answers, SOCKS5 greetings, RFC 1929 credentials, CONNECT requests for
// names and addresses, every reply, answers in pieces, and the bytes after an answer left alone.
#include <gtest/gtest.h>

#include <string>

#include "client/proxy_handshake.hpp"

namespace fastws::detail {
namespace {

using namespace std::string_literals;

ProxyUrl proxy(ProxyKind kind, std::string username = {}, std::string password = {}) {
  ProxyUrl url;
  url.kind = kind;
  url.host = "proxy.test";
  url.port = kind == ProxyKind::http ? 3128 : 1080;
  url.has_credentials = !username.empty();
  url.username = std::move(username);
  url.password = std::move(password);
  return url;
}

// Takes what the handshake wants to send, as a test peer would read it.
std::string take_output(ProxyHandshake& handshake) {
  std::string output(handshake.output());
  handshake.sent(output.size());
  return output;
}

TEST(ProxyHandshakeHttp, SendsConnectWithHostAndBasicCredentials) {
  ProxyHandshake plain(proxy(ProxyKind::http), "echo.test", 8443, 16384);
  EXPECT_EQ(take_output(plain), "CONNECT echo.test:8443 HTTP/1.1\r\nHost: echo.test:8443\r\n\r\n");
  // RFC 7617 2: base64("Aladdin:open sesame").
  ProxyHandshake with_credentials(proxy(ProxyKind::http, "Aladdin", "open sesame"), "::1", 443,
                                  16384);
  EXPECT_EQ(take_output(with_credentials),
            "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n"
            "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");
}

TEST(ProxyHandshakeHttp, A2xxAnswerOpensTheTunnelAndLeavesWhatFollows) {
  ProxyHandshake handshake(proxy(ProxyKind::http), "echo.test", 80, 16384);
  EXPECT_EQ(handshake.read("HTTP/1.0 200 Connection established\r\n"), 0u);  // not yet:
  take_output(handshake);  // the request was not sent: nothing to answer
  const std::string head = "HTTP/1.0 200 Connection established\r\nProxy-agent: t\r\n\r\n";
  EXPECT_EQ(handshake.read(head.substr(0, 20)), 0u);
  EXPECT_EQ(handshake.state(), ProxyHandshake::State::talking);
  EXPECT_EQ(handshake.read(head + "\x16\x03\x01"), head.size());  // the target's bytes stay
  EXPECT_EQ(handshake.state(), ProxyHandshake::State::done);
}

ProxyHandshake answered_http(std::string_view answer, bool credentials = false) {
  ProxyHandshake handshake(
      credentials ? proxy(ProxyKind::http, "u", "wrong") : proxy(ProxyKind::http), "echo.test", 80,
      256);
  take_output(handshake);
  handshake.read(answer);
  return handshake;
}

TEST(ProxyHandshakeHttp, ARefusalSaysTheStatusAndReason) {
  const ProxyHandshake denied = answered_http(
      "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n", true);
  EXPECT_EQ(denied.state(), ProxyHandshake::State::failed);
  EXPECT_EQ(denied.error(), "refused CONNECT: 407 Proxy Authentication Required");
  EXPECT_EQ(answered_http("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n").error(),
            "refused CONNECT: 407 Proxy Authentication Required (the proxy URL has no "
            "user:password)");
  EXPECT_EQ(answered_http("HTTP/1.1 403 \r\n\r\n").error(), "refused CONNECT: 403 Forbidden");
  EXPECT_EQ(answered_http("HTTP/1.1 502 Bad Gateway\r\n\r\nbody").error(),
            "refused CONNECT: 502 Bad Gateway");
}

TEST(ProxyHandshakeHttp, MalformedOrOversizedAnswersFail) {
  const ProxyHandshake garbage = answered_http("SSH-2.0-OpenSSH\r\n\r\n");
  EXPECT_EQ(garbage.state(), ProxyHandshake::State::failed);
  EXPECT_EQ(garbage.error().rfind("malformed answer to CONNECT: ", 0), 0u) << garbage.error();
  const std::string huge = "HTTP/1.1 200 OK\r\nX: " + std::string(300, 'a') + "\r\n\r\n";
  EXPECT_EQ(answered_http(huge).state(), ProxyHandshake::State::failed);
  // The caller never needs to read more than the limit and one byte to see it.
  ProxyHandshake fresh(proxy(ProxyKind::http), "echo.test", 80, 256);
  EXPECT_EQ(fresh.max_answer_size(), 257u);
}

TEST(ProxyHandshakeSocks5, WithoutCredentialsConnectsToANameResolvedByTheProxy) {
  ProxyHandshake handshake(proxy(ProxyKind::socks5), "echo.test", 8443, 16384);
  EXPECT_EQ(take_output(handshake), "\x05\x01\x00"s);  // VER NMETHODS "no authentication"
  EXPECT_EQ(handshake.read("\x05"), 0u);
  EXPECT_EQ(handshake.read("\x05\x00"s), 2u);
  // VER CMD=CONNECT RSV ATYP=3 LEN "echo.test" PORT(8443 = 0x20fb)
  EXPECT_EQ(take_output(handshake), "\x05\x01\x00\x03\x09"s + "echo.test" + "\x20\xfb");
  const std::string reply = "\x05\x00\x00\x01\x7f\x00\x00\x01\x9c\x40"s;  // bound 127.0.0.1:40000
  EXPECT_EQ(handshake.read(reply.substr(0, 7)), 0u);
  EXPECT_EQ(handshake.read(reply + "first bytes of the target"), reply.size());
  EXPECT_EQ(handshake.state(), ProxyHandshake::State::done);
}

TEST(ProxyHandshakeSocks5, AddressesGoAsAddresses) {
  ProxyHandshake ipv4(proxy(ProxyKind::socks5), "10.1.2.3", 80, 16384);
  take_output(ipv4);
  ipv4.read("\x05\x00"s);
  EXPECT_EQ(take_output(ipv4), "\x05\x01\x00\x01\x0a\x01\x02\x03\x00\x50"s);
  ProxyHandshake ipv6(proxy(ProxyKind::socks5), "::1", 443, 16384);
  take_output(ipv6);
  ipv6.read("\x05\x00"s);
  EXPECT_EQ(take_output(ipv6), "\x05\x01\x00\x04"s + std::string(15, '\0') + "\x01\x01\xbb"s);
  // A reply with a bound IPv6 address or name is read to its end.
  EXPECT_EQ(ipv6.read("\x05\x00\x00\x04"s + std::string(16, '\0') + "\x00\x50+"s), 22u);
  ProxyHandshake named(proxy(ProxyKind::socks5), "echo.test", 80, 16384);
  take_output(named);
  named.read("\x05\x00"s);
  take_output(named);
  EXPECT_EQ(named.read("\x05\x00\x00\x03\x04"s + "host"), 0u);
  EXPECT_EQ(named.read("\x05\x00\x00\x03\x04"s + "host\x00\x50"s), 11u);
}

TEST(ProxyHandshakeSocks5, UsernameAndPasswordPerRfc1929) {
  ProxyHandshake handshake(proxy(ProxyKind::socks5, "alice", "pw"), "echo.test", 80, 16384);
  EXPECT_EQ(take_output(handshake), "\x05\x02\x00\x02"s);  // "none" or username/password
  EXPECT_EQ(handshake.read("\x05\x02"s), 2u);
  EXPECT_EQ(take_output(handshake),
            "\x01\x05"
            "alice"
            "\x02"
            "pw"s);
  EXPECT_EQ(handshake.read("\x01\x00"s), 2u);
  EXPECT_EQ(take_output(handshake).substr(0, 4), "\x05\x01\x00\x03"s);

  ProxyHandshake refused(proxy(ProxyKind::socks5, "alice", "bad"), "echo.test", 80, 16384);
  take_output(refused);
  refused.read("\x05\x02"s);
  take_output(refused);
  refused.read("\x01\x01"s);
  EXPECT_EQ(refused.state(), ProxyHandshake::State::failed);
  EXPECT_EQ(refused.error(), "refused the user name and password (status 1)");
}

std::string socks_error(std::string_view method_answer, std::string_view reply = {},
                        bool credentials = false) {
  ProxyHandshake handshake(
      credentials ? proxy(ProxyKind::socks5, "u", "p") : proxy(ProxyKind::socks5), "echo.test", 80,
      16384);
  take_output(handshake);
  handshake.read(method_answer);
  if (!reply.empty()) {
    take_output(handshake);
    handshake.read(reply);
  }
  EXPECT_EQ(handshake.state(), ProxyHandshake::State::failed);
  return handshake.error();
}

TEST(ProxyHandshakeSocks5, EveryRefusalIsReadable) {
  EXPECT_EQ(socks_error("\x05\x00"s, "\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00"s),
            "connection refused by destination (5)");
  EXPECT_EQ(socks_error("\x05\x00"s, "\x05\x02\x00\x01"s + std::string(6, '\0')),
            "connection not allowed by the proxy's rules (2)");
  EXPECT_EQ(socks_error("\x05\x00"s, "\x05\x04\x00\x01"s + std::string(6, '\0')),
            "host unreachable (4)");
  EXPECT_EQ(socks_error("\x05\x00"s, "\x05\x63\x00\x01"s + std::string(6, '\0')),
            "unknown reply (99)");
  EXPECT_EQ(socks_error("\x05\x00"s, "\x05\x00\x00\x07\x00"s),
            "answered with an unknown address type 7");
  EXPECT_EQ(socks_error("\x05\xff"s), "wants authentication (the proxy URL has no user:password)");
  EXPECT_EQ(socks_error("\x05\xff"s, {}, true),
            "accepts none of the offered authentication methods");
  EXPECT_EQ(socks_error("\x05\x02"s), "chose authentication method 2, which was not offered");
  EXPECT_EQ(socks_error("HT"), "not a SOCKS5 proxy (version 72)");
}

}  // namespace
}  // namespace fastws::detail
