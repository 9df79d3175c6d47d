// One load-generating connection: writes pre-built messages as fast as its in-flight limit and
// the socket allow, and checks every echoed byte against what must come back. No parsing: the
// echo of a known message is a known byte string, so one memcmp per read checks a whole batch
// of frames, header bytes included.
#pragma once

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "echo_message.hpp"
#include "socket.hpp"

namespace fastws::bench {

// How many bytes one send() may carry in pipelined mode: large batches make the cost of a
// system call small per message.
inline constexpr std::size_t write_batch_bytes = 64 * 1024;

// The periodic byte streams a connection sends and expects back, each as one message
// (`*_period` bytes) repeated inside a buffer.
struct EchoStreams {
  std::span<const std::byte> out;
  std::size_t out_period = 0;
  std::span<const std::byte> expected;
  std::size_t echo_period = 0;
  std::size_t max_write = 0;  // bytes per send() at most: a whole number of messages
  bool framed = false;        // ws mode: each message starts with a frame header
};

// Pipelined connections all send the same message, so they share one buffer of it; sharing keeps
// the generator's working set in cache.
class PipelinedBuffers {
 public:
  // Buffers for up to `pipeline` (0: unlimited) identical messages in flight. A read of up to
  // `read_size` bytes starting anywhere inside one message fits in `expected_`, and a write of
  // `max_write_` bytes starting anywhere inside one message fits in `out_`.
  PipelinedBuffers(const EchoMessage& message, std::size_t pipeline, std::size_t read_size)
      : PipelinedBuffers(message.wire_out(), message.expected_echo(), message.framed(), pipeline,
                         read_size) {}

  // The same for any message: `out` sent, `echo` expected back (a compressed message's echo is
  // what the server was seen to send, see deflate_echo.hpp).
  PipelinedBuffers(std::span<const std::byte> out, std::span<const std::byte> echo, bool framed,
                   std::size_t pipeline, std::size_t read_size)
      : out_period_(out.size()), echo_period_(echo.size()), framed_(framed) {
    std::size_t batch_messages = std::max<std::size_t>(1, write_batch_bytes / out_period_);
    if (pipeline != 0) batch_messages = std::min(batch_messages, pipeline);
    max_write_ = batch_messages * out_period_;
    out_ = repeat_bytes(out, batch_messages + 1);
    expected_ = repeat_bytes(echo, read_size / echo_period_ + 2);
  }

  EchoStreams streams() const noexcept {
    return {out_, out_period_, expected_, echo_period_, max_write_, framed_};
  }

 private:
  std::size_t out_period_;
  std::size_t echo_period_;
  bool framed_;
  std::size_t max_write_ = 0;
  std::vector<std::byte> out_;
  std::vector<std::byte> expected_;
};

class EchoConnection {
 public:
  // A pipelined connection over shared buffers (see PipelinedBuffers).
  EchoConnection(Fd fd, std::size_t pipeline, const EchoStreams& streams)
      : fd_(std::move(fd)), pipeline_(pipeline), streams_(streams) {}

  // A ping-pong connection: one message in flight, numbered, so that an echo of the wrong
  // message (a stale or duplicated one) is caught.
  EchoConnection(Fd fd, std::unique_ptr<EchoMessage> message)
      : fd_(std::move(fd)), pipeline_(1), numbered_(std::move(message)) {
    numbered_->set_sequence(0);
    const auto out = numbered_->wire_out();
    const auto expected = numbered_->expected_echo();
    streams_ = {out, out.size(), expected, expected.size(), out.size(), numbered_->framed()};
  }

  int fd() const noexcept { return fd_.get(); }
  std::uint64_t messages_received() const noexcept { return messages_received_; }
  std::uint64_t bytes_sent() const noexcept { return bytes_sent_; }
  std::uint64_t echo_bytes() const noexcept { return echo_bytes_; }

  // Rated load (fastws_bench rate): no more than `messages` messages sent in all, until raised.
  void limit_messages_sent(std::uint64_t messages) noexcept { send_limit_ = messages; }

  // Writes as much as the in-flight limit and the socket allow.
  bool flush(std::string& error) {
    for (;;) {
      const std::size_t window = send_window();
      if (window == 0) return true;
      // The stream is periodic, so the next byte to send sits at this offset of the buffer,
      // and the window fits after it (see PipelinedBuffers; one message in ping-pong).
      const std::size_t offset = static_cast<std::size_t>(bytes_sent_ % streams_.out_period);
      const ssize_t n = ::send(fd_.get(), streams_.out.data() + offset, window, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return true;
      if (n < 0) {
        error = errno_text("send");
        return false;
      }
      bytes_sent_ += static_cast<std::uint64_t>(n);
      // A short write means the send buffer is full: with edge-triggered epoll, EPOLLOUT
      // reports when it drains, so an extra send() that would return EAGAIN is saved.
      if (static_cast<std::size_t>(n) < window) return true;
    }
  }

  // Reads everything the socket holds, checks it, adds the completed echoes to `completed`,
  // then writes what the freed in-flight window allows.
  bool drain(std::span<std::byte> scratch, std::uint64_t& completed, std::string& error) {
    for (;;) {
      const ssize_t n = ::recv(fd_.get(), scratch.data(), scratch.size(), 0);
      if (n > 0) {
        const auto size = static_cast<std::size_t>(n);
        if (!check_echo(scratch.data(), size, completed, error)) return false;
        if (size < scratch.size()) break;  // short read: the socket is empty (edge-triggered)
        continue;
      }
      if (n == 0) {
        error = "the server closed the connection";
        return false;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      error = errno_text("recv");
      return false;
    }
    return flush(error);
  }

 private:
  std::size_t send_window() const noexcept {
    std::uint64_t window = streams_.max_write;
    if (pipeline_ != 0) {
      const std::uint64_t limit = (messages_received_ + pipeline_) * streams_.out_period;
      window = std::min(window, limit - bytes_sent_);
    }
    if (send_limit_ != no_send_limit) {
      window = std::min(window, send_limit_ * streams_.out_period - bytes_sent_);
    }
    return static_cast<std::size_t>(window);
  }

  bool check_echo(const std::byte* data, std::size_t size, std::uint64_t& completed,
                  std::string& error) {
    // An echo cannot be longer than what was sent. In ping-pong this also keeps the compare
    // inside the one-message buffer.
    const std::uint64_t messages_begun =
        (bytes_sent_ + streams_.out_period - 1) / streams_.out_period;
    const std::uint64_t expected_left = messages_begun * streams_.echo_period - echo_bytes_;
    const auto echoed = static_cast<std::size_t>(std::min<std::uint64_t>(size, expected_left));
    const auto offset = static_cast<std::size_t>(echo_bytes_ % streams_.echo_period);
    if (std::memcmp(data, streams_.expected.data() + offset, echoed) != 0) {
      error = describe_mismatch(data, offset);
      return false;
    }
    echo_bytes_ += echoed;
    const std::uint64_t received = echo_bytes_ / streams_.echo_period;
    completed += received - messages_received_;
    if (numbered_ && received != messages_received_) numbered_->set_sequence(received);
    messages_received_ = received;
    if (echoed < size) {
      // The extra bytes start where a message would: say what frame they look like.
      error = "the server sent more bytes than the echo of the messages it was sent" +
              frame_note(std::to_integer<unsigned>(data[echoed]));
      return false;
    }
    return true;
  }

  // Reports the first byte of `data` (read at `offset` of the expected buffer) that differs.
  std::string describe_mismatch(const std::byte* data, std::size_t offset) const {
    std::size_t i = 0;
    while (data[i] == streams_.expected[offset + i]) ++i;
    const std::uint64_t position = echo_bytes_ + i;
    const std::size_t byte_in_message = static_cast<std::size_t>(position % streams_.echo_period);
    const auto got = std::to_integer<unsigned>(data[i]);
    const auto expected = std::to_integer<unsigned>(streams_.expected[offset + i]);
    char text[160];
    std::snprintf(text, sizeof text,
                  "the echo differs from what was sent: message %llu, byte %zu is 0x%02x, "
                  "expected 0x%02x",
                  static_cast<unsigned long long>(position / streams_.echo_period), byte_in_message,
                  got, expected);
    return text + (byte_in_message == 0 ? frame_note(got) : std::string{});
  }

  // What a frame starting with `first_byte` is, in ws mode (RFC 6455 5.2: FIN bit, opcode).
  std::string frame_note(unsigned first_byte) const {
    if (!streams_.framed) return {};
    if ((first_byte & 0x0F) == 0x8) return " (the server sent a close frame)";
    return " (a frame header: opcode " + std::to_string(first_byte & 0x0F) + ", fin " +
           std::to_string(first_byte >> 7) + ")";
  }

  Fd fd_;
  std::size_t pipeline_;                   // messages in flight at most; 0: unlimited
  std::unique_ptr<EchoMessage> numbered_;  // ping-pong only
  EchoStreams streams_;
  std::uint64_t bytes_sent_ = 0;
  std::uint64_t echo_bytes_ = 0;
  std::uint64_t messages_received_ = 0;
  static constexpr std::uint64_t no_send_limit = UINT64_MAX;
  std::uint64_t send_limit_ = no_send_limit;  // messages, see limit_messages_sent
};

}  // namespace fastws::bench
