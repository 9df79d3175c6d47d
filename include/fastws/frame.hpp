// WebSocket frames (RFC 6455 section 5.2) for crafting and inspecting any frame by hand.
// Conn::send_frame sends one as crafted; its data frames must keep to the message sequence
// (RFC 6455 5.4) unless sent with FrameSequence::unchecked, for testing peers (conn.hpp).
//
// Thread safety: a Frame is a plain value; distinct objects may be used from distinct threads.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace fastws {

// The four bits of the opcode. Reserved values (3-7, 11-15) can be crafted with
// static_cast<Opcode>(n); a receiving fastws peer closes with 1002 on them.
enum class Opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

// Close, ping, pong (and the reserved 11-15): opcodes with the high bit set.
constexpr bool is_control(Opcode op) noexcept {
  return (static_cast<std::uint8_t>(op) & 0x8) != 0;
}
// Opcodes RFC 6455 leaves undefined (3-7, 11-15).
constexpr bool is_reserved(Opcode op) noexcept {
  auto v = static_cast<std::uint8_t>(op);
  return (v >= 0x3 && v <= 0x7) || v >= 0xB;
}

// The masking key of a frame a client sends (RFC 6455 5.3).
using MaskKey = std::array<std::byte, 4>;

// One frame, header fields and payload. The payload is stored unmasked; when `mask` is set the
// serializer masks it on the way out.
struct Frame {
  bool fin = true;                 // the last frame of its message
  bool rsv1 = false;               // set on compressed messages (permessage-deflate)
  bool rsv2 = false;               // reserved: a peer closes with 1002 on it
  bool rsv3 = false;               // reserved: a peer closes with 1002 on it
  Opcode opcode = Opcode::text;    // the frame's opcode
  std::optional<MaskKey> mask;     // set: masked on the wire (what clients send)
  std::vector<std::byte> payload;  // unmasked

  // Data and control frames with `data` as payload (fin: the message ends with this frame).
  static Frame text(std::string_view data, bool fin = true);
  static Frame binary(std::span<const std::byte> data, bool fin = true);
  static Frame continuation(std::span<const std::byte> data, bool fin);
  static Frame ping(std::span<const std::byte> data = {});
  static Frame pong(std::span<const std::byte> data = {});
  // A close frame with a status code and a UTF-8 reason (at most 123 bytes: it is truncated).
  static Frame close(std::uint16_t code, std::string_view reason = {});
  // A close frame with no payload at all (the peer sees status 1005).
  static Frame close_empty();

  // For close frames: the status code in the payload, if there is one.
  std::optional<std::uint16_t> close_code() const noexcept;
  // For close frames: the reason text after the code (empty if none).
  std::string_view close_reason() const noexcept;

  // The payload as characters.
  std::string_view payload_text() const noexcept {
    return {reinterpret_cast<const char*>(payload.data()), payload.size()};
  }

  // The frame on the wire: header, then the (masked, if `mask` is set) payload.
  std::vector<std::byte> serialize() const;
};

}  // namespace fastws
