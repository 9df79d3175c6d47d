#include "cat/input_lines.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

namespace fastws::cat {

InputLines::Event InputLines::next(const Wakeup& wakeup, std::string& line) {
  for (;;) {
    const auto newline = buffer_.find('\n', scanned_);
    if (newline != std::string::npos) {
      line.assign(buffer_, start_, newline - start_);
      start_ = scanned_ = newline + 1;
      return Event::line;
    }
    scanned_ = buffer_.size();
    if (ended_) {
      if (start_ == buffer_.size()) return Event::end;
      line.assign(buffer_, start_);
      start_ = scanned_ = buffer_.size();
      return Event::line;
    }
    if (buffer_.size() - start_ > max_line_) return Event::too_long;

    pollfd ready[2] = {{fd_, POLLIN, 0}, {wakeup.fd(), POLLIN, 0}};
    if (::poll(ready, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return Event::error;
    }
    if (ready[1].revents != 0) {
      wakeup.clear();
      return Event::woken;
    }
    if (ready[0].revents == 0) continue;
    // What was used is dropped before reading more: the buffer holds the unfinished line and
    // one read.
    buffer_.erase(0, start_);
    scanned_ -= start_;
    start_ = 0;
    char chunk[65536];
    const ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(n));
    } else if (n == 0) {
      ended_ = true;
    } else if (errno != EINTR && errno != EAGAIN) {
      return Event::error;
    }
  }
}

}  // namespace fastws::cat
