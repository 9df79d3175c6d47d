// Standard input as lines for fastws-cat, waited for beside a Wakeup: each complete line
// (without its '\n'), then a last line that has no '\n', then the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "cat/wakeup.hpp"

namespace fastws::cat {

class InputLines {
 public:
  InputLines(int fd, std::size_t max_line) : fd_(fd), max_line_(max_line) {}

  enum class Event : std::uint8_t {
    line,      // `line` holds the next one
    end,       // no more input
    woken,     // the wakeup was notified (and is cleared)
    too_long,  // a line longer than max_line: nothing more is read
    error,     // reading failed (errno tells why)
  };
  // Returns a line at once if one is buffered; otherwise waits for input or the wakeup.
  Event next(const Wakeup& wakeup, std::string& line);

 private:
  int fd_;
  std::size_t max_line_;
  std::string buffer_;
  std::size_t start_ = 0;    // where the unread part of buffer_ begins
  std::size_t scanned_ = 0;  // where to look for the next '\n'
  bool ended_ = false;
};

}  // namespace fastws::cat
