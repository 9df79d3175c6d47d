// Server::handover(fd, request_bytes) and Server::adopt(fd): sockets that another server (a "host"
// HTTP server, a process manager) accepted, given to fastws. When a hand-over is refused the host
// still owns the socket and gets a ready response to send (server.hpp HandoverResult).
#include <fcntl.h>
#include <gtest/gtest.h>

#include "handover_test_support.hpp"

namespace fastws::testing {
namespace {

// RFC 6455 1.3: the sample key RawPeer sends, and the accept value it must produce.
constexpr std::string_view sample_key = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr std::string_view sample_accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

TEST(Handover, HostReadsTheHeadThenTheClientGets101AndEchoes) {
  EchoServer server;
  HostServer host;
  RawPeer client(host.port());
  ASSERT_TRUE(client.send_raw(RawPeer::upgrade_request("/chat?room=1")));
  const int fd = host.accept_one();
  ASSERT_GE(fd, 0);
  const std::string head = host_reads(fd);

  const HandoverResult result = server.server().handover(fd, head);
  EXPECT_TRUE(result.accepted);
  EXPECT_EQ(result.response, "");
  EXPECT_EQ(result.error, "");
  const std::string response = client.read_head();
  EXPECT_EQ(status_of(response), 101) << response;
  EXPECT_EQ(field_of(response, "Sec-WebSocket-Accept"), sample_accept);
  ASSERT_TRUE(server.opened().wait_for(1));
  EXPECT_EQ(server.opened().all()[0], "/chat from " + local_address_of(client.fd()));

  client.send_text("hello through the host");
  auto echo = client.read_frame();
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->payload_text(), "hello through the host");
  client.send_frame(Frame::close(close_code::normal));
  EXPECT_EQ(client.read_close_code(), close_code::normal);
  EXPECT_TRUE(client.wait_closed());
  ASSERT_TRUE(server.closed().wait_for(1));
  EXPECT_EQ(server.closed().all()[0].code, close_code::normal);
}

// The request head plus one masked frame carrying `payload`, as a client sends them back to back.
std::vector<std::byte> head_and_frame(std::span<const std::byte> payload) {
  std::vector<std::byte> bytes = to_bytes(RawPeer::upgrade_request());
  Frame frame = Frame::binary(payload);
  frame.mask = MaskKey{std::byte{0xA1}, std::byte{0xB2}, std::byte{0xC3}, std::byte{0xD4}};
  const std::vector<std::byte> wire = frame.serialize();
  bytes.insert(bytes.end(), wire.begin(), wire.end());
  return bytes;
}

// Bytes after the head that the host read are frames: fastws must take them as such, whatever
// their size (the host may read in large chunks).
void expect_early_frame_echoed(std::size_t payload_size) {
  EchoServer server;
  HostServer host;
  RawPeer client(host.port(), 2s);
  std::vector<std::byte> payload(payload_size);
  for (std::size_t i = 0; i < payload_size; ++i) payload[i] = static_cast<std::byte>(i * 13 + 5);
  const std::vector<std::byte> sent = head_and_frame(payload);
  std::thread sender([&] { client.send_raw(sent); });
  const int fd = host.accept_one();
  ASSERT_GE(fd, 0);
  const std::string read = host_reads(fd, sent.size() - RawPeer::upgrade_request().size());
  sender.join();
  ASSERT_EQ(read.size(), sent.size());

  ASSERT_TRUE(server.server().handover(fd, read).accepted);
  EXPECT_EQ(status_of(client.read_head()), 101);
  auto echo = client.read_frame();
  ASSERT_TRUE(echo) << "the frame read with the head was lost";
  EXPECT_EQ(echo->opcode, Opcode::binary);
  EXPECT_TRUE(echo->payload == payload) << "echo of " << echo->payload.size() << " bytes";
}

TEST(Handover, AFrameReadWithTheHeadIsServed) {
  expect_early_frame_echoed(5);
}

TEST(Handover, MoreThanAReadBufferOfBytesAfterTheHeadIsServedWhole) {
  // Larger than the event loop's read buffer (256 KiB).
  expect_early_frame_echoed(300 * 1024);
}

struct RefusalCase {
  std::string name;
  std::string request;
  int status;
  std::string required_field;  // a field the response must carry, "" for none
};

TEST(Handover, RefusalsLeaveTheSocketToTheHostWithAReadyResponse) {
  EchoServer server;
  HostServer host;
  const std::string key = "Sec-WebSocket-Key: " + std::string(sample_key);
  const std::vector<RefusalCase> cases = {
      {"version 8",
       request_head("GET / HTTP/1.1", {"Host: 127.0.0.1", "Upgrade: websocket",
                                       "Connection: Upgrade", key, "Sec-WebSocket-Version: 8"}),
       426, "Sec-WebSocket-Version: 13"},
      {"no key",
       request_head("GET / HTTP/1.1", {"Host: 127.0.0.1", "Upgrade: websocket",
                                       "Connection: Upgrade", "Sec-WebSocket-Version: 13"}),
       400, ""},
      {"foreign origin", RawPeer::upgrade_request("/", "Origin: http://evil.example\r\n"), 403, ""},
      {"cut head", RawPeer::upgrade_request().substr(0, 40), 400, ""},
  };
  for (const RefusalCase& refusal : cases) {
    SCOPED_TRACE(refusal.name);
    RawPeer client(host.port());
    ASSERT_TRUE(client.send_raw(refusal.request));
    const int fd = host.accept_one();
    ASSERT_GE(fd, 0);
    ASSERT_EQ(read_bytes(fd, refusal.request.size()), refusal.request);
    const int flags_before = ::fcntl(fd, F_GETFL);

    const HandoverResult result = server.server().handover(fd, refusal.request);
    EXPECT_FALSE(result.accepted);
    EXPECT_NE(result.error, "");
    EXPECT_EQ(status_of(result.response), refusal.status) << result.response;
    EXPECT_EQ(field_of(result.response, "Connection"), "close") << result.response;
    if (!refusal.required_field.empty()) {
      EXPECT_NE(result.response.find("\r\n" + refusal.required_field + "\r\n"), std::string::npos)
          << result.response;
    }
    const std::size_t head_end = result.response.find("\r\n\r\n");
    ASSERT_NE(head_end, std::string::npos);
    EXPECT_EQ(field_of(result.response, "Content-Length"),
              std::to_string(result.response.size() - head_end - 4));
    // fastws neither closed nor changed the host's socket: the host sends the answer itself.
    EXPECT_EQ(::fcntl(fd, F_GETFL), flags_before);
    ASSERT_EQ(::send(fd, result.response.data(), result.response.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(result.response.size()));
    ASSERT_EQ(::close(fd), 0);
    EXPECT_EQ(client.read_all(), result.response);
  }
  EXPECT_EQ(server.opened().size(), 0u);
  EXPECT_EQ(server.server().stats().connections, 0u);
}

TEST(Handover, AdoptServesASocketpairWhoseOtherEndUpgrades) {
  EchoServer server;
  int ends[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends), 0);
  const int mine = ends[1];
  ASSERT_FALSE(server.server().adopt(ends[0]));
  const std::string request = RawPeer::upgrade_request("/pair");
  ASSERT_EQ(::send(mine, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  std::string response;
  while (response.find("\r\n\r\n") == std::string::npos) {
    const std::string more = read_bytes(mine, 1);
    ASSERT_FALSE(more.empty()) << response;
    response += more;
  }
  EXPECT_EQ(status_of(response), 101) << response;
  EXPECT_EQ(field_of(response, "Sec-WebSocket-Accept"), sample_accept);
  ASSERT_TRUE(server.opened().wait_for(1));
  EXPECT_TRUE(server.opened().all()[0].starts_with("/pair from ")) << server.opened().all()[0];

  Frame frame = Frame::text("pair");
  frame.mask = MaskKey{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  const std::vector<std::byte> wire = frame.serialize();
  ASSERT_EQ(::send(mine, wire.data(), wire.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(wire.size()));
  // The echo, exactly: FIN + text, unmasked length 4, "pair".
  EXPECT_EQ(read_bytes(mine, 6), std::string("\x81\x04pair", 6));
  ::close(mine);
  ASSERT_TRUE(server.closed().wait_for(1));
  EXPECT_EQ(server.closed().all()[0].code, close_code::abnormal);
}

TEST(Handover, AdoptServesATcpSocketTheHostAccepted) {
  EchoServer server;
  HostServer host;
  RawPeer client(host.port());
  const int fd = host.accept_one();
  ASSERT_GE(fd, 0);
  ASSERT_FALSE(server.server().adopt(fd));
  EXPECT_EQ(status_of(client.handshake("/adopted")), 101);
  client.send_text("adopted");
  auto echo = client.read_frame();
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->payload_text(), "adopted");
  ASSERT_TRUE(server.opened().wait_for(1));
  EXPECT_EQ(server.opened().all()[0], "/adopted from " + local_address_of(client.fd()));
}

TEST(Handover, AdoptRefusesListeningSocketsAndNonSocketsWithoutClosingThem) {
  EchoServer server;
  HostServer host;
  EXPECT_TRUE(server.server().adopt(host.fd()) == std::errc::invalid_argument);
  EXPECT_NE(::fcntl(host.fd(), F_GETFD), -1);
  int pipe_ends[2];
  ASSERT_EQ(::pipe2(pipe_ends, O_CLOEXEC), 0);
  EXPECT_TRUE(server.server().adopt(pipe_ends[0]) == std::errc::not_a_socket);
  EXPECT_EQ(::close(pipe_ends[0]), 0);  // still ours
  EXPECT_EQ(::close(pipe_ends[1]), 0);
  EXPECT_EQ(server.opened().size(), 0u);
}

}  // namespace
}  // namespace fastws::testing
