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

}  // namespace fastws::detail
