// Attack: against a server that echoes every message through a Conn::writer() in three pieces
// (bench/load/streamed_echo_server), a client that pauses reading: a few rounds of sending
// hundreds of messages without reading, then reading everything while sending a hundred more,
// and it checks what arrives frame by frame (issue 16, defect 2). Under the drop policy a message
// may be dropped whole, but the wire must never carry a damaged message (a piece missing), a data
// frame inside an unfinished message, or a message left open; and once the client reads again,
// new messages must come back (or the server must close the connection), not wait for ever.
//
// Where the output limit cuts a message is a matter of bytes and timing, so one pause may well
// cut between two messages; each round is another chance for it to cut inside one.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "attack.hpp"
#include "ws_peer.hpp"

namespace fastws::attack {

struct StreamedEchoOptions {
  std::size_t piece_size = 10 * 1024;  // the server echoes each third of a message as one piece
  std::size_t rounds = 5;
  // 9 MiB of echoes a round: more than the 4 MiB output limit and the sockets' buffers.
  std::size_t messages_per_pause = 300;
  std::chrono::milliseconds pause{500};
  // Sent while catching up, so that pieces meet a backlog that falls below the limit.
  std::size_t messages_while_reading = 100;
  std::size_t followups = 20;  // at the end, one at a time, each to come back whole
};

// Byte `i` of message `sequence`: three pieces of `piece_size` bytes, each starting with the
// sequence number (4 bytes, little-endian) and the piece's index, so that any piece that arrives
// says what it is; letters after that.
inline std::byte streamed_byte(std::uint32_t sequence, std::size_t piece_size, std::size_t i) {
  const std::size_t offset = i % piece_size;
  if (offset < 4) return static_cast<std::byte>(sequence >> (8 * offset));
  if (offset == 4) return static_cast<std::byte>(i / piece_size);
  return static_cast<std::byte>('a' + (sequence + i) % 26);
}

inline std::vector<std::byte> streamed_message(std::uint32_t sequence, std::size_t piece_size) {
  std::vector<std::byte> out;
  out.reserve(3 * piece_size);
  for (std::size_t i = 0; i < 3 * piece_size; ++i) {
    out.push_back(streamed_byte(sequence, piece_size, i));
  }
  return out;
}

// What arrived, message by message (RFC 6455 5.4: a data frame, then continuation frames up to
// the one with FIN).
class StreamedEchoTally {
 public:
  explicit StreamedEchoTally(std::size_t piece_size) : piece_size_(piece_size) {}

  void on_frame(const ServerFrame& frame) {
    const Opcode opcode = frame.header.opcode;
    if (opcode == Opcode::close) {
      if (open_) ++cut_by_close;
      open_ = false;
      close_code = frame.close_code();
      return;
    }
    if (is_control(opcode)) return;
    if (opcode == Opcode::continuation && !open_) {
      ++invalid_sequences;  // a continuation with no message open
      return;
    }
    if (opcode != Opcode::continuation) {
      if (open_) ++invalid_sequences;  // a new message inside an unfinished one
      open_ = true;
      message_.clear();
    }
    message_.insert(message_.end(), frame.payload.begin(), frame.payload.end());
    if (frame.header.fin) {
      open_ = false;
      judge_message();
    }
  }

  // The stream ended (or stopped) here: a message still open was never terminated.
  void on_end() {
    if (open_) ++unterminated;
    open_ = false;
  }

  std::optional<std::uint32_t> last_whole() const { return last_whole_; }

  std::uint64_t whole = 0;
  std::uint64_t damaged = 0;       // well-formed, but not a message that was sent
  std::uint64_t out_of_order = 0;  // whole, but not after the last whole one
  std::uint64_t invalid_sequences = 0;
  std::uint64_t unterminated = 0;
  std::uint64_t cut_by_close = 0;  // open when the server's close frame came (allowed)
  std::optional<std::uint16_t> close_code;

 private:
  void judge_message() {
    std::uint32_t sequence = 0;
    for (std::size_t b = 0; b < 4 && b < message_.size(); ++b) {
      sequence |= std::to_integer<std::uint32_t>(message_[b]) << (8 * b);
    }
    bool right = message_.size() == 3 * piece_size_;
    for (std::size_t i = 0; right && i < message_.size(); ++i) {
      right = message_[i] == streamed_byte(sequence, piece_size_, i);
    }
    if (!right) {
      ++damaged;
    } else if (last_whole_ && sequence <= *last_whole_) {
      ++out_of_order;
    } else {
      ++whole;
      last_whole_ = sequence;
    }
  }

  std::size_t piece_size_;
  bool open_ = false;
  std::vector<std::byte> message_;
  std::optional<std::uint32_t> last_whole_;
};

namespace detail {

// The client's side of the attack: messages go out one frame at a time, frames come in and are
// tallied.
class StreamedEchoClient {
 public:
  StreamedEchoClient(WsPeer& peer, const StreamedEchoOptions& options)
      : peer_(peer), options_(options), tally_(options.piece_size) {}

  // Sends what the socket takes within `timeout_ms` of the next message(s), up to message
  // `limit`. False when the connection failed.
  bool write_some(std::uint32_t limit, int timeout_ms) {
    if (out_at_ == out_.size()) {
      if (next_ >= limit) return true;
      out_ = masked_frame(Opcode::binary, streamed_message(next_++, options_.piece_size));
      out_at_ = 0;
    }
    const auto sent = send_within(peer_.fd(), std::span(out_).subspan(out_at_), timeout_ms, error_);
    if (!sent) return false;
    out_at_ += *sent;
    return true;
  }

  bool all_sent(std::uint32_t limit) const { return next_ >= limit && out_at_ == out_.size(); }

  // Tallies every frame that has arrived. False when the connection ended (EOF, error, or the
  // server's close frame).
  bool read_arrived() {
    ServerFrame frame;
    for (;;) {
      const ReadStatus status = peer_.read_frame(frame, Clock::now(), error_);
      if (status == ReadStatus::timeout) return true;
      if (status != ReadStatus::frame) return false;
      last_frame_at_ = Clock::now();
      tally_.on_frame(frame);
      if (tally_.close_code) return false;
    }
  }

  // Writes messages up to `limit` for options.pause, without reading.
  bool pause(std::uint32_t limit) {
    const auto end = Clock::now() + options_.pause;
    while (Clock::now() < end && !all_sent(limit)) {
      if (!write_some(limit, 20)) return false;
    }
    return true;
  }

  // Reads, and sends the rest up to `limit`, until all is sent and nothing arrived for 300 ms.
  bool catch_up(std::uint32_t limit, const AttackContext& context) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    last_frame_at_ = Clock::now();
    while (Clock::now() < deadline && !context.stopped()) {
      if (all_sent(limit) && Clock::now() - last_frame_at_ > std::chrono::milliseconds(300)) {
        return true;
      }
      pollfd ready{peer_.fd(), static_cast<short>(POLLIN | (all_sent(limit) ? 0 : POLLOUT)), 0};
      ::poll(&ready, 1, 100);
      if ((ready.revents & POLLOUT) != 0 && !write_some(limit, 0)) return false;
      if (!read_arrived()) return false;
    }
    return true;
  }

  // Sends the follow-up messages one at a time, each to come back whole within 2 s; stops at
  // the first that does not. Returns how many did.
  std::size_t follow_up() {
    const std::uint32_t first = next_;
    std::size_t answered = 0;
    for (std::uint32_t sequence = first; sequence < first + options_.followups; ++sequence) {
      const auto deadline = Clock::now() + std::chrono::seconds(2);
      while (!all_sent(sequence + 1)) {
        if (Clock::now() > deadline || !write_some(sequence + 1, 100)) return answered;
      }
      while (tally_.last_whole() != sequence) {
        pollfd ready{peer_.fd(), POLLIN, 0};
        if (Clock::now() > deadline || ::poll(&ready, 1, millis_until(deadline)) == 0 ||
            !read_arrived()) {
          return answered;
        }
      }
      ++answered;
    }
    return answered;
  }

  StreamedEchoTally& tally() { return tally_; }
  std::uint32_t begun() const { return next_; }

 private:
  WsPeer& peer_;
  const StreamedEchoOptions& options_;
  StreamedEchoTally tally_;
  std::uint32_t next_ = 0;  // messages begun
  std::vector<std::byte> out_;
  std::size_t out_at_ = 0;
  Clock::time_point last_frame_at_;
  std::string error_;
};

}  // namespace detail

inline AttackOutcome run_streamed_echo(const AttackContext& context,
                                       const StreamedEchoOptions& options) {
  AttackOutcome outcome;
  WsPeer peer;
  // A 64 KiB receive buffer: what the client does not read waits at the server.
  if (!peer.open(context.port, "/", Clock::now() + std::chrono::seconds(2), outcome.error, {},
                 64 * 1024)) {
    return outcome;
  }
  detail::StreamedEchoClient client(peer, options);
  bool open = true;
  std::uint32_t limit = 0;
  for (std::size_t round = 0; open && round < options.rounds && !context.stopped(); ++round) {
    limit += static_cast<std::uint32_t>(options.messages_per_pause);
    open = client.pause(limit);
    limit += static_cast<std::uint32_t>(options.messages_while_reading);
    open = open && client.catch_up(limit, context);
  }
  const std::size_t answered = open ? client.follow_up() : 0;
  StreamedEchoTally& tally = client.tally();
  tally.on_end();
  const bool closed = tally.close_code.has_value();
  const std::uint64_t arrived = tally.whole + tally.damaged + tally.out_of_order;
  outcome.add("messages", client.begun());
  outcome.add("whole", tally.whole);
  outcome.add("damaged", tally.damaged + tally.out_of_order);
  outcome.add("invalid_sequences", tally.invalid_sequences);
  outcome.add("unterminated", tally.unterminated);
  outcome.add("missing", client.begun() - std::min<std::uint64_t>(client.begun(), arrived));
  outcome.add("followups", std::to_string(answered) + "/" + std::to_string(options.followups));
  if (closed) outcome.add("close", *tally.close_code);
  outcome.check("no damaged message (a piece missing, or out of order)",
                tally.damaged + tally.out_of_order == 0);
  outcome.check("no data frame inside an unfinished message", tally.invalid_sequences == 0);
  outcome.check("no message left unterminated", tally.unterminated == 0);
  outcome.check("once reading again, the " + std::to_string(options.followups) +
                    " follow-up messages come back whole (or the server closed)",
                answered == options.followups || closed);
  return outcome;
}

}  // namespace fastws::attack
