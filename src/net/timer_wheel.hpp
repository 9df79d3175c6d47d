// Deadlines for many connections at a cost that does not grow with the idle ones.
//
// A hashed timing wheel: `slot_count` circular lists, a timer due at tick T sits in list
// T % slot_count. Advancing one tick looks at one list, so idle connections whose deadlines are
// far away cost nothing per tick. Deadlines beyond one turn of the wheel stay in their list and
// are looked at once per turn.
//
// Nodes are intrusive (a TimerEntry is a base of the connection object): arming, re-arming and
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
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "net/intrusive_list.hpp"

namespace fastws::net {

// A deadline's place on the wheel: its links and the tick it fires at, 24 bytes, no vptr. What
// runs then is its owner's on_timer(): a TimerNode's (derive from it, the usual way), or a
// TimedStreamHandler's (event_loop.hpp), whose on_timer() shares the vtable of its I/O events,
// so that a connection carries one vptr, not two.
class TimerEntry : private ListNode<TimerEntry> {
 public:
  TimerEntry(const TimerEntry&) = delete;
  TimerEntry& operator=(const TimerEntry&) = delete;

  // A node that keeps its place on a wheel (TimerWheel's keeps_members) while unarmed has expiry
  // 0 then; armed, never (a deadline is at least the wheel's now() + 1).
  bool armed() const noexcept { return link.linked() && expiry() != 0; }
  // On a wheel at all: armed, or a member of a wheel that keeps its members.
  bool on_wheel() const noexcept { return link.linked(); }
  // The tick the node fires at (meaningful while armed).
  std::uint64_t expiry() const noexcept { return expiry_and_owner_ & expiry_bits; }

 protected:
  enum class Owner : std::uint8_t { timer_node, stream_handler };
  explicit TimerEntry(Owner owner) noexcept
      : expiry_and_owner_(owner == Owner::stream_handler ? stream_handler_bit : 0) {}
  // Destroying a node on a wheel unlinks it, so a connection freed with a live deadline is safe.
  ~TimerEntry();

 private:
  friend class TimerWheel;

  // Ticks never reach 2^63 (2^63 ms is 292 million years): the top bit says who owns the entry.
  static constexpr std::uint64_t stream_handler_bit = std::uint64_t{1} << 63;
  static constexpr std::uint64_t expiry_bits = stream_handler_bit - 1;

  void set_expiry(std::uint64_t tick) noexcept {
    expiry_and_owner_ = (expiry_and_owner_ & stream_handler_bit) | (tick & expiry_bits);
  }
  // Runs the owner's on_timer().
  void fire();
  static TimerEntry& of(ListLink& entry) noexcept {
    return static_cast<TimerEntry&>(ListNode<TimerEntry>::from_link(entry));
  }

  std::uint64_t expiry_and_owner_;
};
static_assert(sizeof(TimerEntry) == 24);

// Derive from TimerNode and implement on_timer(). 32 bytes, no allocation.
class TimerNode : public TimerEntry {
 public:
  TimerNode() noexcept : TimerEntry(Owner::timer_node) {}

 protected:
  // Virtual because the wheel, a friend of the entry, could otherwise delete through this type.
  virtual ~TimerNode() = default;

  // Runs on the loop thread when the deadline passes; the node is disarmed before the call and
  // may be re-armed (or destroyed) from inside it.
  virtual void on_timer() = 0;

 private:
  friend class TimerEntry;
};

class TimerWheel {
 public:
  // `slot_count` is rounded up to a power of two; the turn of the wheel is slot_count ticks.
  // With `keeps_members`, a node stays on the wheel from add() to remove(), unarmed (on a list
  // of the wheel's) while it has no deadline: the wheel is also a set of nodes, for for_each(),
  // and one link serves both (a loop's connections: LoopContext).
  explicit TimerWheel(std::size_t slot_count = 1024, bool keeps_members = false);
  // Unlinks the nodes still on it, so they may outlive the wheel.
  ~TimerWheel();
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // The last tick advanced to.
  std::uint64_t now() const noexcept { return now_; }

  // Fires `node` at tick `expiry` (at least now() + 1). Re-arming an armed node replaces its
  // deadline; a later deadline is a single store (inline: every input pushes a deadline later).
  void arm_at(TimerEntry& node, std::uint64_t expiry) noexcept {
    expiry = std::max(expiry, now_ + 1);
    // The node sits in a slot that comes up no later than its old deadline; when it does, the
    // later deadline is seen and the node moves on. So a later deadline needs no list update.
    if (node.armed() && expiry >= node.expiry()) {
      node.set_expiry(expiry);
      return;
    }
    move_earlier(node, expiry);
  }
  void arm_after(TimerEntry& node, std::uint64_t delay_ticks) noexcept {
    arm_at(node, now_ + delay_ticks);
  }
  // Disarms `node`; a wheel that keeps its members keeps it, unarmed.
  void cancel(TimerEntry& node) noexcept;

  // keeps_members: `node` (on no wheel) becomes a member, unarmed.
  void add(TimerEntry& node) noexcept { keep(node); }
  // keeps_members: `node` leaves the wheel, armed or not.
  void remove(TimerEntry& node) noexcept {
    if (node.on_wheel()) node.link.unlink();
  }
  // Calls visit(node) for every node on the wheel (armed, firing in this advance(), or kept
  // unarmed), in no particular order. `visit` must not change the wheel.
  template <class Visit>
  void for_each(Visit&& visit) {
    visit_list(unarmed_, visit);
    visit_list(firing_, visit);
    // Only the slots that may hold nodes (the bitmap next_wakeup() reads): a loop with a few
    // connections does not look at a thousand empty lists for each broadcast.
    for (std::size_t word = 0; word < slot_count_ / bits_per_word; ++word) {
      for (std::uint64_t bits = occupied_[word]; bits != 0; bits &= bits - 1) {
        visit_list(slots_[word * bits_per_word + static_cast<std::size_t>(std::countr_zero(bits))],
                   visit);
      }
    }
  }

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
  void move_earlier(TimerEntry& node, std::uint64_t expiry) noexcept;
  void insert(TimerEntry& node, std::uint64_t slot_tick) noexcept;
  void process_slot(std::size_t slot, std::size_t& fired);
  // keeps_members: `node` (taken off any list) waits unarmed on unarmed_.
  void keep(TimerEntry& node) noexcept {
    node.set_expiry(0);
    unarmed_.push_back(node.link);
  }
  template <class Visit>
  static void visit_list(ListHead& list, Visit& visit) {
    if (list.empty()) return;
    for (ListLink* at = &list.front(); at != list.end(); at = at->next) visit(TimerEntry::of(*at));
  }

  static constexpr std::size_t bits_per_word = 64;  // slots per word of occupied_

  std::size_t slot_count_;
  const bool keeps_members_;
  // The slot being processed, moved aside (see process_slot()); a member so that for_each()
  // sees its nodes.
  ListHead firing_;
  ListHead unarmed_;  // keeps_members: the members without a deadline
  std::unique_ptr<ListHead[]> slots_;
  // One bit per slot: "may hold nodes". Set on link, cleared when a processed slot is empty;
  // a cancel leaves it set (it only costs one early wakeup), so cancel stays O(1).
  std::unique_ptr<std::uint64_t[]> occupied_;
  std::uint64_t now_ = 0;
};

}  // namespace fastws::net
