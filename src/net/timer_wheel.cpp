#include "net/timer_wheel.hpp"

#include <algorithm>
#include <bit>

#include "net/event_loop.hpp"

namespace fastws::net {

TimerEntry::~TimerEntry() {
  if (on_wheel()) link.unlink();
}

void TimerEntry::fire() {
  if ((expiry_and_owner_ & stream_handler_bit) != 0) {
    static_cast<TimedStreamHandler&>(*this).on_timer();
  } else {
    static_cast<TimerNode&>(*this).on_timer();
  }
}

TimerWheel::TimerWheel(std::size_t slot_count, bool keeps_members)
    // At least one bitmap word, so next_wakeup() scans whole words.
    : slot_count_(std::bit_ceil(std::max(slot_count, bits_per_word))),
      keeps_members_(keeps_members),
      slots_(std::make_unique<ListHead[]>(slot_count_)),
      occupied_(std::make_unique<std::uint64_t[]>(slot_count_ / bits_per_word)) {}

TimerWheel::~TimerWheel() {
  for (std::size_t slot = 0; slot < slot_count_; ++slot) {
    while (!slots_[slot].empty()) slots_[slot].front().unlink();
  }
  while (!unarmed_.empty()) unarmed_.front().unlink();
}

void TimerWheel::insert(TimerEntry& node, std::uint64_t slot_tick) noexcept {
  const std::size_t slot = slot_of(slot_tick);
  slots_[slot].push_back(node.link);
  occupied_[slot / bits_per_word] |= std::uint64_t{1} << (slot % bits_per_word);
}

void TimerWheel::move_earlier(TimerEntry& node, std::uint64_t expiry) noexcept {
  if (node.on_wheel()) node.link.unlink();
  node.set_expiry(expiry);
  insert(node, expiry);
}

void TimerWheel::cancel(TimerEntry& node) noexcept {
  if (!node.armed()) return;
  node.link.unlink();
  if (keeps_members_) keep(node);
}

std::size_t TimerWheel::advance(std::uint64_t tick) {
  if (tick <= now_) return 0;
  const std::uint64_t from = now_;
  // Time moves first: a callback arming a node now lands after `tick`, never in a slot this
  // call already passed (where it would wait a whole turn).
  now_ = tick;
  const std::uint64_t steps = std::min<std::uint64_t>(tick - from, slot_count_);
  std::size_t fired = 0;
  for (std::uint64_t step = 1; step <= steps; ++step) {
    const std::size_t slot = slot_of(from + step);
    if ((occupied_[slot / bits_per_word] >> (slot % bits_per_word)) & 1U) {
      process_slot(slot, fired);
    }
  }
  return fired;
}

void TimerWheel::process_slot(std::size_t slot, std::size_t& fired) {
  // Move the whole list aside first: nodes that must wait another turn go back into the (now
  // empty) slot without being seen twice, and callbacks may cancel, re-arm or destroy any node
  // still waiting in firing_, since each node is taken off before its callback runs.
  firing_.splice(slots_[slot]);
  while (!firing_.empty()) {
    TimerEntry& node = TimerEntry::of(firing_.front());
    node.link.unlink();
    if (node.expiry() <= now_) {
      ++fired;
      if (keeps_members_) keep(node);
      node.fire();
    } else {
      insert(node, node.expiry());
    }
  }
  if (slots_[slot].empty()) {
    occupied_[slot / bits_per_word] &= ~(std::uint64_t{1} << (slot % bits_per_word));
  }
}

std::optional<std::uint64_t> TimerWheel::next_wakeup() const noexcept {
  const std::size_t start = slot_of(now_ + 1);
  const std::size_t words = slot_count_ / bits_per_word;
  std::size_t index = start / bits_per_word;
  std::uint64_t word = occupied_[index] & (~std::uint64_t{0} << (start % bits_per_word));
  // words + 1 looks: the last one revisits the starting word for the slots before `start`.
  for (std::size_t look = 0; look <= words; ++look) {
    if (word != 0) {
      const std::size_t slot =
          index * bits_per_word + static_cast<std::size_t>(std::countr_zero(word));
      const std::size_t distance = (slot - start) & (slot_count_ - 1);
      return now_ + 1 + distance;
    }
    index = (index + 1) % words;
    word = occupied_[index];
  }
  return std::nullopt;
}

}  // namespace fastws::net
