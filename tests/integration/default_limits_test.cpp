// Defaults that agree (issue 11): with default options every message the server accepts can be
// answered with one of the same size, although max_message_size (16 MiB) is larger than
// max_buffered_bytes (4 MiB): a message larger than the limit is admitted alone, into an empty
// buffer. Options that cannot work are refused when the Server is constructed.
#include <gtest/gtest.h>

#include <stdexcept>

#include "server_test_support.hpp"
#include "test_peer.hpp"

namespace fastws::testing {
namespace {

std::vector<std::byte> pattern(std::size_t size, unsigned seed) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>((i * 131 + seed) >> 3);
  return bytes;
}

TEST(DefaultLimits, AMaxMessageSizeMessageIsEchoedUnderDefaultOptions) {
  const ServerOptions defaults;
  ASSERT_GT(defaults.max_message_size, defaults.max_buffered_bytes) << "nothing to show here";
  Recorded<SendStatus> statuses;
  TestServer server;  // default options but the address
  server.server().on_message([&](const Conn& conn, Message message) {
    statuses.add(conn.send(message.data(), message.opcode()));
  });
  server.start();
  RawPeer peer(server.port(), 3s);
  ASSERT_NE(peer.handshake().find(" 101 "), std::string::npos);

  // Twice: the second echo goes once the first has left the buffer.
  for (unsigned round = 0; round < 2; ++round) {
    const std::vector<std::byte> message = pattern(defaults.max_message_size, round);
    ASSERT_TRUE(peer.send_frame(Frame::binary(message)));
    auto echo = peer.read_frame();
    ASSERT_TRUE(echo) << "round " << round << ": no echo; the server's send said "
                      << (statuses.size() > round ? to_string(statuses.all()[round]) : "nothing");
    EXPECT_EQ(echo->opcode, Opcode::binary);
    EXPECT_EQ(echo->payload.size(), message.size());
    EXPECT_TRUE(echo->payload == message) << "round " << round;
  }
  for (SendStatus status : statuses.all()) {
    EXPECT_TRUE(status == SendStatus::written || status == SendStatus::backpressure)
        << to_string(status);
  }
}

// The exception is for one message: while anything waits in the buffer, a message that does
// not fit under the limit is dropped as before.
TEST(DefaultLimits, AMessageOverTheLimitGoesOnlyIntoAnEmptyBuffer) {
  const std::size_t size = ServerOptions{}.max_buffered_bytes + 1;
  Recorded<SendStatus> statuses;
  TestServer server;
  server.server().on_message([&](const Conn& conn, Message) {
    const std::vector<std::byte> large = pattern(size, 7);
    statuses.add(conn.send(large));  // into an empty buffer
    statuses.add(conn.send(large));  // behind it: the kernel did not take 4 MiB at once
    statuses.add(conn.send("small"));
  });
  server.start();
  RawPeer peer(server.port());
  shrink_receive_buffer(peer.fd());
  ASSERT_NE(peer.handshake().find(" 101 "), std::string::npos);
  peer.send_text("go");
  ASSERT_TRUE(statuses.wait_for(3));
  const std::vector<SendStatus> all = statuses.all();
  EXPECT_EQ(all[0], SendStatus::backpressure);
  EXPECT_EQ(all[1], SendStatus::dropped);
  EXPECT_EQ(all[2], SendStatus::backpressure);

  auto first = peer.read_frame();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->payload.size(), size);
  auto second = peer.read_frame();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->payload_text(), "small");
}

TEST(DefaultLimits, LimitsThatCannotWorkAreRefusedAtConstruction) {
  const auto refused = [](auto change) {
    ServerOptions options = TestServer::default_options();
    change(options);
    try {
      Server server(options);
    } catch (const std::invalid_argument& error) {
      return std::string(error.what());
    }
    return std::string();
  };
  EXPECT_NE(refused([](ServerOptions& o) { o.max_message_size = 0; }).find("max_message_size"),
            std::string::npos);
  EXPECT_NE(refused([](ServerOptions& o) { o.max_header_size = 0; }).find("max_header_size"),
            std::string::npos);
  EXPECT_NE(refused([](ServerOptions& o) { o.max_connections = 0; }).find("max_connections"),
            std::string::npos);
  // Not refused: a limit smaller than the largest message (the defaults are such a pair).
  EXPECT_EQ(refused([](ServerOptions& o) { o.max_buffered_bytes = 1; }), "");
}

}  // namespace
}  // namespace fastws::testing
