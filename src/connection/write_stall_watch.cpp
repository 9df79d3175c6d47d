#include "connection/write_stall_watch.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "connection/connection.hpp"

namespace fastws::detail {

WriteStallWatch::~WriteStallWatch() {
  // Entries outliving the watch must not unlink from a list that is gone.
  while (!entries_.empty()) entries_.front().unlink();
}

std::chrono::milliseconds WriteStallWatch::sweep_period() const noexcept {
  // A quarter of the timeout: a stall is cut between 1 and 1.25 timeouts after the last byte
  // left. Never finer than the loop's timer tick, which is the resolution of every deadline.
  return std::max(timeout_ / 4, loop_.timer_tick());
}

void WriteStallWatch::watch(Entry& entry, Connection& connection) {
  if (timeout_.count() <= 0) return;
  entry.connection = &connection;
  entry.last_progress = std::chrono::steady_clock::now();
  entry.in_flight = connection.output_in_flight();
  entry.progressed = false;
  entries_.push_back(entry.link);
  if (!armed()) loop_.arm_timer(*this, sweep_period());
}

void WriteStallWatch::on_timer() {
  if (entries_.empty()) return;
  const auto now = std::chrono::steady_clock::now();
  // Handles first, cuts after: a cut runs on_close, whose sends may add or end other backlogs.
  std::vector<Conn> stalled;
  for (net::ListLink* at = &entries_.front(); at != entries_.end(); at = at->next) {
    Entry& entry = static_cast<Entry&>(Entry::from_link(*at));
    const std::size_t in_flight = entry.connection->output_in_flight();
    if (entry.progressed || in_flight < entry.in_flight) {
      entry.progressed = false;
      entry.last_progress = now;
    } else if (now - entry.last_progress >= timeout_) {
      stalled.push_back(entry.connection->handle());
    }
    entry.in_flight = in_flight;
  }
  if (!stalled.empty()) {
    // No close frame: it would wait behind the bytes the peer does not take.
    const std::string error = "write timeout: the peer took none of our bytes for " +
                              std::to_string(timeout_.count()) + " ms";
    for (const Conn& conn : stalled) Connection::of(conn).terminate(close_code::abnormal, error);
  }
  if (!entries_.empty()) loop_.arm_timer(*this, sweep_period());
}

}  // namespace fastws::detail
