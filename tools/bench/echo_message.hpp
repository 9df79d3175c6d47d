// The bytes of one echo message, built once so that the load loop only copies and compares:
// what the client sends (a masked binary frame in ws mode, the bare payload in tcp mode) and what
// must come back (the same frame unmasked, RFC 6455 5.1, or the same payload).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "connector.hpp"
#include "fastws/frame.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/mask.hpp"

namespace fastws::bench {

// Where a ping-pong message carries its sequence number: the first (up to) 8 payload bytes.
inline constexpr std::size_t max_sequence_bytes = 8;

// A mask key for a whole run (see EchoMessage on why one key serves every frame).
inline MaskKey random_mask_key() {
  std::random_device entropy;
  MaskKey key{};
  for (auto& b : key) b = static_cast<std::byte>(entropy());
  return key;
}

// Appends one final frame carrying `payload` (masked with `*mask_key` unless it is null; RSV1 set
// for a compressed message, RFC 7692 6) and returns where its payload starts.
inline std::size_t append_frame(std::vector<std::byte>& out, std::span<const std::byte> payload,
                                Opcode opcode, const MaskKey* mask_key, bool rsv1 = false) {
  protocol::FrameHeader header;
  header.fin = true;
  header.rsv1 = rsv1;
  header.opcode = opcode;
  header.masked = mask_key != nullptr;
  if (mask_key != nullptr) header.mask = *mask_key;
  header.payload_length = payload.size();
  const std::size_t at = out.size();
  out.resize(at + protocol::max_frame_header_size);
  const std::size_t header_size = protocol::write_frame_header(out.data() + at, header);
  out.resize(at + header_size);
  out.insert(out.end(), payload.begin(), payload.end());
  if (mask_key != nullptr) {
    protocol::apply_mask(out.data() + at + header_size, payload.size(), *mask_key);
  }
  return at + header_size;
}

// A masked close frame with status 1000 (RFC 6455 5.5.1); the key is all zeros, which leaves
// the payload as it is.
inline constexpr std::byte masked_close_frame[] = {std::byte{0x88}, std::byte{0x82}, std::byte{0},
                                                   std::byte{0},    std::byte{0},    std::byte{0},
                                                   std::byte{0x03}, std::byte{0xE8}};

class EchoMessage {
 public:
  // Binary frames, so that a server does not spend time validating UTF-8 (RFC 6455 5.6) and the
  // sequence number can be any bytes. One fixed mask key for every frame: RFC 6455 5.3 wants a
  // fresh unpredictable key per frame to protect intermediaries, which do not exist on this
  // loopback benchmark, and a fixed key lets every outgoing byte be built in advance.
  EchoMessage(Mode mode, std::size_t payload_size, const MaskKey& mask_key)
      : EchoMessage(mode, pattern_payload(payload_size), mask_key, Opcode::binary) {}

  // A message of these bytes, sent as one `opcode` frame in ws mode (fastws_bench rate sends
  // tcpkali's text message).
  EchoMessage(Mode mode, std::span<const std::byte> payload, const MaskKey& mask_key, Opcode opcode)
      : mask_key_(mask_key), payload_size_(payload.size()), framed_(mode == Mode::ws) {
    if (framed_) {
      out_payload_at_ = append_frame(out_, payload, opcode, &mask_key_);
      echo_payload_at_ = append_frame(echo_, payload, opcode, nullptr);
    } else {
      out_.assign(payload.begin(), payload.end());
      echo_ = out_;
    }
  }

  // `size` bytes of a repeating alphabet: not all zeros, so a lost byte shows.
  static std::vector<std::byte> pattern_payload(std::size_t size) {
    std::vector<std::byte> payload(size);
    for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<std::byte>('a' + i % 26);
    return payload;
  }

  // Writes `sequence` (little-endian, truncated to the payload size) into both byte strings.
  void set_sequence(std::uint64_t sequence) noexcept {
    const std::size_t count = std::min(max_sequence_bytes, payload_size_);
    for (std::size_t i = 0; i < count; ++i) {
      echo_[echo_payload_at_ + i] = static_cast<std::byte>(sequence >> (8 * i));
    }
    if (framed_) {
      protocol::copy_masked(out_.data() + out_payload_at_, echo_.data() + echo_payload_at_, count,
                            mask_key_);
    } else {
      std::copy_n(echo_.begin(), count, out_.begin());
    }
  }

  std::span<const std::byte> wire_out() const noexcept { return out_; }
  std::span<const std::byte> expected_echo() const noexcept { return echo_; }
  bool framed() const noexcept { return framed_; }

 private:
  MaskKey mask_key_;
  std::size_t payload_size_;
  bool framed_;
  std::vector<std::byte> out_;
  std::vector<std::byte> echo_;
  std::size_t out_payload_at_ = 0;
  std::size_t echo_payload_at_ = 0;
};

// `bytes` repeated `copies` times: a pipelined stream of identical messages is periodic, so any
// window of it starting inside the first copy is one contiguous slice of this buffer.
inline std::vector<std::byte> repeat_bytes(std::span<const std::byte> bytes, std::size_t copies) {
  std::vector<std::byte> out;
  out.reserve(bytes.size() * copies);
  for (std::size_t i = 0; i < copies; ++i) out.insert(out.end(), bytes.begin(), bytes.end());
  return out;
}

}  // namespace fastws::bench
