// Wakes fastws-cat's main thread, which waits on standard input, when something else happened:
// a connection closed (a callback on a loop thread) or a signal came (write(2) to a pipe is
// async-signal-safe).
#pragma once

#include <chrono>

namespace fastws::cat {

class Wakeup {
 public:
  Wakeup();  // throws std::system_error when no pipe can be made
  ~Wakeup();
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;

  int fd() const noexcept { return read_end_; }  // readable once notified, for poll()
  void notify() const noexcept;
  // Forgets the notifications so far.
  void clear() const noexcept;
  // Waits until notified (a negative limit: for ever); true if it was.
  bool wait(std::chrono::milliseconds limit) const noexcept;

 private:
  int read_end_ = -1;
  int write_end_ = -1;
};

// From now on SIGINT and SIGTERM set interrupted() and notify `wakeup` (which must live as long
// as the process).
void wake_on_interrupt(const Wakeup& wakeup);
bool interrupted() noexcept;

}  // namespace fastws::cat
