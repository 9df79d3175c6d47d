#include "connection/assembly_watch.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "connection/connection.hpp"

namespace fastws::detail {

AssemblyWatch::~AssemblyWatch() {
  // Entries outliving the watch must not unlink from a list that is gone.
  while (!entries_.empty()) entries_.front().unlink();
}

std::chrono::milliseconds AssemblyWatch::sweep_period() const noexcept {
  // Never finer than the loop's timer tick, which is the resolution of every deadline.
  return std::max(timeout_ / 4, loop_.timer_tick());
}

void AssemblyWatch::update(Connection& connection, std::size_t held) {
  const auto [watched, added] = watched_.try_emplace(&connection);
  Entry& entry = watched->second;
  if (added) {
    entry.connection = &connection;
    entry.started = std::chrono::steady_clock::now();
    entries_.push_back(entry.link);
    if (timeout_.count() > 0 && !armed()) loop_.arm_timer(*this, sweep_period());
  }
  const std::size_t charge = held - held % charge_step;
  if (charge <= entry.charged) {
    if (charge < entry.charged) {
      total_.fetch_sub(entry.charged - charge, std::memory_order_relaxed);
      entry.charged = charge;
    }
    return;
  }
  const std::size_t growth = charge - entry.charged;
  entry.charged = charge;
  if (total_.fetch_add(growth, std::memory_order_relaxed) + growth > budget_) {
    close_largest_while_over_budget();
  }
}

void AssemblyWatch::forget(const Connection& connection) noexcept {
  const auto watched = watched_.find(&connection);
  if (watched == watched_.end()) return;
  total_.fetch_sub(watched->second.charged, std::memory_order_relaxed);
  watched_.erase(watched);  // the entry leaves the list
}

void AssemblyWatch::close_largest_while_over_budget() {
  // Each round takes its victim off the list, so this ends at the latest when the loop has
  // nothing left in assembly.
  while (total_.load(std::memory_order_relaxed) > budget_ && !entries_.empty()) {
    Entry* largest = nullptr;
    for (net::ListLink* at = &entries_.front(); at != entries_.end(); at = at->next) {
      Entry& entry = static_cast<Entry&>(Entry::from_link(*at));
      // Among equals the newest message goes: the older ones had longer to get near their end.
      if (largest == nullptr || entry.charged >= largest->charged) largest = &entry;
    }
    if (largest->charged == 0) return;  // what is over the budget is held on other loops
    const Conn victim = largest->connection->handle();
    const bool alone_over_budget = largest->charged > budget_;
    forget(*largest->connection);  // now: the loop's end must not depend on the user's on_error
    if (alone_over_budget) {
      Connection::of(victim).fail_websocket(
          {close_code::message_too_big, "message too big for the server",
           "message in assembly larger than the server's whole budget (max_assembly_bytes)"});
    } else {
      Connection::of(victim).fail_websocket(
          {close_code::try_again_later, "server busy, try again later",
           "largest message in assembly while the server was over max_assembly_bytes"});
    }
  }
}

void AssemblyWatch::on_timer() {
  if (entries_.empty()) return;
  const auto now = std::chrono::steady_clock::now();
  // Handles first, closes after: a close runs on_error, whose code may change the list.
  std::vector<Conn> late;
  for (net::ListLink* at = &entries_.front(); at != entries_.end(); at = at->next) {
    Entry& entry = static_cast<Entry&>(Entry::from_link(*at));
    if (now - entry.started >= timeout_) late.push_back(entry.connection->handle());
  }
  if (!late.empty()) {
    const std::string error = "message not complete within the message timeout (" +
                              std::to_string(timeout_.count()) + " ms)";
    for (const Conn& conn : late) {
      Connection::of(conn).fail_websocket(
          {close_code::policy_violation, "message took too long", error});
    }
  }
  if (!entries_.empty()) loop_.arm_timer(*this, sweep_period());
}

}  // namespace fastws::detail
