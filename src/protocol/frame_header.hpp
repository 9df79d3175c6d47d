// Frame header parsing and writing (RFC 6455 section 5.2). No payload handling here: the session
// reads payloads straight from the input buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fastws/frame.hpp"
#include "protocol/role.hpp"

namespace fastws::protocol {

inline constexpr std::size_t max_frame_header_size = 14;
inline constexpr std::size_t max_control_payload = 125;

// The bits of the first two header bytes, and the two extended-length codes.
namespace frame_bits {
inline constexpr std::uint8_t fin_bit = 0x80;
inline constexpr std::uint8_t rsv1_bit = 0x40;
inline constexpr std::uint8_t rsv2_bit = 0x20;
inline constexpr std::uint8_t rsv3_bit = 0x10;
inline constexpr std::uint8_t rsv_bits = rsv1_bit | rsv2_bit | rsv3_bit;  // >> 4: allowed_rsv_bits
inline constexpr std::uint8_t opcode_bits = 0x0F;
inline constexpr std::uint8_t mask_bit = 0x80;
inline constexpr std::uint8_t length_bits = 0x7F;
inline constexpr std::uint8_t length_16 = 126;
inline constexpr std::uint8_t length_64 = 127;
inline constexpr std::size_t mask_key_size = 4;
}  // namespace frame_bits

// 16 bytes: every connection's session holds one (the header being read).
struct FrameHeader {
  bool fin : 1 = false;
  bool rsv1 : 1 = false;
  bool rsv2 : 1 = false;
  bool rsv3 : 1 = false;
  bool masked : 1 = false;
  Opcode opcode = Opcode::continuation;
  MaskKey mask{};
  std::uint64_t payload_length = 0;
};
static_assert(sizeof(FrameHeader) == 16);

// What the parser enforces on each header, set by the session.
struct FrameHeaderRules {
  Role role = Role::server;           // server: frames must be masked; client: must not be
  std::uint8_t allowed_rsv_bits = 0;  // bit 0x4 = RSV1, 0x2 = RSV2, 0x1 = RSV3 (negotiated ext.)
  std::uint64_t max_payload_length = UINT64_MAX;  // larger declared length -> 1009
};

// Incremental header parser: feed any split of the input, down to one byte at a time; the
// result is the same. Holds at most 14 bytes of state, never allocates.
//
// Checks (each a 1002 unless noted): reserved opcode; RSV bit not in allowed_rsv_bits; control
// frame not final or longer than 125; mask bit wrong for the role; 64-bit length with the top bit
// set; declared length over max_payload_length (1009, decided as soon as the length is read).
class FrameHeaderParser {
 public:
  enum class Status : std::uint8_t { need_more, done, error };

  // Consumes bytes from [data, data + size) up to the end of the header; sets `consumed` to the
  // number taken. On `done`, header() is valid; on `error`, error() says why. Call reset() to
  // start the next header.
  Status parse(const std::byte* data, std::size_t size, std::size_t& consumed,
               const FrameHeaderRules& rules) noexcept;

  const FrameHeader& header() const noexcept { return header_; }
  // No header bytes are buffered and no error is pending: the next byte starts a header.
  bool idle() const noexcept { return buffered_size_ == 0 && fault_ == Fault::none; }
  ProtocolError error() const noexcept;
  void reset() noexcept;

  // What can be wrong with a header: one byte here, its close code and reason in a table
  // (error()), so that the parser every session holds is 32 bytes, not 48.
  enum class Fault : std::uint8_t {
    none,
    reserved_opcode,
    reserved_bit,
    fragmented_control,
    unmasked_from_client,
    masked_from_server,
    control_too_long,
    length_top_bit,
    length_not_shortest,
    frame_too_big,
  };

 private:
  // Ordered so that no padding falls between them (every session holds a parser).
  FrameHeader header_{};
  std::uint8_t buffered_[max_frame_header_size]{};
  std::uint8_t buffered_size_ = 0;
  Fault fault_ = Fault::none;
};
static_assert(sizeof(FrameHeaderParser) == 32);

// Byte 0 of a header: FIN, RSV1-3 and the opcode.
inline std::byte frame_first_byte(const FrameHeader& header) noexcept {
  using namespace frame_bits;
  std::uint8_t byte0 = static_cast<std::uint8_t>(header.opcode) & opcode_bits;
  if (header.fin) byte0 |= fin_bit;
  if (header.rsv1) byte0 |= rsv1_bit;
  if (header.rsv2) byte0 |= rsv2_bit;
  if (header.rsv3) byte0 |= rsv3_bit;
  return static_cast<std::byte>(byte0);
}

// The rest of a header after byte 0 (which the caller writes to out[0]): MASK and the payload
// length in its shortest form, then the mask key when there is one. Returns the header's size.
// Inline: every message sent writes one, and with a constant mask argument it is a few stores.
inline std::size_t write_frame_length(std::byte* out, std::uint64_t length,
                                      const MaskKey* mask) noexcept {
  using namespace frame_bits;
  // 5.2: "the minimal number of bytes MUST be used to encode the length".
  std::uint8_t byte1 = mask != nullptr ? mask_bit : 0;
  std::size_t size = 2;
  if (length <= max_control_payload) {
    byte1 |= static_cast<std::uint8_t>(length);
  } else if (length <= 0xFFFF) {
    byte1 |= length_16;
    out[2] = static_cast<std::byte>(length >> 8);
    out[3] = static_cast<std::byte>(length & 0xFF);
    size += 2;
  } else {
    byte1 |= length_64;
    for (std::size_t i = 0; i < 8; ++i) out[2 + i] = static_cast<std::byte>(length >> (56 - 8 * i));
    size += 8;
  }
  out[1] = static_cast<std::byte>(byte1);
  if (mask != nullptr) {
    std::memcpy(out + size, mask->data(), mask_key_size);
    size += mask_key_size;
  }
  return size;
}

// Writes the header for `header` into `out` (at least max_frame_header_size bytes) using the
// shortest length encoding, and returns its size. The payload is not touched: the caller sends
// header and payload together (writev) or masks the payload into its output buffer.
inline std::size_t write_frame_header(std::byte* out, const FrameHeader& header) noexcept {
  out[0] = frame_first_byte(header);
  return write_frame_length(out, header.payload_length, header.masked ? &header.mask : nullptr);
}

// Size the header of a frame with this payload length takes.
constexpr std::size_t frame_header_size(std::uint64_t payload_length, bool masked) noexcept {
  std::size_t size = payload_length < 126 ? 2 : (payload_length <= 0xFFFF ? 4 : 10);
  return masked ? size + 4 : size;
}

}  // namespace fastws::protocol
