// Plain HTTP/1.1 on the WebSocket port (RFC 7230): on_http and the default 404, exact response
// bytes, persistent connections (6.3), pipelining (6.3.2) across partial writes, Connection:
// close, HTTP/1.0, HEAD (RFC 7231 4.3.2), refused bodies that must never be parsed as requests,
// the keep-alive timeout, and an upgrade after plain requests on the same connection.
//
// Complements server_http_upgrade_test.cpp (two pipelined requests in one write, X-Query, a
// HEAD at the end of a connection, the 413 status).
#include <gtest/gtest.h>

#include "server_test_support.hpp"

namespace fastws::testing {
namespace {

std::string get(std::string_view path, std::string_view extra_fields = {}) {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: x\r\n" + std::string(extra_fields) +
         "\r\n";
}

// The response the PageServer below gives for `path`.
std::string page_response(std::string_view path, bool close = false, bool head = false) {
  const std::string body = "page " + std::string(path) + "\n";
  std::string response =
      "HTTP/1.1 200 OK\r\nX-Path: " + std::string(path) +
      "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  if (close) response += "Connection: close\r\n";
  return response + "\r\n" + (head ? "" : body);
}

// A server whose on_http answers every path with "page <path>" and records the paths.
class PageServer : public ::testing::Test {
 protected:
  PageServer() {
    server_.server().on_http([this](const Request& request, Response& response) {
      paths_.add(std::string(request.path()));
      response.add_header("X-Path", std::string(request.path()));
      response.send(200, "text/plain", "page " + std::string(request.path()) + "\n");
      if (request.path() == "/last") response.close_connection();
    });
    server_.start();
  }

  Recorded<std::string> paths_;
  TestServer server_;
};

TEST(HttpDefault, WithoutAHandlerEveryRequestIs404AndTheConnectionStays) {
  TestServer server;
  server.start();
  RawPeer peer(server.port());
  const std::string not_found =
      "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\n"
      "not found\n";
  peer.send_raw(get("/nothing"));
  EXPECT_EQ(read_bytes(peer.fd(), not_found.size()), not_found);
  peer.send_raw(get("/nothing", "Connection: close\r\n"));
  ReadToEnd last = read_to_end(peer.fd());
  EXPECT_EQ(last.bytes,
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n"
            "Connection: close\r\n\r\nnot found\n");
  EXPECT_TRUE(last.closed);
}

// RFC 7230 5.4: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1
// request message that lacks a Host header field and to any request message that contains more
// than one Host header field".
TEST_F(PageServer, Http11RequestsNeedExactlyOneHost) {
  for (const char* request :
       {"GET /no-host HTTP/1.1\r\n\r\n", "GET /two-hosts HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"}) {
    RawPeer peer(server_.port());
    peer.send_raw(request);
    ReadToEnd answer = read_to_end(peer.fd(), 500ms);
    EXPECT_EQ(status_of(answer.bytes), 400) << request << answer.bytes;
    EXPECT_TRUE(answer.closed) << request;
  }
  EXPECT_TRUE(paths_.all().empty());
  // HTTP/1.0 has no such rule.
  RawPeer old(server_.port());
  old.send_raw("GET /old HTTP/1.0\r\n\r\n");
  EXPECT_EQ(read_to_end(old.fd()).bytes, page_response("/old", true));
}

TEST_F(PageServer, KeepAliveServesRequestsInSeparateWrites) {
  RawPeer peer(server_.port());
  for (const char* path : {"/one", "/two", "/three"}) {
    peer.send_raw(get(path));
    const std::string expected = page_response(path);
    EXPECT_EQ(read_bytes(peer.fd(), expected.size()), expected);
  }
  EXPECT_EQ(paths_.all(), (std::vector<std::string>{"/one", "/two", "/three"}));
}

TEST_F(PageServer, PipelinedRequestsSplitInsideAHeadAreAnsweredInOrder) {
  RawPeer peer(server_.port());
  const std::string all = get("/a") + get("/b") + get("/last");
  // The second write starts in the middle of the second request's Host field.
  const std::size_t split = get("/a").size() + 20;
  peer.send_raw(std::string_view(all).substr(0, split));
  std::this_thread::sleep_for(20ms);
  peer.send_raw(std::string_view(all).substr(split));
  ReadToEnd answer = read_to_end(peer.fd());
  EXPECT_TRUE(answer.closed);
  EXPECT_EQ(answer.bytes, page_response("/a") + page_response("/b") + page_response("/last", true));
}

TEST_F(PageServer, ConnectionCloseEndsTheConnectionAndIgnoresWhatFollows) {
  RawPeer peer(server_.port());
  peer.send_raw(get("/bye", "Connection: close\r\n") + get("/after"));
  ReadToEnd answer = read_to_end(peer.fd(), 1s);
  EXPECT_TRUE(answer.closed) << "no EOF within a second";
  EXPECT_EQ(answer.bytes, page_response("/bye", true));
  EXPECT_EQ(paths_.all(), (std::vector<std::string>{"/bye"}));
}

TEST_F(PageServer, HandlerCanCloseTheConnection) {
  RawPeer peer(server_.port());
  peer.send_raw(get("/last"));
  ReadToEnd answer = read_to_end(peer.fd(), 1s);
  EXPECT_TRUE(answer.closed);
  EXPECT_EQ(answer.bytes, page_response("/last", true));
}

TEST_F(PageServer, Http10ClosesUnlessItAsksForKeepAlive) {
  {
    RawPeer peer(server_.port());
    peer.send_raw("GET /old HTTP/1.0\r\n\r\n");
    ReadToEnd answer = read_to_end(peer.fd(), 1s);
    EXPECT_TRUE(answer.closed);
    EXPECT_EQ(answer.bytes, page_response("/old", true));
  }
  {
    RawPeer peer(server_.port());
    peer.send_raw("GET /kept HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + get("/last"));
    ReadToEnd answer = read_to_end(peer.fd(), 1s);
    EXPECT_TRUE(answer.closed);
    EXPECT_EQ(answer.bytes, page_response("/kept") + page_response("/last", true));
  }
}

TEST_F(PageServer, HeadGetsTheLengthButNoBody) {
  RawPeer peer(server_.port());
  // If HEAD carried a body, the GET's status line would not follow the HEAD's blank line.
  peer.send_raw("HEAD /page HTTP/1.1\r\nHost: x\r\n\r\n" + get("/last"));
  ReadToEnd answer = read_to_end(peer.fd());
  EXPECT_EQ(answer.bytes, page_response("/page", false, true) + page_response("/last", true));
}

TEST_F(PageServer, RequestBodiesAreRefusedAndNeverParsedAsRequests) {
  const std::string smuggled = get("/smuggled");
  struct Case {
    const char* name;
    std::string request;
    int status;
  };
  const std::vector<Case> cases = {
      {"Content-Length",
       "POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(smuggled.size()) +
           "\r\n\r\n" + smuggled,
       413},
      {"chunked",
       "POST /form HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
           std::to_string(smuggled.size()) + "\r\n" + smuggled + "\r\n0\r\n\r\n",
       501},
  };
  for (const auto& c : cases) {
    RawPeer peer(server_.port());
    peer.send_raw(c.request);
    ReadToEnd answer = read_to_end(peer.fd());
    EXPECT_TRUE(answer.closed) << c.name;
    EXPECT_EQ(status_of(answer.bytes), c.status) << c.name << ": " << answer.bytes;
    EXPECT_EQ(field_of(answer.bytes, "Connection"), "close") << c.name;
    EXPECT_EQ(answer.bytes.find("HTTP/1.1", 1), std::string::npos)
        << c.name << ": " << answer.bytes;
  }
  EXPECT_TRUE(paths_.all().empty()) << paths_.all().front();
  // An empty body is no body.
  RawPeer peer(server_.port());
  peer.send_raw("GET /empty HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" + get("/last"));
  EXPECT_EQ(read_to_end(peer.fd()).bytes, page_response("/empty") + page_response("/last", true));
}

TEST_F(PageServer, UpgradeAfterPlainRequestsOnTheSameConnection) {
  RawPeer peer(server_.port());
  peer.send_raw(get("/first"));
  std::string head = peer.read_head();
  EXPECT_EQ(status_of(head), 200) << head;
  // The body ("page /first\n") is still unread and precedes the 101.
  head = peer.handshake();
  EXPECT_TRUE(head.starts_with("page /first\nHTTP/1.1 101 Switching Protocols\r\n")) << head;
  peer.send_frame(Frame::close(close_code::normal));
  EXPECT_EQ(peer.read_close_code(), close_code::normal);
}

TEST(HttpHandler, InvalidResponseFieldsBecome500) {
  TestServer server;
  server.server().on_http([](const Request&, Response& response) {
    response.add_header("X-A", "b\r\nSet-Cookie: c");
    response.send(200, "text/plain", "should not be sent");
  });
  server.start();
  RawPeer peer(server.port());
  peer.send_raw(get("/"));
  ReadToEnd answer = read_to_end(peer.fd());
  EXPECT_EQ(status_of(answer.bytes), 500) << answer.bytes;
  EXPECT_EQ(answer.bytes.find("Set-Cookie"), std::string::npos);
  EXPECT_EQ(answer.bytes.find("should not be sent"), std::string::npos);
  EXPECT_TRUE(answer.closed);
}

TEST(HttpHandler, ResponsesLargerThanTheCorkBufferArriveWhole) {
  // Bigger than the loop's 64 KiB cork: the response must leave as a payload, not be copied in.
  const std::string body(300'000, 'x');
  TestServer server;
  server.server().on_http(
      [&](const Request&, Response& response) { response.send(200, "text/plain", body); });
  server.start();
  RawPeer peer(server.port());
  peer.send_raw(get("/", "Connection: close\r\n"));
  ReadToEnd answer = read_to_end(peer.fd());
  EXPECT_EQ(status_of(answer.bytes), 200);
  ASSERT_GE(answer.bytes.size(), body.size());
  EXPECT_EQ(answer.bytes.substr(answer.bytes.size() - body.size()), body);
  EXPECT_TRUE(answer.closed);
}

TEST(HttpKeepAlive, IdleConnectionIsClosedAfterTheKeepAliveTimeout) {
  ServerOptions options = TestServer::default_options();
  options.http_keepalive_timeout = 200ms;  // the handshake timeout stays at 10 s
  TestServer server(options);
  server.start();
  RawPeer peer(server.port());
  peer.send_raw(get("/"));
  EXPECT_EQ(status_of(peer.read_head()), 404);
  const auto served = std::chrono::steady_clock::now();
  ReadToEnd rest = read_to_end(peer.fd(), 2s);
  EXPECT_TRUE(rest.closed);
  EXPECT_GE(since(served), 150ms);
  EXPECT_LT(since(served), 1500ms);
}

}  // namespace
}  // namespace fastws::testing
