#include "net/accept_distributor.hpp"

#include <utility>

namespace fastws::net {

AcceptDistributor::AcceptDistributor(std::vector<AcceptTarget> targets)
    : targets_(std::move(targets)) {}

void AcceptDistributor::on_accept(UniqueFd connection, const SocketAddress& peer) {
  const AcceptTarget target = targets_[next_];
  next_ = (next_ + 1) % targets_.size();
  if (target.loop->is_in_loop_thread()) {
    target.handler->on_accept(std::move(connection), peer);
    return;
  }
  // The task owns the descriptor: if the target loop is destroyed before running it, the
  // connection is closed rather than leaked.
  target.loop->post([handler = target.handler, fd = std::move(connection), peer]() mutable {
    handler->on_accept(std::move(fd), peer);
  });
}

}  // namespace fastws::net
