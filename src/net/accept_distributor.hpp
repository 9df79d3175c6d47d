// Hands the connections of one listener to several event loops, round-robin.
//
// For listeners that cannot be one-per-loop: Unix sockets (SO_REUSEPORT does not balance them)
// and a single adopted socket. Each connection is passed to the target loop with post() and
// reaches that loop's AcceptHandler on that loop's thread, so the connection lives on its loop
// from the first callback on. A target on the listener's own thread is called directly.
//
// Accept errors are reported on the listener's thread through on_accept_error(): derive from
// AcceptDistributor to observe them.
#pragma once

#include <cstddef>
#include <vector>

#include "net/event_loop.hpp"
#include "net/listener.hpp"

namespace fastws::net {

struct AcceptTarget {
  EventLoop* loop;
  AcceptHandler* handler;  // called on `loop`'s thread
};

class AcceptDistributor : public AcceptHandler {
 public:
  // `targets` must not be empty; loops and handlers must outlive the distributor and any
  // connection it posted.
  explicit AcceptDistributor(std::vector<AcceptTarget> targets);
  virtual ~AcceptDistributor() = default;

  void on_accept(UniqueFd connection, const SocketAddress& peer) override;

 private:
  std::vector<AcceptTarget> targets_;
  std::size_t next_ = 0;
};

}  // namespace fastws::net
