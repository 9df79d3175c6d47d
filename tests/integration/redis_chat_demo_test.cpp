// The chat example scaled out (scripts/demo-cluster.sh): two chat servers started as users
// would, with --redis, on one redis-server; ann on one server and bob on the other chat in one
// room and each sees the other in the room's presence lines: over raw WebSocket frames, and in
// headless Chromium through the page (tests/browser/chat_in_browsers.py --redis=URL).
#include <gtest/gtest.h>

#include <unistd.h>

#include <string>

#include "redis_test_support.hpp"
#include "test_peer.hpp"

namespace fastws::testing {
namespace {

// Reads frames until one starts with `prefix`; its text, or "" if the connection goes quiet.
std::string read_until_prefix(RawPeer& peer, std::string_view prefix) {
  while (auto frame = peer.read_frame()) {
    if (frame->payload_text().starts_with(prefix)) return std::string(frame->payload_text());
  }
  return {};
}

TEST(RedisChatDemo, UsersOnTwoChatServersChatInOneRoom) {
  FASTWS_REQUIRE_PROGRAM(program, "redis-server", "redis-server");
  const std::string chat = std::string(FASTWS_BINARY_DIR) + "/examples/chat";
  if (::access(chat.c_str(), X_OK) != 0) GTEST_SKIP() << chat << " is not built here";
  auto redis_server = start_redis(program);
  ASSERT_TRUE(redis_server->ready());
  const std::string url = "redis://127.0.0.1:" + std::to_string(redis_server->port());
  const auto start_chat = [&] {
    const std::uint16_t port = free_loopback_port();
    return std::make_unique<ProxyProcess>(
        chat,
        std::vector<std::string>{"--port", std::to_string(port), "--threads", "1", "--redis", url},
        "", port);
  };
  const auto first = start_chat();
  const auto second = start_chat();
  ASSERT_TRUE(first->ready() && second->ready());

  RawPeer ann(first->port());
  RawPeer bob(second->port());
  ASSERT_NE(ann.handshake("/ws").find(" 101 "), std::string::npos);
  ASSERT_NE(bob.handshake("/ws").find(" 101 "), std::string::npos);
  ann.send_text("name ann");
  ann.send_text("join lobby");
  bob.send_text("name bob");
  bob.send_text("join lobby");
  ASSERT_TRUE(
      wait_until([&] { return redis_subscribers(redis_server->port(), "lobby") == 2; }, 5s));
  bob.send_text("say hi ann, bob here");
  EXPECT_EQ(read_until_prefix(ann, "msg "), "msg lobby bob: hi ann, bob here");
  // Presence: each server names itself in its lines, and says them again every few seconds, so
  // ann hears of bob although he joined on the other server.
  EXPECT_TRUE(read_until_prefix(ann, "who lobby bob ").size() > 14);
}

TEST(RedisChatBrowser, ChromiumUsersOnTwoChatServersChat) {
  FASTWS_REQUIRE_PROGRAM(program, "redis-server", "redis-server");
  const std::string chat = std::string(FASTWS_BINARY_DIR) + "/examples/chat";
  if (::access(chat.c_str(), X_OK) != 0) GTEST_SKIP() << chat << " is not built here";
  for (const char* needed : {"/usr/bin/python3", "/usr/bin/chromium", "/usr/bin/chromedriver"}) {
    if (::access(needed, X_OK) != 0) GTEST_SKIP() << needed << " is not installed";
  }
  auto redis_server = start_redis(program);
  ASSERT_TRUE(redis_server->ready());
  // As chat_browser_test runs the script: bounded by coreutils timeout, output kept.
  const std::string artifacts = std::string(FASTWS_BINARY_DIR) + "/test-artifacts";
  const std::string command =
      "timeout -k 25 200 /usr/bin/python3 " FASTWS_TEST_DATA_DIR "/browser/chat_in_browsers.py " +
      chat + " " + artifacts +
      " --redis=redis://127.0.0.1:" + std::to_string(redis_server->port()) + " chromium 2>&1";
  std::string output;
  EXPECT_EQ(fastws::test::run_command(command, output), 0) << output;
  EXPECT_NE(output.find("ok   chromium: all steps"), std::string::npos) << output;
}

}  // namespace
}  // namespace fastws::testing
