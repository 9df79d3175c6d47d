// fastws::Frame: factories, close payload accessors and serialization (RFC 6455 section 5.2).
#include "fastws/frame.hpp"

#include <array>
#include <cstring>

#include "protocol/close_payload.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/mask.hpp"

namespace fastws {
namespace {

Frame make_frame(Opcode opcode, std::span<const std::byte> data, bool fin) {
  Frame frame;
  frame.fin = fin;
  frame.opcode = opcode;
  frame.payload.assign(data.begin(), data.end());
  return frame;
}

std::span<const std::byte> as_bytes(std::string_view text) noexcept {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

}  // namespace

Frame Frame::text(std::string_view data, bool fin) {
  return make_frame(Opcode::text, as_bytes(data), fin);
}

Frame Frame::binary(std::span<const std::byte> data, bool fin) {
  return make_frame(Opcode::binary, data, fin);
}

Frame Frame::continuation(std::span<const std::byte> data, bool fin) {
  return make_frame(Opcode::continuation, data, fin);
}

// Ping and pong payloads are not cut to 125 bytes (RFC 6455 5.5): Frame is a crafting API, and an
// oversized control frame is how a test checks that a peer refuses one with 1002.
Frame Frame::ping(std::span<const std::byte> data) {
  return make_frame(Opcode::ping, data, true);
}

Frame Frame::pong(std::span<const std::byte> data) {
  return make_frame(Opcode::pong, data, true);
}

Frame Frame::close(std::uint16_t code, std::string_view reason) {
  std::array<std::byte, protocol::max_control_payload> payload;
  const std::size_t size = protocol::write_close_payload(payload.data(), code, reason);
  return make_frame(Opcode::close, {payload.data(), size}, true);
}

Frame Frame::close_empty() {
  return make_frame(Opcode::close, {}, true);
}

// Read as sent, without validation (RFC 6455 5.5.1: a 2-byte big-endian code, then the reason),
// so an inspected frame shows exactly what a peer put on the wire.
std::optional<std::uint16_t> Frame::close_code() const noexcept {
  if (opcode != Opcode::close || payload.size() < 2) return std::nullopt;
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(payload[0]) << 8) |
                                    std::to_integer<unsigned>(payload[1]));
}

std::string_view Frame::close_reason() const noexcept {
  if (opcode != Opcode::close || payload.size() < 2) return {};
  return payload_text().substr(2);
}

std::vector<std::byte> Frame::serialize() const {
  protocol::FrameHeader header;
  header.fin = fin;
  header.rsv1 = rsv1;
  header.rsv2 = rsv2;
  header.rsv3 = rsv3;
  header.opcode = opcode;
  header.masked = mask.has_value();
  if (mask) header.mask = *mask;
  header.payload_length = payload.size();

  std::vector<std::byte> wire(protocol::frame_header_size(payload.size(), header.masked) +
                              payload.size());
  const std::size_t header_size = protocol::write_frame_header(wire.data(), header);
  if (mask) {
    protocol::copy_masked(wire.data() + header_size, payload.data(), payload.size(), *mask);
  } else if (!payload.empty()) {
    std::memcpy(wire.data() + header_size, payload.data(), payload.size());
  }
  return wire;
}

}  // namespace fastws
