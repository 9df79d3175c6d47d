// How the send buffer limit judges a send (ServerOptions::max_buffered_bytes says why it works
// this way). Plain arithmetic on the bytes a connection holds, shared by sends made on the loop
// thread and sends queued from other threads.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace fastws::detail {

// What a send is to the message it belongs to.
enum class Admission : std::uint8_t {
  message_start,  // a whole message, or the first piece of a streamed one: it may be refused
  continuation,   // a later piece of a streamed message already begun: never refused on its own
};

struct SendLimits {
  // `read_bytes`: the most one turn reads (EventLoopOptions::read_buffer_size).
  SendLimits(std::size_t max_buffered, std::size_t max_message, bool closes_slow,
             std::size_t read_bytes) noexcept
      : max_buffered_bytes(max_buffered),
        max_message_size(max_message),
        closes_slow_consumers(closes_slow),
        turn_margin(std::min(read_bytes, std::max(max_buffered / 2, std::size_t{16 * 1024}))),
        input_pause_bytes(max_buffered - std::min(max_buffered, turn_margin)),
        whole_read_fits(read_bytes <= max_buffered) {}

  std::size_t max_buffered_bytes;
  std::size_t max_message_size;
  bool closes_slow_consumers;  // SlowConsumerPolicy::close

  // Where the endpoint pauses input behind output, a backlog over input_pause_bytes stops the
  // input, and a turn takes in at most turn_input_bytes(): what is left under the limit by what
  // waits already (the backlog, and a message received in part). An echo's answer is no bigger
  // than what it answers, so answering a turn's input stays under the limit: a peer that
  // pipelines and reads slowly is held back by TCP instead of losing answers.
  // The pause leaves a margin, the least a turn takes in: one read, or half the limit if that is
  // less, but not under 16 KiB so that a small limit does not make tiny turns. One turn's answers
  // can then still pass a limit under 16 KiB, or one that a large message received in part fills.
  // Worked out once: they are asked on every read.
  std::size_t turn_margin;
  std::size_t input_pause_bytes;
  bool whole_read_fits;  // with nothing waiting, a whole read's answers fit under the limit
  std::size_t turn_input_bytes(std::size_t waiting) const noexcept {
    return std::max(waiting < max_buffered_bytes ? max_buffered_bytes - waiting : 0, turn_margin);
  }

  // How far a streamed message begun under the limit may take the buffer to finish.
  std::size_t streamed_ceiling() const noexcept {
    const std::size_t most = std::numeric_limits<std::size_t>::max();
    return max_message_size > most - max_buffered_bytes ? most
                                                        : max_buffered_bytes + max_message_size;
  }

  // Whether `bytes` more may join a connection holding `buffered`: a message start fits under
  // the limit or goes alone into an empty buffer; a continuation fits under the ceiling.
  bool admits(std::size_t buffered, std::size_t bytes, Admission admission) const noexcept {
    if (admission == Admission::continuation) return fits(buffered, bytes, streamed_ceiling());
    return buffered == 0 || fits(buffered, bytes, max_buffered_bytes);
  }

  // Whether refusing a send closes the connection: under the close policy, and always for a
  // continuation, since skipping a piece would damage a message the peer has begun to receive.
  bool refusal_closes(Admission admission) const noexcept {
    return closes_slow_consumers || admission == Admission::continuation;
  }

 private:
  static bool fits(std::size_t buffered, std::size_t bytes, std::size_t limit) noexcept {
    return bytes <= limit && buffered <= limit - bytes;
  }
};

}  // namespace fastws::detail
