#include "envelope.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

#include "protocol/utf8.hpp"

namespace fastws::redis::detail {

namespace {

constexpr std::array<std::byte, 4> magic = {std::byte{0xFF}, std::byte{'f'}, std::byte{'w'},
                                            std::byte{0x01}};

}  // namespace

NodeId make_node_id() {
  NodeId id;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(id.data()), static_cast<int>(id.size())) != 1) {
    throw std::runtime_error("fastws::redis: no random bytes for the node id");
  }
  return id;
}

std::string to_hex(const NodeId& id) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  for (std::byte b : id) {
    hex += digits[std::to_integer<unsigned>(b) >> 4];
    hex += digits[std::to_integer<unsigned>(b) & 15];
  }
  return hex;
}

std::array<std::byte, envelope_header_size> envelope_header(const NodeId& node, Opcode op) {
  std::array<std::byte, envelope_header_size> header;
  std::copy(magic.begin(), magic.end(), header.begin());
  header[magic.size()] = static_cast<std::byte>(op);
  std::copy(node.begin(), node.end(), header.begin() + magic.size() + 1);
  return header;
}

Unwrapped unwrap(std::span<const std::byte> message, const NodeId& this_node) {
  Unwrapped result;
  const bool wrapped = message.size() >= envelope_header_size &&
                       std::equal(magic.begin(), magic.end(), message.begin());
  const auto op = wrapped ? static_cast<Opcode>(message[magic.size()]) : Opcode::binary;
  if (!wrapped || (op != Opcode::text && op != Opcode::binary)) {
    result.payload = message;
    const bool text = protocol::is_valid_utf8(message.data(), message.size());
    result.opcode = text ? Opcode::text : Opcode::binary;
    return result;
  }
  const auto sender = message.subspan(magic.size() + 1, this_node.size());
  result.origin = std::equal(sender.begin(), sender.end(), this_node.begin())
                      ? Unwrapped::Origin::this_node
                      : Unwrapped::Origin::other_node;
  result.opcode = op;
  result.payload = message.subspan(envelope_header_size);
  return result;
}

}  // namespace fastws::redis::detail
