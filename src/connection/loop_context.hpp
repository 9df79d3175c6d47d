// One endpoint's state on one event loop: the loop itself, the cork buffer, the mailbox for sends
// from other threads, the list of connections, topics, and counters. Accepting (a server) and
// dialing (a client) happen above this layer; both hand their sockets to connections here.
//
// Several endpoints may share a loop: a client made on a server's loops has a context of its own
// on each of them, a guest of the server's context there (its host). The host's side runs the
// loop and ends it: its shutdown shuts its guests down too, and the loop stops once every
// context on it is done.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "connection/assembly_watch.hpp"
#include "connection/cork_buffer.hpp"
#include "connection/endpoint.hpp"
#include "connection/outgoing_send.hpp"
#include "connection/send_limits.hpp"
#include "connection/topic_registry.hpp"
#include "connection/write_stall_watch.hpp"
#include "fastws/request.hpp"
#include "net/event_loop.hpp"
#include "net/intrusive_list.hpp"
#include "net/timer_wheel.hpp"

namespace fastws::detail {

class Connection;

// Counters written by the loop thread only and read by stats() from any thread: relaxed
// load+store instead of locked increments, since there is a single writer.
struct LoopStats {
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> messages_in{0};
  std::atomic<std::uint64_t> messages_out{0};
  std::atomic<std::uint64_t> bytes_in{0};
  std::atomic<std::uint64_t> bytes_out{0};
  std::atomic<std::uint64_t> dropped_sends{0};  // also written by other threads: fetch_add
  std::atomic<std::uint64_t> backpressured{0};

  static void bump(std::atomic<std::uint64_t>& counter, std::uint64_t by = 1) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
};

class LoopContext final : private net::FlushHandler, private net::TimerNode {
 public:
  // The context of the side that runs `loop`.
  LoopContext(Endpoint& endpoint, std::shared_ptr<net::EventLoop> loop);
  // A guest on the loop of `host` (its side runs the loop). If the host is shutting down
  // already, so does the guest.
  LoopContext(Endpoint& endpoint, LoopContext& host);

  // Lifetime: the endpoint and every connection of this loop hold the context (and a guest its
  // host), so a Conn handle kept by the user after the endpoint is gone still points at a live
  // (if idle) context. The endpoint lets go with detach(); the last holder deletes the context.
  void hold() noexcept { holders_.fetch_add(1, std::memory_order_relaxed); }
  void let_go() noexcept {
    if (holders_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  // The endpoint is going away: from now on sends posted here are dropped, and what is queued is
  // released. Then the endpoint's hold is let go. Call once the context is finished() or its
  // loop does not run: a guest leaves its host; a host (or a guest whose host is gone) runs
  // what is still queued on its stopped loop on the calling thread.
  void detach() noexcept;
  // The endpoint, or its host's, went away (detach()): nothing more may start here, and tasks
  // posted here before must not touch the endpoint. Any thread.
  bool gone() const noexcept;

  // Posts `task` to the loop unless this context's shutdown is over (its finishing task is
  // queued or ran): a task admitted here runs before the context is finished(), so none is left
  // on a loop that ended. False, without posting, otherwise. Any thread.
  bool post_unless_finishing(net::Task task);

  // The limits a user thread checks before queueing a send (copied: readable without the endpoint).
  const SendLimits& send_limits() const noexcept { return send_limits_; }
  std::uint32_t max_topics_per_connection() const noexcept { return max_topics_per_connection_; }

  // Closes every connection with 1001 and `reason` (and a host's guests'), cuts those that have
  // not finished closing after the close timeout; then the context is finished, and the host
  // ends the loop once its guests are finished too (loop thread; once).
  void begin_shutdown(std::string_view reason);
  bool shutting_down() const noexcept { return shutting_down_; }
  // The shutdown is over: no connection is left, and the loop thread is done with the endpoint.
  // Any thread; wait_finished() blocks until then.
  bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }
  void wait_finished() const noexcept { finished_.wait(false, std::memory_order_acquire); }

  net::EventLoop& loop() noexcept { return *loop_; }
  Endpoint& endpoint() noexcept { return endpoint_; }
  bool in_loop_thread() const noexcept { return loop_->is_in_loop_thread(); }
  LoopStats& stats() noexcept { return stats_; }
  const LoopStats& stats() const noexcept { return stats_; }

  // --- cork: one buffer per loop, owned by the connection written last ---
  // Bytes for `owner` go here until the owner changes or the batch ends; then they leave in
  // one write. Returns the buffer after making `owner` its owner (flushing another owner).
  CorkBuffer& cork_for(Connection& owner) {
    if (cork_owner_ != &owner) take_cork(owner);
    return cork_;
  }
  Connection* cork_owner() const noexcept { return cork_owner_; }
  CorkBuffer& cork() noexcept { return cork_; }
  void release_cork(Connection& owner) noexcept;

  // --- mailbox: sends from other threads (any thread) ---
  void post_send(OutgoingSend send);

  // --- topics: per loop, so subscribing and publishing need no lock ---
  TopicRegistry<Connection>& topics() noexcept { return topics_; }
  // Broadcasts to every open connection of this loop, or publishes to the members of one topic,
  // except each send's `connection`.
  void deliver_run(std::span<OutgoingSend> run);

  // --- connections whose peer stopped taking our bytes ---
  WriteStallWatch& write_stalls() noexcept { return write_stalls_; }
  // --- connections with a message in assembly (the server's budget, the message timeout) ---
  AssemblyWatch& assembly() noexcept { return assembly_; }

  // --- connections of this loop, and their deadlines (handshake, idle, ping, close) ---
  // They are the members of a timer wheel of this context's own, whose clock is a TimerNode on
  // the loop, armed for the earliest deadline: one link per connection serves as its place in the
  // set and its deadline (16 bytes less per connection than a list beside the loop's wheel).
  void add_connection(Connection& connection) noexcept;
  void remove_connection(Connection& connection) noexcept;
  // As EventLoop::arm_timer() for a connection (added). Inline: every read pushes a deadline
  // later, which is one store here and nothing for the clock.
  void arm_connection_timer(net::TimerEntry& connection, std::chrono::milliseconds delay) noexcept {
    connection_timers_.arm_at(connection, loop_->tick_after(delay));
    if (!connection_clock_.armed() || connection_clock_.expiry() > connection.expiry()) {
      loop_->arm_timer_at(connection_clock_, connection.expiry());
    }
  }
  void cancel_connection_timer(net::TimerEntry& connection) noexcept {
    connection_timers_.cancel(connection);
  }
  std::size_t connection_count() const noexcept { return connection_count_; }
  // Handles to them all (closing one while walking the list is safe).
  std::vector<Conn> all_connections();
  // Starts the graceful close of every connection (on the loop thread).
  void close_all(std::uint16_t code, std::string_view reason);
  void terminate_all();

  // --- the request being upgraded, visible through Conn::request() during the callbacks ---
  void set_current_request(const Connection* owner, const Request* request) noexcept {
    request_owner_ = owner;
    current_request_ = request;
  }
  const Request* request_of(const Connection& connection) const noexcept {
    return request_owner_ == &connection ? current_request_ : nullptr;
  }

 private:
  // Fires the connections' deadlines that came due.
  class ConnectionClock final : public net::TimerNode {
   public:
    explicit ConnectionClock(LoopContext& context) noexcept : context_(context) {}

   private:
    void on_timer() override { context_.advance_connection_timers(); }

    LoopContext& context_;
  };

  void on_flush() override;
  void on_timer() override;  // the shutdown deadline
  void advance_connection_timers();
  void stop_if_done();
  // A guest's shutdown is over (a task after the iteration that closed its last connection).
  void finish_as_guest();
  bool guests_finished();
  void run_mailbox();

  LoopContext(Endpoint& endpoint, std::shared_ptr<net::EventLoop> loop, LoopContext* host);
  ~LoopContext();  // through let_go() only

  Endpoint& endpoint_;  // valid while the endpoint holds the context
  std::shared_ptr<net::EventLoop> loop_;
  LoopContext* const host_ = nullptr;  // a guest's, held until the guest is deleted
  WriteStallWatch write_stalls_;       // after loop_: its timer leaves the loop's wheel first
  AssemblyWatch assembly_;             // likewise
  std::atomic<std::size_t> holders_{1};
  const SendLimits send_limits_;
  const std::uint32_t max_topics_per_connection_;
  LoopStats stats_;

  void take_cork(Connection& owner);

  CorkBuffer cork_;
  Connection* cork_owner_ = nullptr;

  mutable std::mutex mailbox_mutex_;
  std::vector<OutgoingSend> mailbox_;    // guarded by mailbox_mutex_
  bool mailbox_posted_ = false;          // guarded by mailbox_mutex_: a drain task is queued
  bool detached_ = false;                // guarded by mailbox_mutex_: the endpoint is gone
  bool finishing_tasks_closed_ = false;  // guarded by mailbox_mutex_: post_unless_finishing
                                         // refuses
  std::vector<OutgoingSend> running_;    // loop thread only

  net::TimerWheel connection_timers_{1024, /*keeps_members=*/true};
  ConnectionClock connection_clock_{*this};
  std::size_t connection_count_ = 0;

  TopicRegistry<Connection> topics_;

  bool shutting_down_ = false;
  bool finishing_ = false;  // loop thread: the shutdown is over, finished_ follows
  std::atomic<bool> finished_{false};

  // A host's guests, read by its loop thread and changed by the guests' sides (any thread).
  std::mutex guests_mutex_;
  std::vector<LoopContext*> guests_;  // guarded by guests_mutex_
  bool guests_shut_down_ = false;     // guarded by guests_mutex_: begin_shutdown reached them

  const Connection* request_owner_ = nullptr;
  const Request* current_request_ = nullptr;
};

// Makes `request` visible through Conn::request() for the callbacks run while it lives, and
// hides it again however they end (an exception included).
class RequestScope {
 public:
  RequestScope(LoopContext& loop, const Connection& owner, const Request& request) noexcept
      : loop_(loop) {
    loop_.set_current_request(&owner, &request);
  }
  ~RequestScope() { loop_.set_current_request(nullptr, nullptr); }
  RequestScope(const RequestScope&) = delete;
  RequestScope& operator=(const RequestScope&) = delete;

 private:
  LoopContext& loop_;
};

}  // namespace fastws::detail
