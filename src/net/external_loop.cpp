// The handle of an event loop driven from outside (include/fastws/external_loop.hpp).
#include "fastws/external_loop.hpp"

#include "net/event_loop.hpp"
#include "net/event_loops.hpp"

namespace fastws {

int ExternalLoop::fd() const noexcept {
  return (*loops_)[index_]->fd();
}

bool ExternalLoop::run_ready() {
  if (ended_) return false;
  net::EventLoop& loop = *(*loops_)[index_];
  loop.run_once(std::chrono::milliseconds(0));
  loop.submit_pending();
  // The stop() that would end run(): the shutdown of the loop's side is over.
  if (!loop.take_stop()) return true;
  ended_ = true;
  loops_->external_loop_ended();
  return false;
}

bool ExternalLoop::wants_run() const noexcept {
  return !ended_ && (*loops_)[index_]->work_pending_now();
}

std::chrono::milliseconds ExternalLoop::wait_limit() const noexcept {
  return (*loops_)[index_]->timer_wait();
}

void ExternalLoop::run_handler(void (*handler)(void*), void* context) {
  if (ended_) return;
  net::EventLoop& loop = *(*loops_)[index_];
  loop.run_handler(handler, context);
  loop.submit_pending();
}

void ExternalLoop::set_driver(void* driver) noexcept {
  (*loops_)[index_]->set_driver(driver);
}

void* ExternalLoop::driver_of_current_loop() noexcept {
  net::EventLoop* loop = net::EventLoop::current();
  return loop != nullptr ? loop->driver() : nullptr;
}

}  // namespace fastws
