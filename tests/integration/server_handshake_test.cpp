// The opening handshake over a real socket (RFC 6455 section 4.2): the exact 101, lenient-but-
// correct field parsing, every refusal with its exact status, hostile heads (ANCHORS 8), the
// head size limit, subprotocol choice, on_upgrade decisions (ANCHORS 12), Origin policies and
// permessage-deflate negotiation with a compressed round trip (RFC 7692).
//
// Complements server_http_upgrade_test.cpp, which covers POST, HTTP/1.0, short and duplicate
// keys, version 8, NUL and bare LF, 2,000 headers, a 64 KiB line, the allow-list and the
// server's subprotocol preference.
#include <gtest/gtest.h>
#include <zlib.h>

#include <atomic>

#include "server_test_support.hpp"

namespace fastws::testing {
namespace {

// ---------------------------------------------------------------------------------------------
// A valid upgrade.

TEST(Handshake, ValidUpgradeGetsExactly101WithTheAcceptKey) {
  TestServer server;
  server.server().on_message(
      [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
  server.start();
  RawPeer peer(server.port());
  // Not the RFC's sample key; the accept value was computed apart (RFC 6455 4.2.2: base64 of
  // the SHA-1 of the key and the GUID).
  peer.send_raw(
      request_head("GET /chat HTTP/1.1",
                   {"Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade",
                    "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==", "Sec-WebSocket-Version: 13"}));
  EXPECT_EQ(peer.read_head(),
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n"
            "\r\n");
  peer.send_text("open");
  auto echo = peer.read_frame();
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->payload_text(), "open");
}

TEST(Handshake, FieldNamesAreCaseInsensitiveAndTokenListsAreSplit) {
  TestServer server;
  server.start();
  RawPeer peer(server.port());
  peer.send_raw(
      request_head("GET / HTTP/1.1",
                   {"hOsT: 127.0.0.1", "UPGRADE: h2c, WebSocket", "connection: keep-alive, Upgrade",
                    "SEC-WEBSOCKET-VERSION: 13", "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ=="}));
  const std::string head = peer.read_head();
  EXPECT_EQ(status_of(head), 101) << head;
  EXPECT_EQ(field_of(head, "Sec-WebSocket-Accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(Handshake, FramesSentWithTheRequestAreNotLost) {
  TestServer server;
  server.server().on_message(
      [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
  server.start();
  Frame frame = Frame::text("early");
  frame.mask = MaskKey{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  const std::vector<std::byte> frame_bytes = frame.serialize();
  const std::string request = RawPeer::upgrade_request();
  {
    // In the same write as the head.
    RawPeer peer(server.port());
    std::vector<std::byte> write = to_bytes(request);
    write.insert(write.end(), frame_bytes.begin(), frame_bytes.end());
    peer.send_raw(write);
    EXPECT_EQ(status_of(peer.read_head()), 101);
    auto echo = peer.read_frame();
    ASSERT_TRUE(echo);
    EXPECT_EQ(echo->payload_text(), "early");
  }
  {
    // Behind a head that arrived in two pieces (the server kept the first one aside).
    RawPeer peer(server.port());
    peer.send_raw(std::string_view(request).substr(0, 30));
    std::this_thread::sleep_for(20ms);
    std::vector<std::byte> write = to_bytes(std::string_view(request).substr(30));
    write.insert(write.end(), frame_bytes.begin(), frame_bytes.end());
    peer.send_raw(write);
    EXPECT_EQ(status_of(peer.read_head()), 101);
    auto echo = peer.read_frame();
    ASSERT_TRUE(echo);
    EXPECT_EQ(echo->payload_text(), "early");
  }
}

// ---------------------------------------------------------------------------------------------
// Refusals: the status, Connection: close, a Content-Length that matches the body, and the
// server closing the connection.

struct Refusal {
  const char* name;
  std::string request;
  int status;
};

// The fields of a valid upgrade request and the blank line, leaving out the field called
// `skipped` ("" keeps all) and adding `extra` ones.
std::string upgrade_fields(std::string_view skipped,
                           std::initializer_list<std::string_view> extra) {
  std::string fields;
  for (std::string_view field :
       {"Host: x", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="}) {
    if (skipped.empty() || !field.starts_with(std::string(skipped) + ":")) {
      fields += std::string(field) + "\r\n";
    }
  }
  for (std::string_view field : extra) fields += std::string(field) + "\r\n";
  return fields + "\r\n";
}

std::string upgrade_without(std::string_view skipped,
                            std::initializer_list<std::string_view> extra) {
  return "GET / HTTP/1.1\r\n" + upgrade_fields(skipped, extra);
}

std::string upgrade_with(std::initializer_list<std::string_view> extra) {
  return upgrade_without({}, extra);
}

void expect_refusal(std::uint16_t port, const Refusal& c) {
  RawPeer peer(port);
  peer.send_raw(c.request);
  ReadToEnd answer = read_to_end(peer.fd());
  EXPECT_TRUE(answer.closed) << c.name << ": the server did not close";
  EXPECT_EQ(status_of(answer.bytes), c.status) << c.name << ": " << answer.bytes.substr(0, 300);
  EXPECT_EQ(field_of(answer.bytes, "Connection"), "close") << c.name;
  const auto body_start = answer.bytes.find("\r\n\r\n");
  ASSERT_NE(body_start, std::string::npos) << c.name;
  EXPECT_EQ(field_of(answer.bytes, "Content-Length"),
            std::to_string(answer.bytes.size() - body_start - 4))
      << c.name;
}

TEST(Handshake, EveryMalformedUpgradeIsRefusedWithItsStatus) {
  TestServer server;
  server.start();
  const std::vector<Refusal> cases = {
      {"no Host", upgrade_without("Host", {}), 400},
      {"two Hosts", upgrade_with({"Host: y"}), 400},
      {"empty Host", upgrade_without("Host", {"Host:"}), 400},
      {"Connection without upgrade", upgrade_without("Connection", {"Connection: keep-alive"}),
       400},
      {"no version", upgrade_without("Sec-WebSocket-Version", {}), 426},
      {"two versions", upgrade_with({"Sec-WebSocket-Version: 13"}), 426},
      {"no key", upgrade_without("Sec-WebSocket-Key", {}), 400},
      {"empty key", upgrade_without("Sec-WebSocket-Key", {"Sec-WebSocket-Key:"}), 400},
      {"key not base64",
       upgrade_without("Sec-WebSocket-Key", {"Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!=="}), 400},
      {"key without padding",
       upgrade_without("Sec-WebSocket-Key", {"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQAA"}), 400},
      {"two Origins", upgrade_with({"Origin: http://x", "Origin: http://x"}), 400},
      {"subprotocol with a space", upgrade_with({"Sec-WebSocket-Protocol: chat v2"}), 400},
      {"bare CR in the request line", "GET /a\rb HTTP/1.1\r\n" + upgrade_fields({}, {}), 400},
      {"bare LF inside the request line", "GET /a\nb HTTP/1.1\r\n" + upgrade_fields({}, {}), 400},
      {"NUL in a field value", upgrade_with({std::string_view("X-A: a\0b", 8)}), 400},
      {"HTTP/2.0", "GET / HTTP/2.0\r\n" + upgrade_fields({}, {}), 505},
  };
  for (const auto& c : cases) expect_refusal(server.port(), c);
}

// The handshake is a GET without a body (RFC 6455 4.1, RFC 7231 4.3.1). If a declared body were
// accepted, the server would read its bytes as frames while a proxy in front reads them as the
// body: the two disagree on where the WebSocket stream starts (a desync).
TEST(Handshake, UpgradeRequestWithABodyIsRefused) {
  TestServer server;
  server.start();
  expect_refusal(server.port(),
                 {"Content-Length", upgrade_with({"Content-Length: 5"}) + "hello", 400});
  expect_refusal(
      server.port(),
      {"chunked", upgrade_with({"Transfer-Encoding: chunked"}) + "5\r\nhello\r\n0\r\n\r\n", 400});
}

TEST(Handshake, MethodAndVersionRefusalsAreExact) {
  TestServer server;
  server.start();
  {
    RawPeer peer(server.port());
    peer.send_raw("POST / HTTP/1.1\r\n" + upgrade_fields({}, {}));
    const std::string body = "the WebSocket handshake must be a GET request";
    EXPECT_EQ(read_to_end(peer.fd()).bytes,
              "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nConnection: close\r\n"
              "Content-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\n\r\n" + body);
  }
  {
    RawPeer peer(server.port());
    peer.send_raw(upgrade_without("Sec-WebSocket-Version", {"Sec-WebSocket-Version: 8"}));
    const std::string body = "only WebSocket version 13 is supported";
    // RFC 6455 4.2.2: a 426 names the versions the server speaks.
    EXPECT_EQ(read_to_end(peer.fd()).bytes,
              "HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\n"
              "Sec-WebSocket-Version: 13\r\nConnection: close\r\n"
              "Content-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\n\r\n" + body);
  }
}

// ---------------------------------------------------------------------------------------------
// Hostile heads and the head size limit (ANCHORS 8).

TEST(Handshake, HeadOverTheLimitIsRefusedBeforeItEnds) {
  TestServer server;  // max_header_size 16 KiB
  server.start();
  RawPeer peer(server.port());
  // 20 KiB of fields and never the blank line: the 431 must not wait for the end of the head.
  std::string head = "GET / HTTP/1.1\r\n";
  while (head.size() < 20 * 1024) head += "X-Fill: " + std::string(100, 'a') + "\r\n";
  peer.send_raw(head);
  ReadToEnd answer = read_to_end(peer.fd());
  EXPECT_EQ(status_of(answer.bytes), 431) << answer.bytes.substr(0, 200);
  EXPECT_TRUE(answer.closed);
}

TEST(Handshake, MaxHeaderSizeCountsTheWholeHeadExactly) {
  ServerOptions options = TestServer::default_options();
  options.max_header_size = 512;
  TestServer server(options);
  server.start();
  auto head_of_size = [](std::size_t size) {
    std::string head = upgrade_with({"X-Pad: "});
    head.insert(head.size() - 4, size - head.size(), 'p');  // pad the last field's value
    return head;
  };
  ASSERT_EQ(head_of_size(512).size(), 512u);
  RawPeer fits(server.port());
  fits.send_raw(head_of_size(512));
  EXPECT_EQ(status_of(fits.read_head()), 101);
  RawPeer over(server.port());
  over.send_raw(head_of_size(513));
  EXPECT_EQ(status_of(read_to_end(over.fd()).bytes), 431);
}

TEST(Handshake, ThirtyKibOfSpacesInTheSubprotocolFieldIsAnsweredQuickly) {
  const std::string spaces = "Sec-WebSocket-Protocol: " + std::string(30 * 1024, ' ');
  {
    TestServer server;  // 16 KiB head limit: refused
    server.start();
    RawPeer peer(server.port());
    const auto start = std::chrono::steady_clock::now();
    peer.send_raw(upgrade_with({spaces}));
    EXPECT_EQ(status_of(read_to_end(peer.fd()).bytes), 431);
    EXPECT_LT(since(start), 500ms);
  }
  {
    ServerOptions options = TestServer::default_options();
    options.max_header_size = 64 * 1024;
    options.subprotocols = {"chat"};
    TestServer server(options);  // allowed in size: an empty list offers nothing
    server.start();
    RawPeer peer(server.port());
    const auto start = std::chrono::steady_clock::now();
    peer.send_raw(upgrade_with({spaces}));
    const std::string head = peer.read_head();
    EXPECT_EQ(status_of(head), 101) << head.substr(0, 200);
    EXPECT_EQ(head.find("Sec-WebSocket-Protocol"), std::string::npos) << head;
    EXPECT_LT(since(start), 500ms);
  }
}

// ---------------------------------------------------------------------------------------------
// Subprotocols (RFC 6455 4.2.2: the server picks one the client offered, or none).

struct SubprotocolSeen {
  std::vector<std::string> offered;
  std::string preselected;
  std::string in_open;
};

class Subprotocols : public ::testing::Test {
 protected:
  Subprotocols() {
    server_.server().on_upgrade([](const Request& request, Upgrade& upgrade) {
      SubprotocolSeen seen;
      seen.offered = upgrade.offered_subprotocols();
      seen.preselected = std::string(upgrade.subprotocol());
      upgrade.set_user_data(seen);
      if (request.path() == "/pick-unoffered") upgrade.select_subprotocol("zzz");
      if (request.path() == "/pick-none") upgrade.select_subprotocol("");
    });
    server_.server().on_open([this](const Conn& conn) {
      const SubprotocolSeen* from_upgrade = conn.user_data<SubprotocolSeen>();
      if (from_upgrade == nullptr) return seen_.add({});
      SubprotocolSeen seen = *from_upgrade;
      seen.in_open = std::string(conn.subprotocol());
      seen_.add(seen);
    });
    server_.start();
  }
  static ServerOptions options() {
    ServerOptions options = TestServer::default_options();
    options.subprotocols = {"c", "b"};
    return options;
  }
  // Returns the 101's Sec-WebSocket-Protocol value ("" when absent) and what the callbacks saw.
  std::pair<std::string, SubprotocolSeen> connect(std::string_view path,
                                                  std::string_view offer_fields) {
    const std::size_t before = seen_.size();
    RawPeer peer(server_.port());
    const std::string head = peer.handshake(path, offer_fields);
    EXPECT_EQ(status_of(head), 101) << head;
    EXPECT_TRUE(seen_.wait_for(before + 1));
    return {field_of(head, "Sec-WebSocket-Protocol"), seen_.all().back()};
  }

  Recorded<SubprotocolSeen> seen_;
  TestServer server_{options()};
};

TEST_F(Subprotocols, OffersFromSeveralFieldsAreSeenInOrder) {
  auto [answer, seen] =
      connect("/", "Sec-WebSocket-Protocol: a, b\r\nSec-WebSocket-Protocol: c\r\n");
  EXPECT_EQ(seen.offered, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(seen.preselected, "c");  // the server's first preference the client offered
  EXPECT_EQ(answer, "c");
  EXPECT_EQ(seen.in_open, "c");
}

TEST_F(Subprotocols, NoCommonSubprotocolMeansNoField) {
  auto [answer, seen] = connect("/", "Sec-WebSocket-Protocol: x, y\r\n");
  EXPECT_EQ(seen.preselected, "");
  EXPECT_EQ(answer, "");
  EXPECT_EQ(seen.in_open, "");
}

TEST_F(Subprotocols, SelectingANameTheClientDidNotOfferSelectsNone) {
  auto [answer, seen] = connect("/pick-unoffered", "Sec-WebSocket-Protocol: b, c\r\n");
  EXPECT_EQ(seen.preselected, "c");
  EXPECT_EQ(answer, "");
  EXPECT_EQ(seen.in_open, "");
}

TEST_F(Subprotocols, SelectingEmptyOverridesThePreference) {
  auto [answer, seen] = connect("/pick-none", "Sec-WebSocket-Protocol: b\r\n");
  EXPECT_EQ(seen.preselected, "b");
  EXPECT_EQ(answer, "");
}

// ---------------------------------------------------------------------------------------------
// on_upgrade: refusals, extra 101 fields, user data and the request (ANCHORS 12).

TEST(UpgradeDecision, RejectionIsSentExactlyAndThePipelinedUpgradeBehindItIsIgnored) {
  std::atomic<int> decisions{0};
  TestServer server;
  server.server().on_upgrade([&](const Request& request, Upgrade& upgrade) {
    ++decisions;
    if (request.path() == "/deny") {
      upgrade.reject(401, "nope\n", {{"WWW-Authenticate", "Basic realm=\"ws\""}});
    }
  });
  server.start();
  RawPeer peer(server.port());
  // Both requests in one write: a valid upgrade hides behind the refused one.
  peer.send_raw(RawPeer::upgrade_request("/deny") + RawPeer::upgrade_request("/allowed"));
  ReadToEnd answer = read_to_end(peer.fd());
  EXPECT_TRUE(answer.closed);
  EXPECT_EQ(answer.bytes,
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"ws\"\r\n"
            "Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 5\r\n\r\nnope\n");
  EXPECT_EQ(decisions.load(), 1);
}

TEST(UpgradeDecision, RejectionWithItsOwnContentType) {
  TestServer server;
  server.server().on_upgrade([](const Request&, Upgrade& upgrade) {
    upgrade.reject(429, "{}", {{"Content-Type", "application/json"}, {"Retry-After", "3"}});
  });
  server.start();
  RawPeer peer(server.port());
  peer.send_raw(RawPeer::upgrade_request());
  EXPECT_EQ(read_to_end(peer.fd()).bytes,
            "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
            "Retry-After: 3\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}");
}

TEST(UpgradeDecision, InvalidRejectionsAndHeadersBecome500) {
  TestServer server;
  server.server().on_upgrade([](const Request& request, Upgrade& upgrade) {
    if (request.path() == "/crlf") upgrade.reject(403, "x", {{"X-Evil", "a\r\nSet-Cookie: b"}});
    if (request.path() == "/status") upgrade.reject(99);
    if (request.path() == "/reserved") upgrade.add_header("Sec-WebSocket-Accept", "forged");
    if (request.path() == "/extra-crlf") upgrade.add_header("X-Evil", "a\r\nb: c");
  });
  server.start();
  for (const char* path : {"/crlf", "/status", "/reserved", "/extra-crlf"}) {
    RawPeer peer(server.port());
    peer.send_raw(RawPeer::upgrade_request(path));
    ReadToEnd answer = read_to_end(peer.fd());
    EXPECT_EQ(status_of(answer.bytes), 500) << path << ": " << answer.bytes;
    EXPECT_EQ(answer.bytes.find("Set-Cookie"), std::string::npos) << path;
    EXPECT_EQ(answer.bytes.find("forged"), std::string::npos) << path;
    EXPECT_TRUE(answer.closed) << path;
  }
}

struct UserSession {
  std::string token;
  int visits = 0;
};

TEST(UpgradeDecision, ExtraFieldsUserDataAndTheRequestReachTheConnection) {
  // Declared before the server, so the server (and its callbacks) is gone before they are.
  Recorded<std::string> seen;
  Recorded<Conn> opened;
  TestServer server;
  server.server().on_upgrade([&](const Request& request, Upgrade& upgrade) {
    upgrade.add_header("X-Server", "fastws");
    upgrade.set_user_data(UserSession{std::string(request.header("x-token")), 0});
  });
  server.server().on_open([&](const Conn& conn) {
    const Request* request = conn.request();
    seen.add(request ? "open sees " + std::string(request->target()) : "open: no request");
    seen.add(conn.user_data<int>() == nullptr ? "not an int" : "an int?");
    opened.add(conn);
  });
  server.server().on_message([&](const Conn& conn, Message) {
    UserSession* session = conn.user_data<UserSession>();
    if (session == nullptr) return seen.add("no user data");
    ++session->visits;
    seen.add(session->token + " " + std::to_string(session->visits) +
             (conn.request() == nullptr ? " no request" : " request?"));
  });
  server.start();
  RawPeer peer(server.port());
  const std::string head = peer.handshake("/room?x=1", "X-Token: abc\r\n");
  EXPECT_EQ(field_of(head, "X-Server"), "fastws") << head;
  peer.send_text("1");
  peer.send_text("2");
  ASSERT_TRUE(seen.wait_for(4));
  EXPECT_EQ(seen.all(), (std::vector<std::string>{"open sees /room?x=1", "not an int",
                                                  "abc 1 no request", "abc 2 no request"}));
  // Outside the callbacks (another thread) there is no request, but the user data stays.
  Conn conn = wait_for_open(opened);
  ASSERT_TRUE(conn);
  EXPECT_EQ(conn.request(), nullptr);
  const UserSession* session = conn.user_data<UserSession>();
  ASSERT_NE(session, nullptr);
  EXPECT_EQ(session ? session->token : "", "abc");  // (the test keeps g++'s null check quiet)
}

// ---------------------------------------------------------------------------------------------
// Origin policies (RFC 6455 10.2).

int origin_status(std::uint16_t port, std::string_view host, std::string_view origin) {
  RawPeer peer(port);
  const std::string host_field = "Host: " + std::string(host);
  const std::string origin_field = "Origin: " + std::string(origin);
  peer.send_raw(origin.empty() ? upgrade_without("Host", {host_field})
                               : upgrade_without("Host", {host_field, origin_field}));
  return status_of(peer.read_head());
}

TEST(Origin, SameOriginComparesHostAndPortExactly) {
  TestServer server;
  server.start();
  const std::string host = "127.0.0.1:" + std::to_string(server.port());
  const std::string port = std::to_string(server.port());
  EXPECT_EQ(origin_status(server.port(), host, ""), 101);  // no Origin: not a browser
  EXPECT_EQ(origin_status(server.port(), host, "http://" + host), 101);
  EXPECT_EQ(origin_status(server.port(), host, "http://evil.com"), 403);
  EXPECT_EQ(origin_status(server.port(), host, "http://127.0.0.1:1"), 403);
  EXPECT_EQ(origin_status(server.port(), host, "http://localhost:" + port), 403);
  EXPECT_EQ(origin_status(server.port(), host, "http://user@" + host), 403);
  EXPECT_EQ(origin_status(server.port(), host, "http://" + host + "/path"), 403);
  // Default ports: https://example.com is example.com:443.
  EXPECT_EQ(origin_status(server.port(), "example.com:443", "https://example.com"), 101);
  EXPECT_EQ(origin_status(server.port(), "example.com", "http://example.com:8080"), 403);
}

TEST(Origin, CustomCheckDecidesAndSeesOriginAndHost) {
  ServerOptions options = TestServer::default_options();
  options.origin.mode = OriginPolicy::Mode::custom;
  Recorded<std::string> calls;
  options.origin.check = [&](std::string_view origin, std::string_view host) {
    calls.add(std::string(origin) + " @ " + std::string(host));
    return origin.ends_with(".trusted.example");
  };
  TestServer server(options);
  server.start();
  EXPECT_EQ(origin_status(server.port(), "h:1", "https://a.trusted.example"), 101);
  EXPECT_EQ(origin_status(server.port(), "h:1", "https://evil.example"), 403);
  EXPECT_EQ(calls.all(), (std::vector<std::string>{"https://a.trusted.example @ h:1",
                                                   "https://evil.example @ h:1"}));
}

TEST(Origin, CustomModeWithoutACheckRefusesBrowsersAndAnyAllowsAll) {
  ServerOptions custom = TestServer::default_options();
  custom.origin.mode = OriginPolicy::Mode::custom;
  TestServer strict(custom);
  strict.start();
  EXPECT_EQ(origin_status(strict.port(), "h", "http://h"), 403);

  ServerOptions any = TestServer::default_options();
  any.origin.mode = OriginPolicy::Mode::any;
  TestServer open(any);
  open.start();
  EXPECT_EQ(origin_status(open.port(), "h", "http://evil.com"), 101);
}

// ---------------------------------------------------------------------------------------------
// permessage-deflate (RFC 7692): negotiation in the 101 and a compressed echo built with zlib.

// The client's half of a permessage-deflate connection with context takeover both ways
// (RFC 7692 7.2.1): raw deflate with a sync flush, minus the final 00 00 ff ff; inflate with it
// added back.
class DeflateClient {
 public:
  DeflateClient() {
    deflateInit2(&deflate_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    inflateInit2(&inflate_, -15);
  }
  ~DeflateClient() {
    deflateEnd(&deflate_);
    inflateEnd(&inflate_);
  }
  DeflateClient(const DeflateClient&) = delete;
  DeflateClient& operator=(const DeflateClient&) = delete;

  std::vector<std::byte> compress(std::string_view text) {
    std::vector<std::byte> out(text.size() + 64);
    deflate_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    deflate_.avail_in = static_cast<uInt>(text.size());
    deflate_.next_out = reinterpret_cast<Bytef*>(out.data());
    deflate_.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&deflate_, Z_SYNC_FLUSH), Z_OK);
    EXPECT_EQ(deflate_.avail_in, 0u);
    out.resize(out.size() - deflate_.avail_out);
    EXPECT_GE(out.size(), 4u);
    out.resize(out.size() - 4);  // RFC 7692 7.2.1: drop the empty stored block's 00 00 ff ff
    return out;
  }

  std::string decompress(std::vector<std::byte> data) {
    for (int byte : {0x00, 0x00, 0xff, 0xff}) data.push_back(static_cast<std::byte>(byte));
    std::string out(1 << 20, '\0');
    inflate_.next_in = reinterpret_cast<Bytef*>(data.data());
    inflate_.avail_in = static_cast<uInt>(data.size());
    inflate_.next_out = reinterpret_cast<Bytef*>(out.data());
    inflate_.avail_out = static_cast<uInt>(out.size());
    const int status = inflate(&inflate_, Z_SYNC_FLUSH);
    EXPECT_TRUE(status == Z_OK || status == Z_BUF_ERROR) << status;
    EXPECT_EQ(inflate_.avail_in, 0u);
    out.resize(out.size() - inflate_.avail_out);
    return out;
  }

 private:
  z_stream deflate_{};
  z_stream inflate_{};
};

ServerOptions with_compression(bool enabled) {
  ServerOptions options = TestServer::default_options();
  options.compression.enabled = enabled;
  return options;
}

TEST(Deflate, NegotiatedOnlyWhenEnabledAndOffered) {
  const std::string offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
  {
    Recorded<std::string> extensions;
    TestServer server(with_compression(true));
    server.server().on_open(
        [&](const Conn& conn) { extensions.add(std::string(conn.extensions())); });
    server.start();
    RawPeer offered(server.port());
    const std::string answer = field_of(offered.handshake("/", offer), "Sec-WebSocket-Extensions");
    EXPECT_EQ(answer, "permessage-deflate");
    RawPeer not_offered(server.port());
    EXPECT_EQ(not_offered.handshake().find("Sec-WebSocket-Extensions"), std::string::npos);
    ASSERT_TRUE(extensions.wait_for(2));
    EXPECT_EQ(extensions.all(), (std::vector<std::string>{answer, ""}));
  }
  {
    TestServer server(with_compression(false));
    server.start();
    RawPeer peer(server.port());
    const std::string head = peer.handshake("/", offer);
    EXPECT_EQ(status_of(head), 101);
    EXPECT_EQ(head.find("Sec-WebSocket-Extensions"), std::string::npos) << head;
  }
}

TEST(Deflate, CompressedEchoRoundTripsWithContextTakeover) {
  TestServer server(with_compression(true));
  server.server().on_message(
      [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
  server.start();
  RawPeer peer(server.port());
  const std::string head = peer.handshake("/", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
  ASSERT_EQ(field_of(head, "Sec-WebSocket-Extensions"), "permessage-deflate") << head;

  DeflateClient zlib;
  std::string text;
  for (int i = 0; i < 100; ++i) text += "compress me " + std::to_string(i % 7) + "; ";
  // Twice: the second message reuses both sides' sliding windows (context takeover).
  for (int round = 0; round < 2; ++round) {
    Frame frame = Frame::binary(zlib.compress(text));
    frame.opcode = Opcode::text;
    frame.rsv1 = true;
    ASSERT_LT(frame.payload.size(), text.size() / 4);
    peer.send_frame(frame);
    auto echo = peer.read_frame();
    ASSERT_TRUE(echo) << "round " << round;
    EXPECT_TRUE(echo->rsv1) << "round " << round << ": the echo should be compressed";
    EXPECT_EQ(echo->opcode, Opcode::text);
    EXPECT_EQ(zlib.decompress(echo->payload), text) << "round " << round;
  }
  // Messages shorter than CompressionOptions::min_size (64) come back uncompressed.
  Frame small = Frame::binary(zlib.compress("tiny"));
  small.rsv1 = true;
  peer.send_frame(small);
  auto echo = peer.read_frame();
  ASSERT_TRUE(echo);
  EXPECT_FALSE(echo->rsv1);
  EXPECT_EQ(echo->payload_text(), "tiny");
}

TEST(Deflate, CompressedFrameWithoutNegotiationIsAProtocolError) {
  TestServer server(with_compression(true));
  server.start();
  RawPeer peer(server.port());
  ASSERT_EQ(status_of(peer.handshake()), 101);  // no offer: no extension
  DeflateClient zlib;
  Frame frame = Frame::binary(zlib.compress("not negotiated"));
  frame.rsv1 = true;
  peer.send_frame(frame);
  EXPECT_EQ(peer.read_close_code(), close_code::protocol_error);
}

}  // namespace
}  // namespace fastws::testing
