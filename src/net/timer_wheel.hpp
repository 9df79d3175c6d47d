// Deadlines for many connections at a cost that does not grow with the idle ones.
//
// A hashed timing wheel: `slot_count` circular lists, a timer due at tick T sits in list
// T % slot_count. Advancing one tick looks at one list, so idle connections whose deadlines are
// far away cost nothing per tick. Deadlines beyond one turn of the wheel stay in their list and
// are looked at once per turn.
//
// Nodes are intrusive (TimerNode is a base of the connection object): arming, re-arming and
// cancelling are O(1) pointer updates and never allocate. A connection has one deadline at a
// time (handshake, idle, pong or close timeout), re-armed when its state changes, so one node
// per connection is enough.
//
// Pushing a deadline later (the idle timeout, re-armed on every message) only stores the new
// tick: the node stays where it is and moves when its old list comes up. The echo hot path
// therefore touches no list at all.
//
// The wheel counts ticks and knows no clock; EventLoop maps its clock to ticks.
// Not thread-safe: a wheel and its nodes belong to one loop thread.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "net/intrusive_list.hpp"

namespace fastws::net {

// Derive from TimerNode and implement on_timer(). 32 bytes, no allocation.
class TimerNode : private ListNode<TimerNode> {
 public:
  TimerNode() noexcept = default;
  TimerNode(const TimerNode&) = delete;
  TimerNode& operator=(const TimerNode&) = delete;

  bool armed() const noexcept { return link.linked(); }
  // The tick the node fires at (meaningful while armed).
  std::uint64_t expiry() const noexcept { return expiry_; }

 protected:
  // Destroying an armed node unlinks it, so a connection freed with a live deadline is safe.
  // Virtual because the wheel, a friend, could otherwise delete through this type.
  virtual ~TimerNode();

  // Runs on the loop thread when the deadline passes; the node is disarmed before the call and
  // may be re-armed (or destroyed) from inside it.
  virtual void on_timer() = 0;

 private:
  friend class TimerWheel;

  std::uint64_t expiry_ = 0;
};

class TimerWheel {
 public:
  // `slot_count` is rounded up to a power of two; the turn of the wheel is slot_count ticks.
  explicit TimerWheel(std::size_t slot_count = 1024);
  // Unlinks the nodes still armed, so they may outlive the wheel.
  ~TimerWheel();
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // The last tick advanced to.
  std::uint64_t now() const noexcept { return now_; }

  // Fires `node` at tick `expiry` (at least now() + 1). Re-arming an armed node replaces its
  // deadline; a later deadline is a single store (inline: every input pushes a deadline later).
  void arm_at(TimerNode& node, std::uint64_t expiry) noexcept {
    expiry = std::max(expiry, now_ + 1);
    // The node sits in a slot that comes up no later than its old deadline; when it does, the
    // later deadline is seen and the node moves on. So a later deadline needs no list update.
    if (node.armed() && expiry >= node.expiry_) {
      node.expiry_ = expiry;
      return;
    }
    move_earlier(node, expiry);
  }
  void arm_after(TimerNode& node, std::uint64_t delay_ticks) noexcept {
    arm_at(node, now_ + delay_ticks);
  }
  void cancel(TimerNode& node) noexcept;

  // Moves time to `tick` and fires every node due at or before it. Returns how many fired.
  // Within one tick the order is unspecified; after a jump of more than one turn the order
  // follows the wheel, not the deadlines.
  std::size_t advance(std::uint64_t tick);

  // A tick at or before the earliest deadline, or nothing when no node is armed: the loop may
  // sleep until then. It can be early (a deadline pushed later, a far deadline that only shares
  // a slot), never late.
  std::optional<std::uint64_t> next_wakeup() const noexcept;

 private:
  std::size_t slot_of(std::uint64_t tick) const noexcept {
    return static_cast<std::size_t>(tick) & (slot_count_ - 1);
  }
  // arm_at()'s other cases: a node not armed, or armed for later than `expiry`.
  void move_earlier(TimerNode& node, std::uint64_t expiry) noexcept;
  void insert(TimerNode& node, std::uint64_t slot_tick) noexcept;
  void process_slot(std::size_t slot, std::size_t& fired);

  std::size_t slot_count_;
  std::unique_ptr<ListHead[]> slots_;
  // One bit per slot: "may hold nodes". Set on link, cleared when a processed slot is empty;
  // a cancel leaves it set (it only costs one early wakeup), so cancel stays O(1).
  std::unique_ptr<std::uint64_t[]> occupied_;
  std::uint64_t now_ = 0;
};

}  // namespace fastws::net
