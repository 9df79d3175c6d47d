#include "cat/conversation.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <span>

#include "cat/diagnostics.hpp"
#include "cat/exit_codes.hpp"
#include "cat/input_lines.hpp"

namespace fastws::cat {

namespace {

using Clock = std::chrono::steady_clock;

// How much may wait in the connection's buffer before the next line goes: a little, so that the
// loop, which reads about 256 KiB a turn, reads a peer's replies as fast as we send (4 MiB
// queued at once made an echo server's backlog of replies to us overflow its limit).
constexpr std::size_t queue_target = 256 * 1024;
// While waiting for room, the connection's buffer is looked at this often (on_drain wakes the
// wait sooner when it empties).
constexpr std::chrono::milliseconds room_poll{1};

// The payload of the ping sent at the end of input, told apart from --ping-interval's.
constexpr std::string_view end_of_input_ping = "fastws-cat: end of input";

// Waits (on `wakeup`) until `done` holds or `limit` passed; whether it holds.
template <class Condition>
bool wait_until(const Wakeup& wakeup, std::chrono::milliseconds limit, Condition done) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    wakeup.wait(left);
  }
  return true;
}

}  // namespace

void Conversation::pong(std::span<const std::byte> payload) {
  const std::string_view text(reinterpret_cast<const char*>(payload.data()), payload.size());
  if (text != end_of_input_ping) return;
  {
    std::lock_guard lock(mutex_);
    pong_seen_ = true;
  }
  wakeup_.notify();
}

void Conversation::closed(const CloseStatus& status) {
  {
    std::lock_guard lock(mutex_);
    close_ = status;
  }
  wakeup_.notify();
}

void Conversation::output_failed(const Conn& conn) {
  {
    std::lock_guard lock(mutex_);
    if (output_error_.empty()) output_error_ = std::strerror(errno);
  }
  conn.close(close_code::going_away);
}

bool Conversation::ended() const {
  std::lock_guard lock(mutex_);
  return close_.has_value();
}

CloseStatus Conversation::close_status() const {
  std::lock_guard lock(mutex_);
  return close_.value_or(CloseStatus{});
}

bool Conversation::pong_seen() const {
  std::lock_guard lock(mutex_);
  return pong_seen_;
}

int Conversation::run(const Conn& conn) {
  InputLines input(STDIN_FILENO, limits_.max_message_size);
  std::string line;
  bool reading = true;
  while (!ended()) {
    if (interrupted()) return close_and_wait(conn);
    if (!reading) {
      wakeup_.wait(std::chrono::milliseconds(-1));
      continue;
    }
    switch (input.next(wakeup_, line)) {
      case InputLines::Event::line:
        send_line(conn, line);
        break;
      case InputLines::Event::woken:
        break;
      case InputLines::Event::end:
        if (!options_.close_on_eof) {
          reading = false;
          break;
        }
        wait_for_replies(conn);
        return close_and_wait(conn);
        break;
      case InputLines::Event::too_long:
        print_error("a line of input is longer than the largest message (" +
                    std::to_string(limits_.max_message_size) + " bytes)");
        close_and_wait(conn);
        return exit_failure;
      case InputLines::Event::error:
        print_error(std::string("cannot read standard input: ") + std::strerror(errno));
        close_and_wait(conn);
        return exit_failure;
    }
  }
  return report(close_status());
}

void Conversation::send_line(const Conn& conn, const std::string& line) {
  wait_for_room(conn, line.size());
  const SendStatus status =
      options_.binary_input
          ? conn.send(std::as_bytes(std::span(line.data(), line.size())), Opcode::binary)
          : conn.send(line);
  // `closed` needs no word here: the close status follows and is reported.
  if (status == SendStatus::dropped || status == SendStatus::invalid) {
    print_error(std::string("a line was not sent: ") + to_string(status));
  }
}

void Conversation::wait_for_room(const Conn& conn, std::size_t size) {
  for (;;) {
    const std::size_t buffered = conn.buffered_amount();
    // An empty buffer takes a message of any size (whatever the limit, which is larger than
    // queue_target).
    if (buffered == 0 || buffered + size <= queue_target) return;
    if (ended() || interrupted()) return;
    wakeup_.wait(room_poll);
  }
}

void Conversation::wait_for_replies(const Conn& conn) {
  if (conn.ping(end_of_input_ping) == SendStatus::closed) return;
  wait_until(wakeup_, limits_.close_timeout,
             [&] { return pong_seen() || ended() || interrupted(); });
}

int Conversation::close_and_wait(const Conn& conn) {
  conn.close(close_code::normal);
  // The library drops the socket after close_timeout and reports it; this bound is a backstop.
  if (!wait_until(wakeup_, limits_.close_timeout + std::chrono::seconds(2),
                  [&] { return ended(); })) {
    conn.terminate();
    print_error("no close from the peer in time");
    return exit_timeout;
  }
  return report(close_status());
}

int Conversation::report(const CloseStatus& status) {
  std::string described = std::to_string(status.code);
  if (!status.reason.empty()) described += " " + status.reason;
  if (!status.error.empty()) described += " (" + status.error + ")";
  if (options_.show_close) print_error("closed: " + described);
  {
    std::lock_guard lock(mutex_);
    if (!output_error_.empty()) {
      print_error("cannot write to standard output: " + output_error_);
      return exit_failure;
    }
  }
  const int code = exit_code_for(status);
  if (code != exit_ok) print_error("the connection closed abnormally: " + described);
  return code;
}

}  // namespace fastws::cat
