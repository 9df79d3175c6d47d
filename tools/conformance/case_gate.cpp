#include "conformance/case_gate.hpp"

namespace fastws::conformance {

CaseGate::Pass::~Pass() {
  gate_.leave(alone_);
}

CaseGate::Pass CaseGate::enter(bool alone) {
  std::unique_lock lock(mutex_);
  if (alone) {
    ++alone_waiting_;
    changed_.wait(lock, [this] { return playing_ == 0; });
    --alone_waiting_;
    alone_playing_ = true;
  } else {
    changed_.wait(lock, [this] { return !alone_playing_ && alone_waiting_ == 0; });
  }
  ++playing_;
  return Pass(*this, alone);
}

void CaseGate::wait_idle() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return playing_ == 0; });
}

void CaseGate::leave(bool alone) {
  {
    const std::lock_guard lock(mutex_);
    --playing_;
    if (alone) alone_playing_ = false;
  }
  changed_.notify_all();
}

}  // namespace fastws::conformance
