// Which cases are played at the same time. Each case has a connection of its own, so any number
// of cases can be played together; a case marked `alone` (its duration is a performance figure,
// 9.x) is played with no other, so that figure is the peer's alone. Both commands take a pass
// before a case starts and hold it until the case is over: test-server's workers and
// test-client's connection threads.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace fastws::conformance {

class CaseGate {
 public:
  // Held while the case plays; leaving the scope lets the cases that wait for it start.
  class Pass {
   public:
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;
    ~Pass();

   private:
    friend class CaseGate;
    Pass(CaseGate& gate, bool alone) noexcept : gate_(gate), alone_(alone) {}
    CaseGate& gate_;
    bool alone_;
  };

  // Blocks until the case may start: an ordinary case while no `alone` case plays or waits, an
  // `alone` case once nothing plays (a waiting `alone` case lets no new case start, so it is
  // not put off for ever).
  [[nodiscard]] Pass enter(bool alone);

  // Blocks until no case plays.
  void wait_idle();

 private:
  void leave(bool alone);

  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t playing_ = 0;
  std::size_t alone_waiting_ = 0;
  bool alone_playing_ = false;
};

}  // namespace fastws::conformance
