#include "cat/wakeup.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <system_error>

namespace fastws::cat {

namespace {

std::atomic<bool> interrupt_seen{false};
std::atomic<const Wakeup*> interrupt_wakeup{nullptr};

void on_interrupt(int) {
  interrupt_seen.store(true);
  if (const Wakeup* wakeup = interrupt_wakeup.load()) wakeup->notify();
}

}  // namespace

Wakeup::Wakeup() {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe");
  }
  read_end_ = ends[0];
  write_end_ = ends[1];
}

Wakeup::~Wakeup() {
  ::close(read_end_);
  ::close(write_end_);
}

void Wakeup::notify() const noexcept {
  const char byte = 1;
  // A full pipe is already readable: nothing is lost when this write fails.
  [[maybe_unused]] const ssize_t written = ::write(write_end_, &byte, 1);
}

void Wakeup::clear() const noexcept {
  char buffer[64];
  while (::read(read_end_, buffer, sizeof buffer) > 0) {
  }
}

bool Wakeup::wait(std::chrono::milliseconds limit) const noexcept {
  pollfd entry{read_end_, POLLIN, 0};
  const int timeout = limit.count() < 0 ? -1 : static_cast<int>(limit.count());
  const bool woken = ::poll(&entry, 1, timeout) == 1;
  clear();
  return woken;
}

void wake_on_interrupt(const Wakeup& wakeup) {
  interrupt_wakeup.store(&wakeup);
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  ::sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

bool interrupted() noexcept {
  return interrupt_seen.load();
}

}  // namespace fastws::cat
