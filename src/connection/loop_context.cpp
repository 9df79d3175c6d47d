#include "connection/loop_context.hpp"

#include <algorithm>

#include "connection/connection.hpp"

namespace fastws::detail {

LoopContext::LoopContext(Endpoint& endpoint, std::unique_ptr<net::EventLoop> loop)
    : endpoint_(endpoint),
      loop_(std::move(loop)),
      write_stalls_(*loop_, endpoint.settings.write_timeout),
      assembly_(*loop_, endpoint.assembly_bytes, endpoint.settings.max_assembly_bytes,
                endpoint.settings.message_timeout),
      send_limits_{endpoint.settings.max_buffered_bytes, endpoint.session_config.max_message_size,
                   endpoint.settings.slow_consumer == SlowConsumerPolicy::close},
      // A connection counts its topics in 32 bits (connection.hpp): larger limits mean "all".
      max_topics_per_connection_(static_cast<std::uint32_t>(
          std::min<std::size_t>(endpoint.settings.max_topics_per_connection, UINT32_MAX - 1))) {}

LoopContext::~LoopContext() = default;

void LoopContext::detach() noexcept {
  // Tasks still queued on the stopped loop (the last reference of a finished connection, a
  // mailbox drain) run now, on this thread: nothing else will run them.
  loop_->run_once(std::chrono::milliseconds(0));
  std::vector<OutgoingSend> queued;
  {
    std::lock_guard lock(mailbox_mutex_);
    detached_ = true;
    queued.swap(mailbox_);
  }
  // Released outside the lock: the last reference to a connection may let go of this context.
  hold();
  for (auto& send : queued) {
    if (send.connection != nullptr) send.connection->release();
  }
  queued.clear();
  let_go();  // the hold just above
  let_go();  // the endpoint's
}

void LoopContext::take_cork(Connection& owner) {
  if (cork_owner_ != nullptr) cork_owner_->flush_cork();
  cork_owner_ = &owner;
  loop_->defer_flush(*this);
}

void LoopContext::release_cork(Connection& owner) noexcept {
  if (cork_owner_ == &owner) {
    cork_owner_ = nullptr;
    cork_.clear();
  }
}

void LoopContext::on_flush() {
  if (cork_owner_ != nullptr) cork_owner_->flush_cork();
}

void LoopContext::post_send(OutgoingSend send) {
  bool post_drain = false;
  bool queued = false;
  Connection* const connection = send.connection;
  {
    std::lock_guard lock(mailbox_mutex_);
    if (!detached_) {
      mailbox_.push_back(std::move(send));
      queued = true;
      post_drain = !std::exchange(mailbox_posted_, true);
    }
  }
  // After the server is gone nobody runs the mailbox: the send is dropped here.
  if (!queued && connection != nullptr) connection->release();
  // One drain task per burst: the loop takes the whole mailbox at once.
  if (post_drain) loop_->post([this] { run_mailbox(); });
}

void LoopContext::run_mailbox() {
  {
    std::lock_guard lock(mailbox_mutex_);
    running_.swap(mailbox_);
    mailbox_posted_ = false;
  }
  const std::span<OutgoingSend> sends(running_);
  std::size_t at = 0;
  while (at < sends.size()) {
    OutgoingSend& send = sends[at];
    if (send.kind != OutgoingSend::Kind::broadcast && send.kind != OutgoingSend::Kind::publish) {
      send.connection->run_outgoing(send);
      ++at;
      continue;
    }
    // Consecutive broadcasts (or publishes to one topic) go out connection by connection: each
    // connection's share of the run joins its cork and leaves in one write.
    std::size_t end = at + 1;
    while (end < sends.size() && sends[end].kind == send.kind && sends[end].bytes == send.bytes) {
      ++end;
    }
    deliver_run(sends.subspan(at, end - at));
    at = end;
  }
  for (OutgoingSend& send : sends) {
    if (send.connection != nullptr) send.connection->release();
  }
  running_.clear();
}

void LoopContext::deliver_run(std::span<OutgoingSend> run) {
  // Once shutting down every connection is closing: nothing would be sent.
  if (shutting_down_) return;
  // Handles first: a send may close a connection (slow-consumer policy), which unlinks it and
  // unsubscribes it, changing the lists under our feet.
  std::vector<Conn> targets;
  if (run.front().kind == OutgoingSend::Kind::broadcast) {
    targets = all_connections();
  } else {
    const std::string_view topic(reinterpret_cast<const char*>(run.front().bytes.data()),
                                 run.front().bytes.size());
    const auto* members = topics_.members(topic);
    if (members == nullptr) return;
    targets.reserve(members->size());
    for (const auto& member : *members) targets.push_back(member.subscriber->handle());
  }
  for (const Conn& conn : targets) {
    Connection& connection = Connection::of(conn);
    for (OutgoingSend& send : run) {
      if (&connection != send.connection) connection.send_prepared(*send.prepared);
    }
  }
}

void LoopContext::add_connection(Connection& connection) noexcept {
  connections_.push_back(connection);
  ++connection_count_;
}

void LoopContext::remove_connection(Connection& connection) noexcept {
  if (!connection.linked()) return;
  connection.unlink();
  --connection_count_;
  if (shutting_down_) stop_if_done();
}

void LoopContext::begin_shutdown(std::string_view reason) {
  if (shutting_down_) return;
  shutting_down_ = true;
  close_all(close_code::going_away, reason);
  const auto deadline = endpoint_.settings.close_timeout;
  loop_->arm_timer(*this, deadline.count() > 0 ? deadline : std::chrono::milliseconds(1));
  stop_if_done();
}

void LoopContext::on_timer() {
  // Peers that did not finish the close handshake in time are cut off.
  terminate_all();
  stop_if_done();
}

void LoopContext::stop_if_done() {
  if (connection_count_ == 0) {
    loop_->cancel_timer(*this);
    loop_->stop();
  }
}

std::vector<Conn> LoopContext::all_connections() {
  // Handles, so that closing one (which unlinks it) cannot invalidate the walk.
  std::vector<Conn> all;
  all.reserve(connection_count_);
  net::ListLink* link = connections_.empty() ? nullptr : &connections_.front();
  for (std::size_t i = 0; i < connection_count_; ++i, link = link->next) {
    all.push_back(static_cast<Connection*>(static_cast<LoopListLink*>(link))->handle());
  }
  return all;
}

void LoopContext::close_all(std::uint16_t code, std::string_view reason) {
  for (const Conn& conn : all_connections()) conn.close(code, reason);
}

void LoopContext::terminate_all() {
  for (const Conn& conn : all_connections()) conn.terminate();
}

}  // namespace fastws::detail
