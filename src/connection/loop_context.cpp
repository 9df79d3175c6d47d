#include "connection/loop_context.hpp"

#include <algorithm>

#include "connection/connection.hpp"
#include "connection/prepared_message.hpp"

namespace fastws::detail {

void DetachLoop::operator()(LoopContext* loop) const noexcept {
  loop->detach();
}

LoopContext::LoopContext(Endpoint& endpoint, std::shared_ptr<net::EventLoop> loop)
    : LoopContext(endpoint, std::move(loop), nullptr) {}

LoopContext::LoopContext(Endpoint& endpoint, LoopContext& host)
    : LoopContext(endpoint, host.loop_, &host) {
  host.hold();
  bool host_shutting_down;
  {
    std::lock_guard lock(host.guests_mutex_);
    host.guests_.push_back(this);
    host_shutting_down = host.guests_shut_down_;
  }
  if (host_shutting_down) {
    hold();
    loop_->post([this] {
      if (!gone()) begin_shutdown("server shutting down");
      let_go();
    });
  }
}

LoopContext::LoopContext(Endpoint& endpoint, std::shared_ptr<net::EventLoop> loop,
                         LoopContext* host)
    : endpoint_(endpoint),
      loop_(std::move(loop)),
      host_(host),
      write_stalls_(*loop_, endpoint.settings.write_timeout),
      assembly_(*loop_, endpoint.assembly_bytes, endpoint.settings.max_assembly_bytes,
                endpoint.settings.message_timeout),
      send_limits_{endpoint.settings.max_buffered_bytes, endpoint.session_config.max_message_size,
                   endpoint.settings.slow_consumer == SlowConsumerPolicy::close,
                   loop_->read_buffer().size()},
      // A connection counts its topics in 32 bits (connection.hpp): larger limits mean "all".
      max_topics_per_connection_(static_cast<std::uint32_t>(
          std::min<std::size_t>(endpoint.settings.max_topics_per_connection, UINT32_MAX - 1))) {}

LoopContext::~LoopContext() {
  if (host_ != nullptr) host_->let_go();
}

void LoopContext::detach() noexcept {
  std::vector<OutgoingSend> queued;
  {
    std::lock_guard lock(mailbox_mutex_);
    detached_ = true;
    queued.swap(mailbox_);
  }
  hold();
  if (host_ != nullptr) {
    std::lock_guard lock(host_->guests_mutex_);
    std::erase(host_->guests_, this);
  }
  // The loop is its host's to run: what is queued for this context runs there and finds it
  // gone. Once the host is gone too (or for the host itself, called after its loop stopped),
  // tasks still queued on the stopped loop (the last reference of a finished connection, a
  // mailbox drain, a guest's task, which finds itself gone) run now, on this thread: nothing
  // else will run them. Not as an iteration: on io_uring this thread would enter the ring.
  if (host_ == nullptr || host_->gone()) loop_->run_leftovers();
  // Released outside the lock: the last reference to a connection may let go of this context.
  for (auto& send : queued) {
    if (send.connection != nullptr) send.connection->release();
  }
  queued.clear();
  let_go();  // the hold just above
  let_go();  // the endpoint's
}

bool LoopContext::gone() const noexcept {
  {
    std::lock_guard lock(mailbox_mutex_);
    if (detached_) return true;
  }
  return host_ != nullptr && host_->gone();
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
      // The drain task holds the context: detach() may come before it runs.
      if (post_drain) hold();
    }
  }
  // After the endpoint is gone nobody runs the mailbox: the send is dropped here.
  if (!queued && connection != nullptr) connection->release();
  // One drain task per burst: the loop takes the whole mailbox at once.
  if (post_drain) {
    loop_->post([this] {
      run_mailbox();
      let_go();
    });
  }
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
    // connection's share of the run joins its cork (by reference, from one buffer for the whole
    // run: PreparedRun) and leaves in one write.
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
  const PreparedRun frames(run);
  for (const Conn& conn : targets) {
    Connection& connection = Connection::of(conn);
    // The run's messages but those this connection sent itself, stretch by stretch.
    for (std::size_t first = 0; first < run.size();) {
      if (run[first].connection == &connection) {
        ++first;
        continue;
      }
      std::size_t end = first + 1;
      while (end < run.size() && run[end].connection != &connection) ++end;
      connection.send_prepared_stretch(run.subspan(first, end - first), frames, first);
      first = end;
    }
  }
}

void LoopContext::add_connection(Connection& connection) noexcept {
  connection_timers_.add(connection);
  ++connection_count_;
}

void LoopContext::remove_connection(Connection& connection) noexcept {
  if (!static_cast<net::TimerEntry&>(connection).on_wheel()) return;
  connection_timers_.remove(connection);
  --connection_count_;
  if (shutting_down_) stop_if_done();
}

void LoopContext::begin_shutdown(std::string_view reason) {
  if (shutting_down_) return;
  shutting_down_ = true;
  endpoint_.shutting_down(*this);
  close_all(close_code::going_away, reason);
  const auto deadline = endpoint_.settings.close_timeout;
  loop_->arm_timer(*this, deadline.count() > 0 ? deadline : std::chrono::milliseconds(1));
  std::vector<LoopContext*> guests;
  {
    std::lock_guard lock(guests_mutex_);
    guests_shut_down_ = true;
    guests = guests_;
    for (LoopContext* guest : guests) guest->hold();
  }
  // Outside the lock (user callbacks run). A guest's side goes away only once the guest is
  // finished (then this returns at once) or while the loop does not run.
  for (LoopContext* guest : guests) {
    guest->begin_shutdown(reason);
    guest->let_go();
  }
  stop_if_done();
}

void LoopContext::on_timer() {
  // Peers that did not finish the close handshake in time are cut off.
  terminate_all();
  stop_if_done();
}

bool LoopContext::post_unless_finishing(net::Task task) {
  // Posted under the lock: a task admitted before stop_if_done() closes the door is queued
  // before the finishing task that follows, and runs first.
  std::lock_guard lock(mailbox_mutex_);
  if (finishing_tasks_closed_) return false;
  loop_->post(std::move(task));
  return true;
}

void LoopContext::stop_if_done() {
  if (connection_count_ != 0 || finishing_) return;
  {
    std::lock_guard lock(mailbox_mutex_);
    finishing_tasks_closed_ = true;
  }
  if (host_ != nullptr) {
    // A guest's connections are gone, but the endpoint is still in use further up the call
    // chain (on_close of the last one): whoever waits for finished() learns in a later task.
    finishing_ = true;
    loop_->cancel_timer(*this);
    hold();
    loop_->post([this] { finish_as_guest(); });
    return;
  }
  if (!guests_finished()) return;  // the last one tells us
  finishing_ = true;
  loop_->cancel_timer(*this);
  finished_.store(true, std::memory_order_release);
  loop_->stop();
}

void LoopContext::finish_as_guest() {
  finished_.store(true, std::memory_order_release);
  LoopContext& host = *host_;
  if (host.shutting_down_) host.stop_if_done();
  finished_.notify_all();
  let_go();  // the hold of stop_if_done(); the endpoint may be gone from now on
}

bool LoopContext::guests_finished() {
  std::lock_guard lock(guests_mutex_);
  return std::all_of(guests_.begin(), guests_.end(),
                     [](const LoopContext* guest) { return guest->finished(); });
}

std::vector<Conn> LoopContext::all_connections() {
  // Handles, so that closing one (which takes it off the wheel) cannot invalidate the walk.
  std::vector<Conn> all;
  all.reserve(connection_count_);
  connection_timers_.for_each(
      [&all](net::TimerEntry& entry) { all.push_back(static_cast<Connection&>(entry).handle()); });
  return all;
}

void LoopContext::advance_connection_timers() {
  connection_timers_.advance(loop_->timer_now());
  if (const auto next = connection_timers_.next_wakeup()) {
    loop_->arm_timer_at(connection_clock_, *next);
  }
}

void LoopContext::close_all(std::uint16_t code, std::string_view reason) {
  for (const Conn& conn : all_connections()) conn.close(code, reason);
}

void LoopContext::terminate_all() {
  for (const Conn& conn : all_connections()) conn.terminate();
}

}  // namespace fastws::detail
