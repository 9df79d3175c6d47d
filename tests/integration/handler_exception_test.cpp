// A user handler that throws closes its own connection, never the server: 1011 to the peer after
// the upgrade (with the reason in on_error and on_close), 500 before it, and the other
// connections go on being served.
#include <gtest/gtest.h>

#include <stdexcept>

#include "server_test_support.hpp"

namespace fastws::testing {
namespace {

void echo(Server& server) {
  server.on_message(
      [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
}

// A client on the same server still gets its echo.
void expect_still_serving(TestServer& server) {
  RawPeer other(server.port());
  ASSERT_EQ(status_of(other.handshake()), 101);
  other.send_text("still here");
  auto frame = other.read_frame();
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->payload_text(), "still here");
}

// A frame as a client puts it on the wire (masked).
std::vector<std::byte> wire(Frame frame) {
  frame.mask = MaskKey{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  return frame.serialize();
}

// The close frame a peer gets: its code and reason, or nothing.
std::optional<std::pair<std::uint16_t, std::string>> read_close(RawPeer& peer) {
  while (auto frame = peer.read_frame()) {
    if (frame->opcode == Opcode::close) {
      return std::pair{frame->close_code().value_or(1005), std::string(frame->close_reason())};
    }
  }
  return std::nullopt;
}

// The peer's side of a connection closed because a handler threw: close 1011, then the end.
void expect_closed_with_1011(RawPeer& peer) {
  const auto close = read_close(peer);
  ASSERT_TRUE(close);
  EXPECT_EQ(close->first, close_code::internal_error);
  EXPECT_EQ(close->second, "internal error");
  // As a client does: answer the close, see the server's FIN, close.
  peer.send_frame(Frame::close(close_code::internal_error));
  EXPECT_TRUE(peer.wait_closed());
  ::shutdown(peer.fd(), SHUT_WR);
}

struct Observed {
  Recorded<std::string> messages;
  Recorded<CloseStatus> errors;
  Recorded<CloseStatus> closes;

  void watch(Server& server) {
    server.on_error([this](const Conn&, const CloseStatus& status) { errors.add(status); });
    server.on_close([this](const Conn&, const CloseStatus& status) { closes.add(status); });
  }
};

// An echo server whose errors and closes are recorded; each test makes one handler throw.
class HandlerException : public ::testing::Test {
 protected:
  HandlerException() {
    observed.watch(server.server());
    echo(server.server());
  }

  Observed observed;  // before the server: its callbacks record until the server is gone
  TestServer server;
};

TEST_F(HandlerException,
       OnMessageThrowingClosesThatConnectionWith1011AndTheRestOfItsInputIsIgnored) {
  server.server().on_message([&](const Conn& conn, Message message) {
    observed.messages.add(std::string(message.text()));
    if (message.text() == "throw") throw std::runtime_error("boom");
    conn.send(message.data(), message.opcode());
  });
  server.start();
  RawPeer peer(server.port());
  ASSERT_EQ(status_of(peer.handshake()), 101);
  // One write: the message after the throwing one is in the same read.
  std::vector<std::byte> both = wire(Frame::text("throw"));
  const std::vector<std::byte> after = wire(Frame::text("after"));
  both.insert(both.end(), after.begin(), after.end());
  ASSERT_TRUE(peer.send_raw(both));
  expect_closed_with_1011(peer);
  ASSERT_TRUE(observed.closes.wait_for(1));
  const CloseStatus status = observed.closes.all().front();
  EXPECT_EQ(status.code, close_code::internal_error);
  EXPECT_EQ(status.error, "on_message threw: boom");
  ASSERT_EQ(observed.errors.size(), 1u);
  EXPECT_EQ(observed.errors.all().front().error, "on_message threw: boom");
  EXPECT_EQ(observed.messages.all(), std::vector<std::string>{"throw"});
  expect_still_serving(server);
}

TEST_F(HandlerException, OnOpenThrowingClosesWith1011AndOnCloseSaysWhy) {
  server.server().on_open([](const Conn& conn) {
    if (conn.request()->path() == "/fail") throw std::logic_error("no room for you");
  });
  server.start();
  RawPeer peer(server.port());
  ASSERT_EQ(status_of(peer.handshake("/fail")), 101);
  expect_closed_with_1011(peer);
  ASSERT_TRUE(observed.closes.wait_for(1));
  EXPECT_EQ(observed.closes.all().front().error, "on_open threw: no room for you");
  expect_still_serving(server);
}

TEST_F(HandlerException, AThrownNonStandardExceptionIsNamedAsSuch) {
  server.server().on_ping([](const Conn&, std::span<const std::byte>) { throw 42; });
  server.start();
  RawPeer peer(server.port());
  ASSERT_EQ(status_of(peer.handshake()), 101);
  peer.send_frame(Frame::ping());
  expect_closed_with_1011(peer);
  ASSERT_TRUE(observed.closes.wait_for(1));
  EXPECT_EQ(observed.closes.all().front().error,
            "on_ping threw: an exception that is not a std::exception");
  expect_still_serving(server);
}

TEST(HandlerExceptionBeforeUpgrade, OnUpgradeOrOnHttpThrowingAnswers500AndClosesOnlyThatRequest) {
  TestServer server;
  echo(server.server());
  server.server().on_upgrade([](const Request& request, Upgrade&) {
    if (request.path() == "/fail") throw std::runtime_error("upgrade broke");
  });
  server.server().on_http(
      [](const Request&, Response&) { throw std::runtime_error("page broke"); });
  server.start();
  RawPeer upgrading(server.port());
  EXPECT_EQ(status_of(upgrading.handshake("/fail")), 500);
  EXPECT_TRUE(upgrading.wait_closed());
  RawPeer browsing(server.port());
  browsing.send_raw("GET /page HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_EQ(status_of(browsing.read_head()), 500);
  EXPECT_TRUE(browsing.wait_closed());
  expect_still_serving(server);
}

TEST(HandlerExceptionAfterClose, OnCloseThrowingLeavesTheServerServing) {
  Recorded<int> closes;
  TestServer server;
  echo(server.server());
  server.server().on_close([&](const Conn&, const CloseStatus&) {
    closes.add(1);
    throw std::runtime_error("close broke");
  });
  server.start();
  {
    RawPeer peer(server.port());
    ASSERT_EQ(status_of(peer.handshake()), 101);
    peer.send_frame(Frame::close(close_code::normal));
    EXPECT_EQ(peer.read_close_code(), close_code::normal);
  }
  ASSERT_TRUE(closes.wait_for(1));
  expect_still_serving(server);
}

}  // namespace
}  // namespace fastws::testing
