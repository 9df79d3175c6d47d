// What a node wraps around each message it publishes to Redis, so that the other nodes rebuild
// the same WebSocket message and the node recognises its own messages when Redis hands them
// back (a node subscribed to a topic receives what it published there; it delivered that
// message locally already and must not deliver it twice):
//
//   0xFF 'f' 'w' 0x01 | opcode (1 text, 2 binary) | the publishing node's id (16 bytes) | payload
//
// 0xFF never occurs in UTF-8, so a text message that something other than fastws published on
// the channel (`redis-cli PUBLISH room hello`, a backend service) is never read as an envelope:
// such foreign messages are delivered as they are, as text when they are valid UTF-8 and as
// binary otherwise.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "fastws/frame.hpp"

namespace fastws::redis::detail {

using NodeId = std::array<std::byte, 16>;

// 16 random bytes (OpenSSL's generator): unique among the nodes of a deployment.
NodeId make_node_id();
std::string to_hex(const NodeId& id);

inline constexpr std::size_t envelope_header_size = 4 + 1 + 16;

// The header to put before `op`'s payload.
std::array<std::byte, envelope_header_size> envelope_header(const NodeId& node, Opcode op);

struct Unwrapped {
  enum class Origin : std::uint8_t { this_node, other_node, foreign };
  Origin origin = Origin::foreign;
  Opcode opcode = Opcode::binary;
  std::span<const std::byte> payload;
};

Unwrapped unwrap(std::span<const std::byte> message, const NodeId& this_node);

}  // namespace fastws::redis::detail
