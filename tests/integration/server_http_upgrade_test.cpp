// Plain HTTP on the WebSocket port (on_http, keep-alive, pipelining) and the upgrade decision
// over a real socket: refusals with their exact answers, Origin policies, and what happens to
// bytes pipelined behind a refused request (ANCHORS 8 and 12).
#include <gtest/gtest.h>

#include "test_peer.hpp"

namespace fastws::testing {
namespace {

std::string upgrade_with(std::string_view extra) {
  return RawPeer::upgrade_request("/", extra);
}

TEST(ServerHttp, RequestsReachOnHttpWithKeepAliveAndPipelining) {
  TestServer server;
  server.server().on_http([](const Request& request, Response& response) {
    if (request.path() == "/health") {
      response.add_header("X-Query", std::string(request.query()));
      response.send(200, "text/plain", "ok\n");
    }
  });
  server.start();
  RawPeer peer(server.port());
  // Two requests in one write: both answered, in order, on the same connection.
  peer.send_raw(
      "GET /health?probe=1 HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string first = peer.read_head();
  EXPECT_EQ(first.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << first;
  EXPECT_NE(first.find("X-Query: probe=1\r\n"), std::string::npos) << first;
  EXPECT_NE(first.find("Content-Length: 3\r\n"), std::string::npos) << first;
  EXPECT_EQ(first.find("Connection: close"), std::string::npos) << first;
  std::string rest = peer.read_head();
  EXPECT_EQ(rest.rfind("ok\nHTTP/1.1 404 Not Found\r\n", 0), 0u) << rest;
  // A third request later on the same connection, asking to close.
  peer.send_raw("HEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string head = peer.read_all();
  EXPECT_NE(head.find("not found\n"), std::string::npos);  // the 404's body, still unread
  EXPECT_NE(head.find("HTTP/1.1 200 OK\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Connection: close\r\n"), std::string::npos) << head;
  EXPECT_TRUE(head.ends_with("\r\n\r\n")) << "HEAD has no body: " << head;
}

TEST(ServerHttp, RequestBodiesAreRefused) {
  TestServer server;
  server.start();
  RawPeer peer(server.port());
  peer.send_raw("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  std::string answer = peer.read_all();
  EXPECT_EQ(answer.rfind("HTTP/1.1 413 ", 0), 0u) << answer;
  EXPECT_NE(answer.find("Connection: close\r\n"), std::string::npos);
}

struct Refusal {
  const char* name;
  std::string request;
  const char* status_line;
};

TEST(ServerUpgrade, MalformedUpgradesGetTheRightStatus) {
  TestServer server;
  server.start();
  const std::string key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  const std::string base =
      "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";
  std::vector<Refusal> cases = {
      {"POST", "POST / HTTP/1.1\r\n" + base + key + "\r\n", "HTTP/1.1 405 "},
      {"HTTP/1.0", "GET / HTTP/1.0\r\n" + base + key + "\r\n", "HTTP/1.1 400 "},
      {"asterisk target", "GET * HTTP/1.1\r\n" + base + key + "\r\n", "HTTP/1.1 400 "},
      {"no key", "GET / HTTP/1.1\r\n" + base + "\r\n", "HTTP/1.1 400 "},
      {"short key", "GET / HTTP/1.1\r\n" + base + "Sec-WebSocket-Key: c2hvcnQ=\r\n\r\n",
       "HTTP/1.1 400 "},
      {"two keys", "GET / HTTP/1.1\r\n" + base + key + key + "\r\n", "HTTP/1.1 400 "},
      {"version 8",
       "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Version: 8\r\n" +
           key + "\r\n",
       "HTTP/1.1 426 "},
      {"NUL in request line", std::string("GET /\0 HTTP/1.1\r\n", 17) + base + key + "\r\n",
       "HTTP/1.1 400 "},
      {"bare LF", "GET / HTTP/1.1\n" + base + key + "\r\n", "HTTP/1.1 400 "},
      {"64 KiB header line", "GET / HTTP/1.1\r\nX-Big: " + std::string(64 * 1024, 'a') + "\r\n",
       "HTTP/1.1 431 "},
  };
  {
    std::string many = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 2000; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
    cases.push_back({"2,000 headers", many + base + key + "\r\n", "HTTP/1.1 431 "});
  }
  for (const auto& c : cases) {
    RawPeer peer(server.port());
    peer.send_raw(c.request);
    std::string answer = peer.read_all();
    EXPECT_EQ(answer.rfind(c.status_line, 0), 0u) << c.name << ": " << answer.substr(0, 200);
    EXPECT_NE(answer.find("Connection: close\r\n"), std::string::npos) << c.name;
    if (std::string_view(c.name) == "version 8") {
      EXPECT_NE(answer.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos) << answer;
    }
  }
}

TEST(ServerUpgrade, RejectionFromOnUpgradeAndNothingPipelinedBehindItIsParsed) {
  TestServer server;
  std::atomic<int> upgrades{0};
  server.server().on_upgrade([&](const Request& request, Upgrade& upgrade) {
    ++upgrades;
    if (request.header("private-key") != "1234") {
      upgrade.reject(403, "go away\n", {{"X-Reason", "no key"}});
    }
  });
  server.server().on_http([](const Request&, Response& response) {
    response.send(200, "text/plain", "SHOULD NOT BE SEEN");
  });
  server.start();
  RawPeer peer(server.port());
  peer.send_raw(upgrade_with("") + "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string answer = peer.read_all();
  EXPECT_EQ(answer.rfind("HTTP/1.1 403 Forbidden\r\n", 0), 0u) << answer;
  EXPECT_NE(answer.find("X-Reason: no key\r\n"), std::string::npos) << answer;
  EXPECT_NE(answer.find("Connection: close\r\n"), std::string::npos) << answer;
  EXPECT_TRUE(answer.ends_with("\r\n\r\ngo away\n")) << answer;
  EXPECT_EQ(answer.find("SHOULD NOT BE SEEN"), std::string::npos) << answer;
  EXPECT_EQ(upgrades.load(), 1);

  RawPeer allowed(server.port());
  EXPECT_NE(allowed.handshake("/", "private-key: 1234\r\n").find(" 101 "), std::string::npos);
}

TEST(ServerUpgrade, SameOriginByDefault) {
  TestServer server;
  server.start();
  const std::string host = "127.0.0.1:" + std::to_string(server.port());
  auto status = [&](const std::string& headers) {
    RawPeer peer(server.port());
    peer.send_raw("GET / HTTP/1.1\r\nHost: " + host +
                  "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
                  headers + "\r\n");
    return peer.read_head().substr(0, 12);
  };
  EXPECT_EQ(status(""), "HTTP/1.1 101");  // no Origin: not a browser
  EXPECT_EQ(status("Origin: http://" + host + "\r\n"), "HTTP/1.1 101");
  EXPECT_EQ(status("Origin: http://evil.example\r\n"), "HTTP/1.1 403");
  EXPECT_EQ(status("Origin: http://" + host + ".evil.example\r\n"), "HTTP/1.1 403");
  EXPECT_EQ(status("Origin: null\r\n"), "HTTP/1.1 403");
}

TEST(ServerUpgrade, OriginAllowListIsExact) {
  ServerOptions options = TestServer::default_options();
  options.origin.mode = OriginPolicy::Mode::allow_list;
  options.origin.allowed = {"https://app.example.com"};
  TestServer server(options);
  server.start();
  auto status = [&](const std::string& origin) {
    RawPeer peer(server.port());
    return peer.handshake("/", "Origin: " + origin + "\r\n").substr(0, 12);
  };
  EXPECT_EQ(status("https://app.example.com"), "HTTP/1.1 101");
  EXPECT_EQ(status("https://app.example.com.evil.com"), "HTTP/1.1 403");
  EXPECT_EQ(status("https://evil.com/https://app.example.com"), "HTTP/1.1 403");
  EXPECT_EQ(status("http://app.example.com"), "HTTP/1.1 403");
}

TEST(ServerUpgrade, SubprotocolsFollowTheServersPreferenceAndUserDataReachesOpen) {
  ServerOptions options = TestServer::default_options();
  options.subprotocols = {"v3", "v2"};
  TestServer server(options);
  std::mutex mutex;
  std::string seen_path, seen_data, seen_protocol;
  bool request_visible_in_open = false;
  server.server().on_upgrade([](const Request& request, Upgrade& upgrade) {
    upgrade.set_user_data(std::string(request.path()));
    if (request.path() == "/override") upgrade.select_subprotocol("v1");
  });
  server.server().on_open([&](const Conn& conn) {
    std::lock_guard lock(mutex);
    seen_data = *conn.user_data<std::string>();
    seen_protocol = std::string(conn.subprotocol());
    request_visible_in_open = conn.request() != nullptr && conn.request()->path() == seen_data;
  });
  server.start();
  RawPeer peer(server.port());
  std::string head = peer.handshake("/chat", "Sec-WebSocket-Protocol: v1, v2, v3\r\n");
  EXPECT_NE(head.find("Sec-WebSocket-Protocol: v3\r\n"), std::string::npos) << head;
  RawPeer second(server.port());
  head = second.handshake("/override", "Sec-WebSocket-Protocol: v1, v2\r\n");
  EXPECT_NE(head.find("Sec-WebSocket-Protocol: v1\r\n"), std::string::npos) << head;
  std::this_thread::sleep_for(50ms);
  std::lock_guard lock(mutex);
  EXPECT_EQ(seen_data, "/override");
  EXPECT_EQ(seen_protocol, "v1");
  EXPECT_TRUE(request_visible_in_open);
}

}  // namespace
}  // namespace fastws::testing
