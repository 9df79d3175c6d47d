// Bounds the messages that the connections of one loop hold in assembly: received in part, in a
// reassembly buffer or, compressed, as inflated output (protocol::Session::message_memory()).
//
// Memory: what they hold counts against ServerOptions::max_assembly_bytes, one total for the
// whole server (an atomic the loops share). A connection's charge moves in steps of
// `charge_step`, so a message that grows by a few bytes per read rarely touches the shared
// counter. When a charge takes the total over the budget, the connection of this loop with the
// largest message in assembly is closed, then the next largest while the total is still over.
// Not the one whose growth hit the budget: a newcomer with a small message must not pay for the
// peers that hold the budget. The victim gets 1013 "try again later" (the server is full), or
// 1009 when its message alone holds more than the whole budget (trying again cannot help).
//
// Across loops the choice is approximate: the largest on the loop that saw the total go over,
// not the largest of the server. That loop is where memory is growing right now, and it can
// act at once, without cross-thread messages or locks, and without waiting for a busy loop
// while its own peers keep inflating. Connections are spread over the loops by the kernel
// (SO_REUSEPORT) or round-robin, so peers that fill the budget have connections on every loop
// and each loop sheds its own. The price: a loop whose largest message is modest may close it
// (1013) while another loop's peers hold most of the budget.
//
// Time: a message must be complete within ServerOptions::message_timeout of the read that
// began it; later fragments do not extend it. A sweep every quarter of the timeout closes
// (1008) the connections whose message is older: between 1 and 1.25 timeouts.
//
// Only connections with a message in assembly after a read are watched: nothing per idle
// connection, nothing for messages that arrive whole in one read (the common case). The watch
// keeps their entries itself, found by connection, so that a connection holds no pointer for it.
//
// Threading: one per loop, loop thread only (the shared total is atomic).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <unordered_map>

#include "net/event_loop.hpp"
#include "net/intrusive_list.hpp"
#include "net/timer_wheel.hpp"

namespace fastws::detail {

class Connection;

class AssemblyWatch final : private net::TimerNode {
 public:
  // A connection's charge moves in steps of this size: less than one step per connection goes
  // uncounted, which is in the class of what every connection costs anyway (socket buffers,
  // zlib's inflate state).
  static constexpr std::size_t charge_step = 16 * 1024;

  // `total` is the server's count, shared by every loop's watch. A zero `timeout` times nothing.
  AssemblyWatch(net::EventLoop& loop, std::atomic<std::size_t>& total, std::size_t budget,
                std::chrono::milliseconds timeout) noexcept
      : loop_(loop), total_(total), budget_(budget), timeout_(timeout) {}
  ~AssemblyWatch() override;

  // After a turn, `connection` has a message in assembly holding `held` bytes: its clock starts
  // if the message is new, and its charge follows `held`. Over the budget, connections of this
  // loop are closed, the largest first (maybe `connection`).
  void update(Connection& connection, std::size_t held);
  // The message is complete, or the connection is closing: off the watch, its charge returned
  // (nothing when it is not watched). A connection must be forgotten before it is destroyed.
  void forget(const Connection& connection) noexcept;

 private:
  // A watched connection's place on the list; it leaves the list when destroyed.
  struct Entry : net::SelfUnlinkingNode<Entry> {
    Connection* connection = nullptr;
    std::chrono::steady_clock::time_point started;  // the read that began the message
    std::size_t charged = 0;                        // counted in the server's total
  };

  void on_timer() override;
  std::chrono::milliseconds sweep_period() const noexcept;
  void close_largest_while_over_budget();

  net::EventLoop& loop_;
  std::atomic<std::size_t>& total_;
  const std::size_t budget_;
  const std::chrono::milliseconds timeout_;
  net::ListHead entries_;  // oldest message first
  // Owns the entries on entries_ (unordered_map nodes stay where they are).
  std::unordered_map<const Connection*, Entry> watched_;
};

}  // namespace fastws::detail
