// Frame header parsing and writing (RFC 6455 section 5.2). No payload handling here: the session
// reads payloads straight from the input buffer.
#pragma once

#include <cstddef>
#include <cstdint>

#include "fastws/frame.hpp"
#include "protocol/role.hpp"

namespace fastws::protocol {

inline constexpr std::size_t max_frame_header_size = 14;
inline constexpr std::size_t max_control_payload = 125;

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
  bool idle() const noexcept { return buffered_size_ == 0 && !error_; }
  ProtocolError error() const noexcept { return error_; }
  void reset() noexcept;

 private:
  // Ordered so that no padding falls between them (every session holds a parser).
  FrameHeader header_{};
  std::uint8_t buffered_[max_frame_header_size]{};
  std::uint8_t buffered_size_ = 0;
  ProtocolError error_{};
};

// Writes the header for `header` into `out` (at least max_frame_header_size bytes) using the
// shortest length encoding, and returns its size. The payload is not touched: the caller sends
// header and payload together (writev) or masks the payload into its output buffer.
std::size_t write_frame_header(std::byte* out, const FrameHeader& header) noexcept;

// Size the header of a frame with this payload length takes.
constexpr std::size_t frame_header_size(std::uint64_t payload_length, bool masked) noexcept {
  std::size_t size = payload_length < 126 ? 2 : (payload_length <= 0xFFFF ? 4 : 10);
  return masked ? size + 4 : size;
}

}  // namespace fastws::protocol
