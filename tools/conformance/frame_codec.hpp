// Frames as the fuzzer writes and reads them (RFC 6455 5.2). Writing takes any field value, the
// reserved opcodes and RSV bits included, since the cases send exactly the frames a peer must
// refuse. Reading is lenient on purpose: it only cuts the byte stream into frames, and the case
// run judges each field (a peer's wrong frame is a finding, not a parse error).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fastws/frame.hpp"

namespace fastws::conformance {

// One frame to send. Payloads are byte strings (std::string holds any byte).
struct FrameSpec {
  unsigned opcode = 1;  // 0..15, reserved values included
  bool fin = true;
  unsigned rsv = 0;  // 0..7 as the official suite counts: 4 = RSV1, 2 = RSV2, 1 = RSV3
  std::string payload;
  // How the encoded frame goes onto the wire: in writes of `chop` octets each (0: one write), and
  // with `sync` as a write of its own instead of one shared with the frames around it. Each
  // such write is followed by `pause` (unset: the run's default).
  std::size_t chop = 0;
  bool sync = false;
  std::optional<std::chrono::microseconds> pause;
};

// The frame's bytes: header (shortest length form) and payload, masked with `mask` when given.
std::string encode_frame(const FrameSpec& frame, const std::optional<MaskKey>& mask);

// `pattern` repeated (and cut) to exactly `length` bytes, as the official suite's payload_len.
std::string repeat_to_length(std::string_view pattern, std::size_t length);

// A frame read from the peer, its payload already unmasked.
struct RawFrame {
  bool fin = false;
  unsigned rsv = 0;  // same numbering as FrameSpec::rsv
  unsigned opcode = 0;
  bool masked = false;
  std::string payload;
};

enum class FrameRead { frame, need_more, too_large };

// Reads the frame at the start of `input`: on `frame`, fills `out` and sets `consumed` to its
// size on the wire. `need_more` sets `wanted` to the whole frame's size once the header is
// there (0 before), so the caller can reserve room for a large frame. A declared length over
// `max_payload` (or with the top bit set) gives too_large.
FrameRead read_frame(std::string_view input, std::uint64_t max_payload, RawFrame& out,
                     std::size_t& consumed, std::size_t& wanted);

}  // namespace fastws::conformance
