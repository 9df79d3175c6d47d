// One WebSocket connection driven from fastws-cat's main thread (connect mode, and listen mode
// with --one): input lines go out as messages, waiting while the connection holds too much to
// take the next one (so none is dropped); the end of input closes with 1000 (--close-on-eof)
// and waits for the peer's close, bounded; how the connection closed gives the exit code. The
// connection's callbacks report to it from the loop thread.
//
// fastws delivers no message that arrives after we sent our close (as browsers do), so closing
// right at the end of input would lose the replies to the last lines still on their way. So
// the end of input first sends a ping and waits for its pong (bounded by the close timeout): a
// peer answers frames in order, so by then the replies it sent to every line have arrived.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include <fastws/conn.hpp>

#include "cat/options.hpp"
#include "cat/wakeup.hpp"

namespace fastws::cat {

// The connection's own limits, as its Client or Server options set them.
struct ConnectionLimits {
  std::size_t max_message_size;
  std::chrono::milliseconds close_timeout;  // how long it waits for the peer's close
};

class Conversation {
 public:
  Conversation(const CatOptions& options, const Wakeup& wakeup, ConnectionLimits limits)
      : options_(options), wakeup_(wakeup), limits_(limits) {}

  // Loop thread: a pong came (on_pong).
  void pong(std::span<const std::byte> payload);
  // Loop thread: the connection ended (on_close).
  void closed(const CloseStatus& status);
  // Loop thread: a message could not be written out (errno tells why): the connection closes
  // with 1001 and the exit code says failure.
  void output_failed(const Conn& conn);

  // Main thread: sends standard input's lines until the connection is gone; returns the exit
  // code.
  int run(const Conn& conn);

 private:
  bool ended() const;
  CloseStatus close_status() const;  // once ended()
  bool pong_seen() const;
  void send_line(const Conn& conn, const std::string& line);
  // Waits until the connection holds little enough to take `size` more bytes.
  void wait_for_room(const Conn& conn, std::size_t size);
  // Waits for the pong of a ping sent now, so that the replies to what we sent have arrived.
  void wait_for_replies(const Conn& conn);
  // Closes with 1000 and waits for the peer's close, bounded; the exit code.
  int close_and_wait(const Conn& conn);
  int report(const CloseStatus& status);

  const CatOptions& options_;
  const Wakeup& wakeup_;
  ConnectionLimits limits_;
  mutable std::mutex mutex_;
  std::optional<CloseStatus> close_;
  bool pong_seen_ = false;
  std::string output_error_;
};

}  // namespace fastws::cat
