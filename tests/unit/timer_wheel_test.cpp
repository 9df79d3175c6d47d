// TimerWheel: deadlines fire at their tick (not before, not after), re-arming and cancelling,
// callbacks that touch the wheel, deadlines beyond one turn, no allocation for any number
// of armed timers, and stream handlers whose deadline shares their vptr.
#include "net/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <system_error>
#include <vector>

#include "net/event_loop.hpp"
#include "support/allocation_counter.hpp"

namespace fastws::net {
namespace {

class RecordingTimer : public TimerNode {
 public:
  explicit RecordingTimer(TimerWheel& wheel) : wheel_(wheel) {}

  int fired = 0;
  std::uint64_t fired_at = 0;
  std::function<void()> then;  // runs inside on_timer()

 private:
  void on_timer() override {
    ++fired;
    fired_at = wheel_.now();
    if (then) then();
  }

  TimerWheel& wheel_;
};

TEST(TimerWheelTest, FiresAtItsTickAndNotBefore) {
  TimerWheel wheel(64);
  RecordingTimer timer(wheel);
  wheel.arm_after(timer, 5);
  EXPECT_TRUE(timer.armed());
  EXPECT_EQ(timer.expiry(), 5u);

  EXPECT_EQ(wheel.advance(4), 0u);
  EXPECT_EQ(timer.fired, 0);
  EXPECT_EQ(wheel.advance(5), 1u);
  EXPECT_EQ(timer.fired, 1);
  EXPECT_EQ(timer.fired_at, 5u);
  EXPECT_FALSE(timer.armed());
  EXPECT_EQ(wheel.advance(200), 0u);
  EXPECT_EQ(timer.fired, 1);
}

TEST(TimerWheelTest, DeadlineInThePastFiresOnTheNextTick) {
  TimerWheel wheel(64);
  wheel.advance(10);
  RecordingTimer timer(wheel);
  wheel.arm_at(timer, 3);
  EXPECT_EQ(timer.expiry(), 11u);
  wheel.advance(11);
  EXPECT_EQ(timer.fired, 1);
}

TEST(TimerWheelTest, CancelledTimerNeverFires) {
  TimerWheel wheel(64);
  RecordingTimer timer(wheel);
  wheel.arm_after(timer, 3);
  wheel.cancel(timer);
  EXPECT_FALSE(timer.armed());
  wheel.cancel(timer);  // cancelling a disarmed node is harmless
  wheel.advance(100);
  EXPECT_EQ(timer.fired, 0);
}

TEST(TimerWheelTest, PushingTheDeadlineLaterFiresOnlyAtTheNewDeadline) {
  TimerWheel wheel(64);
  RecordingTimer timer(wheel);
  wheel.arm_after(timer, 5);
  wheel.arm_after(timer, 20);  // the idle-timeout pattern: re-armed on every message
  EXPECT_EQ(timer.expiry(), 20u);

  wheel.advance(5);  // the node's slot comes up: it must move on, not fire
  EXPECT_EQ(timer.fired, 0);
  EXPECT_TRUE(timer.armed());
  wheel.advance(19);
  EXPECT_EQ(timer.fired, 0);
  wheel.advance(20);
  EXPECT_EQ(timer.fired, 1);
  EXPECT_EQ(timer.fired_at, 20u);
}

TEST(TimerWheelTest, PullingTheDeadlineEarlierFiresAtTheNewDeadline) {
  TimerWheel wheel(64);
  RecordingTimer timer(wheel);
  wheel.arm_after(timer, 20);
  wheel.arm_after(timer, 3);
  wheel.advance(3);
  EXPECT_EQ(timer.fired, 1);
  wheel.advance(20);
  EXPECT_EQ(timer.fired, 1);
}

TEST(TimerWheelTest, DeadlineBeyondOneTurnWaitsForItsTick) {
  TimerWheel wheel(64);  // one turn = 64 ticks
  RecordingTimer timer(wheel);
  const std::uint64_t deadline = 3 * 64 + 5;
  wheel.arm_at(timer, deadline);
  for (std::uint64_t tick = 1; tick < deadline; ++tick) {
    wheel.advance(tick);
    ASSERT_EQ(timer.fired, 0) << "fired early at tick " << tick;
  }
  wheel.advance(deadline);
  EXPECT_EQ(timer.fired, 1);
}

TEST(TimerWheelTest, JumpFiresEverythingDueAndNothingElse) {
  TimerWheel wheel(64);
  RecordingTimer a(wheel), b(wheel), c(wheel), d(wheel);
  wheel.arm_at(a, 3);
  wheel.arm_at(b, 70);
  wheel.arm_at(c, 500);
  wheel.arm_at(d, 10'000);
  EXPECT_EQ(wheel.advance(600), 3u);
  EXPECT_EQ(a.fired + b.fired + c.fired, 3);
  EXPECT_EQ(d.fired, 0);
  EXPECT_EQ(wheel.advance(9'999), 0u);
  EXPECT_EQ(wheel.advance(10'000), 1u);
  EXPECT_EQ(d.fired, 1);
}

TEST(TimerWheelTest, DestroyedArmedNodeLeavesTheWheel) {
  TimerWheel wheel(64);
  RecordingTimer survivor(wheel);
  {
    RecordingTimer doomed(wheel);
    wheel.arm_after(doomed, 5);
    wheel.arm_after(survivor, 5);  // same slot: the list must stay intact
  }
  EXPECT_EQ(wheel.advance(5), 1u);
  EXPECT_EQ(survivor.fired, 1);
}

TEST(TimerWheelTest, NodesMayOutliveTheWheel) {
  auto wheel = std::make_unique<TimerWheel>(64);
  RecordingTimer timer(*wheel);
  wheel->arm_after(timer, 5);
  wheel.reset();
  EXPECT_FALSE(timer.armed());
}

TEST(TimerWheelTest, CallbackMayRearmItsOwnNode) {
  TimerWheel wheel(64);
  RecordingTimer periodic(wheel);
  periodic.then = [&] { wheel.arm_after(periodic, 10); };
  wheel.arm_after(periodic, 10);
  for (std::uint64_t tick = 1; tick <= 100; ++tick) wheel.advance(tick);
  EXPECT_EQ(periodic.fired, 10);
  EXPECT_EQ(periodic.fired_at, 100u);
}

TEST(TimerWheelTest, CallbackMayCancelAnotherDueNode) {
  TimerWheel wheel(64);
  RecordingTimer a(wheel), b(wheel);
  a.then = [&] { wheel.cancel(b); };
  b.then = [&] { wheel.cancel(a); };
  wheel.arm_after(a, 5);
  wheel.arm_after(b, 5);
  EXPECT_EQ(wheel.advance(5), 1u);
  EXPECT_EQ(a.fired + b.fired, 1);
}

TEST(TimerWheelTest, CallbackMayDestroyAnotherDueNode) {
  TimerWheel wheel(64);
  RecordingTimer first(wheel);
  auto second = std::make_unique<RecordingTimer>(wheel);
  first.then = [&] { second.reset(); };
  wheel.arm_after(first, 5);
  wheel.arm_after(*second, 5);  // behind `first` in the same slot
  EXPECT_EQ(wheel.advance(5), 1u);
  EXPECT_EQ(first.fired, 1);
}

TEST(TimerWheelTest, TimerArmedByACallbackDuringAJumpCountsFromTheNewTime) {
  TimerWheel wheel(64);
  RecordingTimer trigger(wheel), follower(wheel);
  trigger.then = [&] { wheel.arm_after(follower, 1); };
  wheel.arm_at(trigger, 2);
  wheel.advance(10);  // trigger fires while the wheel jumps from 0 to 10
  ASSERT_EQ(trigger.fired, 1);
  EXPECT_EQ(follower.fired, 0);
  EXPECT_EQ(follower.expiry(), 11u);
  wheel.advance(11);
  EXPECT_EQ(follower.fired, 1);
}

TEST(TimerWheelTest, NextWakeupIsTheEarliestDeadline) {
  TimerWheel wheel(64);
  EXPECT_FALSE(wheel.next_wakeup().has_value());
  RecordingTimer near(wheel), far(wheel);
  wheel.arm_at(far, 40);
  wheel.arm_at(near, 7);
  EXPECT_EQ(wheel.next_wakeup(), 7u);
  wheel.advance(7);
  EXPECT_EQ(wheel.next_wakeup(), 40u);
  wheel.advance(40);
  EXPECT_FALSE(wheel.next_wakeup().has_value());
}

TEST(TimerWheelTest, NextWakeupIsNeverAfterADeadlineBeyondOneTurn) {
  TimerWheel wheel(64);
  wheel.advance(50);
  RecordingTimer timer(wheel);
  wheel.arm_at(timer, 50 + 64 * 2 + 10);
  const auto wakeup = wheel.next_wakeup();
  ASSERT_TRUE(wakeup.has_value());
  EXPECT_LE(*wakeup, timer.expiry());
  EXPECT_GT(*wakeup, 50u);
}

TEST(TimerWheelTest, CancelledNodeLeavesAtMostOneEarlyWakeup) {
  TimerWheel wheel(64);
  RecordingTimer timer(wheel);
  wheel.arm_at(timer, 9);
  wheel.cancel(timer);
  // Cancel stays O(1) by leaving the slot marked; the mark goes when the slot comes up.
  const auto wakeup = wheel.next_wakeup();
  if (wakeup) wheel.advance(*wakeup);
  EXPECT_FALSE(wheel.next_wakeup().has_value());
}

TEST(TimerWheelTest, HundredThousandTimersCostOnlyTheirNodes) {
  EXPECT_LE(sizeof(TimerNode), 32u);
  constexpr std::size_t count = 100'000;
  constexpr std::uint64_t spread = 3'000;  // deadlines over ~3 turns of a 1024-slot wheel
  TimerWheel wheel(1024);
  std::vector<std::unique_ptr<RecordingTimer>> timers;
  timers.reserve(count);
  for (std::size_t i = 0; i < count; ++i) timers.push_back(std::make_unique<RecordingTimer>(wheel));

  std::size_t fired_early_or_late = 0;
  std::size_t fired_total = 0;
  const std::size_t allocations = test::count_allocations([&] {
    for (std::size_t i = 0; i < count; ++i) wheel.arm_at(*timers[i], 1 + (i * 7919) % spread);
    for (std::uint64_t tick = 1; tick <= spread; ++tick) fired_total += wheel.advance(tick);
  });
  for (const auto& timer : timers) {
    if (timer->fired != 1 || timer->fired_at != timer->expiry()) ++fired_early_or_late;
  }
  EXPECT_EQ(allocations, 0u);
  EXPECT_EQ(fired_total, count);
  EXPECT_EQ(fired_early_or_late, 0u);
  EXPECT_FALSE(wheel.next_wakeup().has_value());
}

// A connection's shape: I/O events and a deadline on one object, one vptr for both.
class TimedStream final : public TimedStreamHandler {
 public:
  int fired = 0;
  int io = 0;

  void on_io(std::uint32_t /*events*/) override { ++io; }
  void on_received(std::span<std::byte> /*data*/) override {}
  void on_receive_end(std::error_code /*error*/) override {}
  void on_sent() override {}
  void on_send_failed(std::error_code /*error*/) override {}

 private:
  void on_timer() override { ++fired; }
};

TEST(TimerWheelTest, StreamHandlerDeadlinesFireTheirOwnerBesideTimerNodes) {
  static_assert(sizeof(TimedStreamHandler) == sizeof(void*) + sizeof(TimerEntry));
  TimerWheel wheel(64);
  TimedStream stream;
  RecordingTimer timer(wheel);
  wheel.arm_at(stream, 7);
  wheel.arm_at(timer, 7);
  wheel.arm_at(stream, 9);  // later: a store, the owner kept
  EXPECT_EQ(stream.expiry(), 9u);
  EXPECT_EQ(wheel.advance(8), 1u);
  EXPECT_EQ(timer.fired, 1);
  EXPECT_EQ(stream.fired, 0);
  EXPECT_EQ(wheel.advance(9), 1u);
  EXPECT_EQ(stream.fired, 1);
  EXPECT_EQ(stream.io, 0);
  EXPECT_FALSE(stream.armed());
}

// A wheel that keeps its members (a loop's connections): add() to remove(), armed or not, all
// seen by for_each(), also those still waiting in the slot being fired.
TEST(TimerWheelTest, WheelThatKeepsMembersHoldsThemArmedOrNot) {
  TimerWheel wheel(64, /*keeps_members=*/true);
  RecordingTimer first(wheel);
  RecordingTimer second(wheel);
  RecordingTimer idle(wheel);
  for (RecordingTimer* timer : {&first, &second, &idle}) wheel.add(*timer);
  const auto members = [&wheel] {
    std::size_t count = 0;
    wheel.for_each([&count](TimerEntry& /*node*/) { ++count; });
    return count;
  };
  EXPECT_EQ(members(), 3u);
  EXPECT_FALSE(idle.armed());
  EXPECT_TRUE(idle.on_wheel());

  wheel.arm_at(first, 5);
  wheel.arm_at(second, 5);  // same slot: waits in it while `first` fires
  std::size_t seen_by_first = 0;
  first.then = [&] { seen_by_first = members(); };
  EXPECT_EQ(wheel.advance(5), 2u);
  EXPECT_EQ(seen_by_first, 3u);
  EXPECT_EQ(members(), 3u);
  EXPECT_FALSE(first.armed());
  EXPECT_TRUE(first.on_wheel());  // fired, still a member

  wheel.arm_at(idle, 9);
  wheel.cancel(idle);
  EXPECT_FALSE(idle.armed());
  EXPECT_TRUE(idle.on_wheel());  // cancelled, still a member
  EXPECT_EQ(wheel.advance(9), 0u);

  wheel.arm_at(second, 12);
  wheel.remove(second);  // armed: leaves the wheel all the same
  EXPECT_FALSE(second.on_wheel());
  EXPECT_EQ(members(), 2u);
  EXPECT_EQ(wheel.advance(12), 0u);
  EXPECT_EQ(second.fired, 1);
}

// for_each() looks only at the slots its bitmap marks: members armed in every word of it, and
// one a turn ahead that goes back into its slot when that slot comes up, are all still seen.
TEST(TimerWheelTest, ForEachSeesMembersInEverySlotItHolds) {
  TimerWheel wheel(256, /*keeps_members=*/true);
  std::vector<std::unique_ptr<RecordingTimer>> timers;
  for (const std::uint64_t tick : {1u, 63u, 64u, 130u, 255u, 300u}) {
    timers.push_back(std::make_unique<RecordingTimer>(wheel));
    wheel.add(*timers.back());
    wheel.arm_at(*timers.back(), tick);
  }
  const auto members = [&wheel] {
    std::size_t count = 0;
    wheel.for_each([&count](TimerEntry& /*node*/) { ++count; });
    return count;
  };
  EXPECT_EQ(members(), 6u);
  EXPECT_EQ(wheel.advance(100), 3u);  // 1, 63, 64 fire; 300 waits in its slot for another turn
  EXPECT_EQ(members(), 6u);
  wheel.remove(*timers[3]);
  EXPECT_EQ(members(), 5u);
  EXPECT_EQ(wheel.advance(300), 2u);
  EXPECT_EQ(members(), 5u);
}

}  // namespace
}  // namespace fastws::net
