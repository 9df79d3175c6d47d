#include "net/event_loops.hpp"

#include <system_error>

namespace fastws::net {

EventLoops::EventLoops(unsigned count, IoBackend backend) {
  EventLoopOptions options;
  options.backend = backend;
  for (unsigned i = 0; i < (count == 0 ? 1 : count); ++i) {
    std::error_code error;
    std::unique_ptr<EventLoop> loop = EventLoop::create(error, options);
    if (!loop) throw std::system_error(error, "fastws: cannot create an event loop");
    loops_.push_back(std::move(loop));
  }
}

EventLoops::~EventLoops() {
  join();
}

void EventLoops::set_running(bool running) {
  std::lock_guard lock(mutex_);
  running_ = running;
}

void EventLoops::run() {
  set_running(true);
  for (std::size_t i = 1; i < loops_.size(); ++i) {
    threads_.emplace_back([&loop = *loops_[i]] { loop.run(); });
  }
  loops_[0]->run();
  join();
}

void EventLoops::start() {
  set_running(true);
  for (const auto& loop : loops_) threads_.emplace_back([&loop = *loop] { loop.run(); });
}

void EventLoops::join() {
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  set_running(false);
}

bool EventLoops::drive_externally() {
  std::lock_guard lock(mutex_);
  if (running_ || driven_externally_) return false;
  driven_externally_ = running_ = true;
  external_running_ = loops_.size();
  for (auto& loop : loops_) loop->prepare_for_outside_driver();
  return true;
}

void EventLoops::external_loop_ended() {
  std::lock_guard lock(mutex_);
  if (external_running_ > 0 && --external_running_ == 0) running_ = false;
}

bool EventLoops::while_not_running(const std::function<void()>& action) {
  std::lock_guard lock(mutex_);
  if (running_) return false;
  action();
  return true;
}

}  // namespace fastws::net
