// Cuts connections whose peer takes none of our bytes for ServerOptions::write_timeout.
//
// A peer that never reads but keeps sending (pings, say) is never idle, and under the default
// slow-consumer policy (drop) its sends are only dropped: without a write deadline it would hold
// its socket and its backlog forever (ANCHORS, hostile input 13).
//
// Only connections with a backlog are watched: the kernel refused bytes, so its send buffer is
// full. A sweep every quarter of the timeout looks at each of them: the peer read something if
// bytes left the backlog since the last sweep, or if the output in flight (backlog and the
// kernel's unacknowledged bytes) shrank; either restarts its clock, and neither for a whole
// timeout cuts it. (Backlog writes alone are not enough: the kernel takes more only once a
// third of a send buffer of megabytes is free, which a steady slow reader may need seconds
// for.) Watching costs nothing per idle connection (the entry lives in the backlog) and
// nothing per write but a flag store.
//
// Threading: one per loop, loop thread only.
#pragma once

#include <chrono>
#include <cstddef>

#include "net/event_loop.hpp"
#include "net/intrusive_list.hpp"
#include "net/timer_wheel.hpp"

namespace fastws::detail {

class Connection;

class WriteStallWatch final : private net::TimerNode {
 public:
  // A watched connection's place on the list; it leaves the list when destroyed.
  struct Entry : net::SelfUnlinkingNode<Entry> {
    // Bytes left the backlog: the peer is reading.
    void note_progress() noexcept { progressed = true; }

    Connection* connection = nullptr;
    std::chrono::steady_clock::time_point last_progress;
    std::size_t in_flight = 0;  // the connection's output in flight at the last look
    bool progressed = false;
  };

  // A zero `timeout` watches nothing.
  WriteStallWatch(net::EventLoop& loop, std::chrono::milliseconds timeout) noexcept
      : loop_(loop), timeout_(timeout) {}
  ~WriteStallWatch() override;

  // `connection` began to wait for its peer (its backlog, which holds `entry`, exists now).
  void watch(Entry& entry, Connection& connection);

 private:
  void on_timer() override;
  std::chrono::milliseconds sweep_period() const noexcept;

  net::EventLoop& loop_;
  const std::chrono::milliseconds timeout_;
  net::ListHead entries_;
};

}  // namespace fastws::detail
