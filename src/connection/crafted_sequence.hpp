// The message sequence (RFC 6455 5.4) of the data frames a user sends with Conn::send_frame:
// a text or binary frame with fin=0 opens a fragmented message, a continuation with fin=1 ends
// it. It is kept as the calls are made, on whatever thread makes them, so that a frame that
// would break it is refused at the call (SendStatus::invalid) rather than reported queued and
// dropped later on the loop.
#pragma once

#include <atomic>

#include "fastws/frame.hpp"

namespace fastws::detail {

class CraftedSequence {
 public:
  static bool is_data(Opcode op) noexcept {
    return op == Opcode::text || op == Opcode::binary || op == Opcode::continuation;
  }
  static bool opens_fragmented(const Frame& frame) noexcept {
    return frame.opcode != Opcode::continuation && !frame.fin;
  }

  // Advances the sequence by data frame `frame`; false, and no change, if `frame` would break it.
  bool enter(const Frame& frame) noexcept {
    const bool continues = frame.opcode == Opcode::continuation;
    if (continues == frame.fin) {
      // Opens (text or binary, fin=0) or ends (continuation, fin=1) a fragmented message: none
      // may be open, or one must be; then that flips.
      bool expected = continues;
      return open_.compare_exchange_strong(expected, !continues, std::memory_order_relaxed);
    }
    // A whole message needs none open; a continuation in the middle needs one.
    return open_.load(std::memory_order_relaxed) == continues;
  }
  // `frame` entered but was refused (the buffer limit): a message it opened is not open.
  void undo(const Frame& frame) noexcept {
    if (opens_fragmented(frame)) open_.store(false, std::memory_order_relaxed);
  }

 private:
  std::atomic<bool> open_{false};
};

}  // namespace fastws::detail
