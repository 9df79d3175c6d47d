// The server on IPv6 and Unix domain sockets, with several loops, and its counters.
#include <gtest/gtest.h>
#include <sys/un.h>

#include <filesystem>

#include "test_peer.hpp"

namespace fastws::testing {
namespace {

void echo_messages(Server& server) {
  server.on_message(
      [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
}

// Connects a socket of any family, upgrades and checks one echo, using RawPeer's framing on an
// already-connected descriptor.
void expect_echo_over(int fd) {
  const std::string request = RawPeer::upgrade_request();
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  Frame frame = Frame::text("over another transport");
  frame.mask = MaskKey{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  auto bytes = frame.serialize();
  ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(bytes.size()));
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string received;
  const std::string expected_tail = "over another transport";
  char buffer[4096];
  while (received.find(expected_tail) == std::string::npos) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    ASSERT_GT(n, 0) << "got so far: " << received;
    received.append(buffer, static_cast<std::size_t>(n));
  }
  EXPECT_NE(received.find("101 Switching Protocols"), std::string::npos);
}

TEST(ServerTransport, UnixDomainSocket) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("fastws-test-" + std::to_string(::getpid())))
          .string();
  ServerOptions options = TestServer::default_options();
  options.unix_path = path;
  options.threads = 2;
  TestServer server(options);
  echo_messages(server.server());
  server.start();
  for (int i = 0; i < 4; ++i) {  // round-robin over both loops
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    expect_echo_over(fd);
    ::close(fd);
  }
  server.stop();
  std::filesystem::remove(path);
}

TEST(ServerTransport, Ipv6Loopback) {
  int probe = ::socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 any{};
  any.sin6_family = AF_INET6;
  any.sin6_addr = in6addr_loopback;
  const bool has_v6 =
      probe >= 0 && ::bind(probe, reinterpret_cast<sockaddr*>(&any), sizeof any) == 0;
  if (probe >= 0) ::close(probe);
  if (!has_v6) GTEST_SKIP() << "no IPv6 loopback here";

  ServerOptions options = TestServer::default_options();
  options.host = "::1";
  options.ipv6_only = true;
  TestServer server(options);
  Conn seen;
  std::mutex mutex;
  server.server().on_open([&](const Conn& conn) {
    std::lock_guard lock(mutex);
    seen = conn;
  });
  echo_messages(server.server());
  server.start();
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  address.sin6_port = htons(server.port());
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  expect_echo_over(fd);
  {
    std::lock_guard lock(mutex);
    ASSERT_TRUE(seen);
    EXPECT_EQ(seen.remote_address().rfind("[::1]:", 0), 0u) << seen.remote_address();
    EXPECT_EQ(seen.local_address(), "[::1]:" + std::to_string(server.port()));
  }
  ::close(fd);
}

TEST(ServerTransport, StatsCountConnectionsMessagesAndBytes) {
  TestServer server;
  echo_messages(server.server());
  server.start();
  {
    RawPeer a(server.port()), b(server.port());
    a.handshake();
    b.handshake();
    for (int i = 0; i < 10; ++i) {
      a.send_text("0123456789");
      ASSERT_TRUE(a.read_frame());
    }
    b.send_text("x");
    ASSERT_TRUE(b.read_frame());
    ServerStats stats = server.server().stats();
    EXPECT_EQ(stats.connections, 2u);
    EXPECT_EQ(stats.messages_in, 11u);
    EXPECT_EQ(stats.messages_out, 11u);
    EXPECT_EQ(stats.bytes_in, 101u);
    EXPECT_EQ(stats.bytes_out, 101u);
    EXPECT_EQ(stats.dropped_sends, 0u);
    a.send_frame(Frame::close(1000));
    EXPECT_EQ(a.read_close_code(), 1000);
  }
  for (int i = 0; i < 200 && server.server().stats().connections != 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(server.server().stats().connections, 0u);
}

}  // namespace
}  // namespace fastws::testing
