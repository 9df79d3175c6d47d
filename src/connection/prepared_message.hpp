// A message sent to many connections at once (broadcast, publish): framed once, and compressed
// at most once per compressor window size, however many loops and connections it reaches.
//
// permessage-deflate (RFC 7692) decides what a connection can share:
// - without the extension, or for messages under the compression threshold: the plain frame;
// - with "server_no_context_takeover" our compressor forgets everything between messages, so its
//   output depends only on the payload, the level and the window size: connections with the
//   same window share one compressed frame;
// - with context takeover each connection's compressor carries its own history, which must see
//   every message it compressed (7.2.1): such connections compress the message themselves.
//
// Threading: made on the caller's thread, then read by every loop; the compressed frames are
// made by the first loop that needs them, under a lock.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "connection/outgoing_send.hpp"
#include "connection/shared_bytes.hpp"
#include "fastws/conn.hpp"
#include "fastws/frame.hpp"
#include "protocol/permessage_deflate.hpp"

namespace fastws::detail {

class PreparedMessage {
 public:
  PreparedMessage(Opcode opcode, std::span<const std::byte> payload);

  Opcode opcode() const noexcept { return opcode_; }
  std::span<const std::byte> payload() const noexcept;
  // The whole uncompressed frame.
  const SharedPayload& plain_frame() const noexcept { return plain_; }
  // The whole frame compressed by a fresh compressor with `window_bits` (9..15) and the
  // server's level and memory settings; null if zlib failed (send it plain then).
  SharedPayload compressed_frame(int window_bits, const protocol::DeflateConfig& config);

 private:
  static constexpr int min_window_bits = 9;
  static constexpr int max_window_bits = 15;

  Opcode opcode_;
  std::size_t header_size_;
  SharedPayload plain_;
  std::mutex mutex_;
  std::array<SharedPayload, max_window_bits - min_window_bits + 1> compressed_;
  std::array<bool, max_window_bits - min_window_bits + 1> tried_{};
};

// Consecutive messages for the same connections (a run of broadcasts, or of publishes to one
// topic) with their plain frames joined once in one buffer, so that each connection's share of
// the run can leave from it as one piece: the kernel copies one buffer rather than a piece per
// message, and nobody copies per connection. A single message needs no joining.
class PreparedRun {
 public:
  // The broadcasts or publishes of `run` (each with its `prepared` message), whose messages must
  // outlive this object.
  explicit PreparedRun(std::span<const OutgoingSend> run);
  PreparedRun(const PreparedRun&) = delete;  // frames_ point to joined_
  PreparedRun& operator=(const PreparedRun&) = delete;

  // The plain frame of run[i]'s message, inside the joined buffer.
  const SharedBytes& plain_frame(std::size_t i) const noexcept { return frames_[i]; }
  // The plain frames of run[first] to run[first + count - 1], one after the other in the joined
  // buffer, and the size of their payloads.
  SharedBytes plain_frames(std::size_t first, std::size_t count) const noexcept;
  std::size_t payload_bytes(std::size_t first, std::size_t count) const noexcept {
    return payloads_before_[first + count] - payloads_before_[first];
  }

 private:
  SharedPayload joined_;  // null for a single message
  std::vector<SharedBytes> frames_;
  std::vector<std::size_t> payloads_before_;  // [i]: payload bytes of run[0] to run[i - 1]
};

}  // namespace fastws::detail
