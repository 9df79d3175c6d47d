// The envelope of scale-out messages: other nodes rebuild the same message, a node knows its
// own, and what something else published on the channel is delivered as it is.
#include "envelope.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fastws::redis::detail {
namespace {

std::vector<std::byte> wrapped(const NodeId& node, Opcode op, std::string_view payload) {
  const auto header = envelope_header(node, op);
  std::vector<std::byte> message(header.begin(), header.end());
  for (char c : payload) message.push_back(static_cast<std::byte>(c));
  return message;
}

std::span<const std::byte> bytes(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

std::string text(std::span<const std::byte> payload) {
  return {reinterpret_cast<const char*>(payload.data()), payload.size()};
}

TEST(RedisEnvelope, AnotherNodesMessageComesOutAsItWentIn) {
  const NodeId sender = make_node_id();
  const NodeId receiver = make_node_id();
  ASSERT_NE(sender, receiver);
  const auto message = wrapped(sender, Opcode::binary, std::string("\x00\xff\r\n", 4));
  const Unwrapped out = unwrap(message, receiver);
  EXPECT_EQ(out.origin, Unwrapped::Origin::other_node);
  EXPECT_EQ(out.opcode, Opcode::binary);
  EXPECT_EQ(text(out.payload), std::string("\x00\xff\r\n", 4));
  EXPECT_EQ(unwrap(wrapped(sender, Opcode::text, ""), receiver).opcode, Opcode::text);
}

TEST(RedisEnvelope, ANodeKnowsItsOwnMessage) {
  const NodeId node = make_node_id();
  EXPECT_EQ(unwrap(wrapped(node, Opcode::text, "hi"), node).origin, Unwrapped::Origin::this_node);
}

TEST(RedisEnvelope, ForeignMessagesAreDeliveredAsTheyAre) {
  const NodeId node = make_node_id();
  const Unwrapped hello = unwrap(bytes("hello from redis-cli"), node);
  EXPECT_EQ(hello.origin, Unwrapped::Origin::foreign);
  EXPECT_EQ(hello.opcode, Opcode::text);
  EXPECT_EQ(text(hello.payload), "hello from redis-cli");
  // Not UTF-8: binary. A truncated envelope or an unknown opcode is not an envelope either.
  EXPECT_EQ(unwrap(bytes("\xc3\x28"), node).opcode, Opcode::binary);
  auto broken = wrapped(node, Opcode::text, "x");
  broken[4] = std::byte{9};
  EXPECT_EQ(unwrap(broken, node).origin, Unwrapped::Origin::foreign);
  EXPECT_EQ(unwrap(std::span(broken).first(envelope_header_size - 1), node).origin,
            Unwrapped::Origin::foreign);
}

TEST(RedisEnvelope, NodeIdsPrintAsHex) {
  NodeId id{};
  id[0] = std::byte{0xab};
  id[15] = std::byte{0x01};
  EXPECT_EQ(to_hex(id), "ab000000000000000000000000000001");
}

}  // namespace
}  // namespace fastws::redis::detail
