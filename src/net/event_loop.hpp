// One epoll instance driven by one thread: I/O readiness, cross-thread tasks, timers and
// end-of-batch flushes.
//
// Threading (DESIGN.md "Threading contract"): every connection lives on one loop for its life,
// and everything a loop calls (IoHandler, FlushHandler, TimerNode, posted tasks) runs on the
// loop thread, one at a time. post(), stop(), wakeups() and is_in_loop_thread() may be called
// from any thread; every other method belongs to the loop thread (or to setup before run()).
//
// One iteration of run():
//   1. epoll_wait, sleeping until I/O, a post(), stop() or the next timer tick (not sleeping at
//      all while handlers wait for a revisit);
//   2. on_io() for every ready handler of the batch (posted tasks run here too, when the
//      wakeup eventfd is part of the batch);
//   3. on_io(EPOLLIN) for every handler that asked for a revisit before this iteration, then
//      the tasks the loop's own thread posted (no eventfd round trip for them);
//   4. timers that came due fire;
//   5. every FlushHandler that called defer_flush() during 1-4 flushes, once.
// Step 5 is the cork: all the frames one read brings (and all sends queued by other threads)
// are handled before anything is written, and the replies leave in one write per connection
// (on io_uring, one send request per connection, all submitted with the next io_uring_enter).
// Step 3 is for fairness: a handler takes a bounded amount of its input per turn, and input
// it holds where epoll cannot see it (bytes read but not handled yet, bytes a TLS session
// decrypted) gets it another turn after everyone epoll reports (level-triggered sockets with
// unread bytes are simply reported again).
//
// Costs: a connection costs the loop nothing but its epoll registration and the links embedded
// in it (its TimerEntry). Reads go into the loop's one read_buffer(), so connections
// own no read buffer. After warm-up an iteration allocates nothing and takes no lock unless
// another thread posted.
#pragma once

#include <sys/epoll.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <system_error>
#include <vector>

#include "fastws/io_backend.hpp"
#include "net/intrusive_list.hpp"
#include "net/socket_io.hpp"
#include "net/task.hpp"
#include "net/timer_wheel.hpp"
#include "net/unique_fd.hpp"

namespace fastws::net {

// Something registered for I/O readiness (a connection, a listener). The loop stores the
// pointer in epoll_event.data.ptr: no lookup table, no per-fd allocation.
class IoHandler {
 public:
  // `events`: the epoll bits that are ready (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR).
  virtual void on_io(std::uint32_t events) = 0;

 protected:
  ~IoHandler() = default;
};

// A stream socket whose input the loop receives for it (EventLoop::add_stream) where the backend
// can (io_uring): the bytes come with on_received() instead of EPOLLIN and a read. With epoll it
// is an IoHandler like any other, reading for itself on EPOLLIN.
class StreamHandler : public IoHandler {
 public:
  // `data`: bytes received, in a buffer of the loop's that is reused once this returns. The
  // handler takes them all: handles what it can, copies aside what must wait. This may come
  // after EPOLLIN was taken out of the mask (bytes already on their way).
  virtual void on_received(std::span<std::byte> data) = 0;
  // The input ended: the peer's FIN (no error) or a failure (ECONNRESET, ...).
  virtual void on_receive_end(std::error_code error) = 0;
  // The kernel took every byte send_stream() had taken and not sent at once (io_uring): more can
  // be written now. Apart from on_send_failed(): once per send on io_uring, where an error_code
  // to test would cost a call into libstdc++ (system_category()) each time.
  virtual void on_sent() = 0;
  // The send failed (EPIPE, ECONNRESET, ...): what was pending is lost, as with a send() that
  // fails.
  virtual void on_send_failed(std::error_code error) = 0;

 protected:
  ~StreamHandler() = default;
};

// A stream handler with a deadline of its own (a connection): on_timer() is a virtual of the same
// object as its I/O events, so it carries one vptr instead of a TimerNode's second one (8 bytes
// on every connection). Arm it with arm_timer() like a TimerNode.
class TimedStreamHandler : public StreamHandler, public TimerEntry {
 public:
  TimedStreamHandler() noexcept : TimerEntry(Owner::stream_handler) {}

  // As TimerNode::on_timer().
  virtual void on_timer() = 0;

 protected:
  ~TimedStreamHandler() = default;
};

// A listening socket whose connections the loop accepts for it (EventLoop::add_listener) where
// the backend can (io_uring: one multishot accept, no accept() per connection and no readiness
// report). With epoll it is an IoHandler like any other, accepting for itself on EPOLLIN.
class ListenHandler : public IoHandler {
 public:
  // A connection the loop accepted: non-blocking, close-on-exec, the handler's now.
  virtual void on_accepted(UniqueFd connection) = 0;
  // Accepting failed (EMFILE, ECONNABORTED, ...); it starts again after this returns unless the
  // handler took EPOLLIN out of the mask meanwhile (modify()).
  virtual void on_accept_failed(std::error_code error) = 0;

 protected:
  ~ListenHandler() = default;
};

// Something that wants to write once at the end of the batch (see defer_flush()).
class FlushHandler : private ListNode<FlushHandler> {
 public:
  FlushHandler() noexcept = default;
  FlushHandler(const FlushHandler&) = delete;
  FlushHandler& operator=(const FlushHandler&) = delete;

  bool flush_deferred() const noexcept { return link.linked(); }

  virtual void on_flush() = 0;

 protected:
  // Leaves the flush list, so a handler destroyed with a pending flush is never called.
  // Virtual because the loop, a friend, could otherwise delete through this type.
  virtual ~FlushHandler() {
    if (link.linked()) link.unlink();
  }

 private:
  friend class EventLoop;
};

// A handler's place on the loop's revisit list (EventLoop::revisit()). It leaves the list when
// destroyed.
class Revisit : private ListNode<Revisit> {
 public:
  explicit Revisit(IoHandler& handler) noexcept : handler_(&handler) {}
  Revisit(const Revisit&) = delete;
  Revisit& operator=(const Revisit&) = delete;
  ~Revisit() { cancel(); }

  bool pending() const noexcept { return link.linked(); }
  void cancel() noexcept {
    if (link.linked()) link.unlink();
  }

 private:
  friend class EventLoop;
  IoHandler* handler_;
};

struct EventLoopOptions {
  // The shared read buffer. One read takes at most this much from a socket.
  std::size_t read_buffer_size = 256 * 1024;
  // Timer resolution and wheel size: deadlines up to tick * slots (100 s) cost nothing per tick.
  std::chrono::milliseconds timer_tick{100};
  std::size_t timer_slots = 1024;
  // Events taken from the kernel per epoll_wait.
  std::size_t max_events = 512;
  // epoll, or io_uring where the kernel allows it (automatic: as the environment says).
  IoBackend backend = IoBackend::automatic;
};

class UringPoller;

class EventLoop {
 public:
  // Returns null (and the reason in `error`) when epoll or eventfd cannot be created.
  static std::unique_ptr<EventLoop> create(std::error_code& error,
                                           const EventLoopOptions& options = {});
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs iterations until stop(). A stop() that comes before run() makes it return at once;
  // each stop() ends one run().
  void run();
  // One iteration, waiting at most `max_wait` for something to happen (negative: no limit
  // other than timers). For tests and for embedding the loop into another one.
  void run_once(std::chrono::milliseconds max_wait);
  // Any thread. Makes run() return after the current iteration.
  void stop();
  // After the last run(), on any thread: the tasks still posted run, then the flushes they ask
  // for. Nothing is waited for and, on io_uring, nothing is submitted: the thread stays out of
  // the ring, whose requests end with it (UringPoller::create() says why that matters).
  void run_leftovers();

  // epoll or io_uring (never automatic): what the loop runs on.
  IoBackend backend() const noexcept;

  // --- driven from outside (ExternalLoop): another event loop waits on fd() instead of run() ---
  // Readable while the loop has something to do: I/O, a post(), a stop() (the epoll fd, or the
  // io_uring's, readable while completions wait).
  int fd() const noexcept;
  // Hands the kernel what an iteration or a run_handler() asked of it (io_uring): the driver calls
  // it before it waits on fd() again.
  void submit_pending();
  // Before the first iteration of a loop that will be driven from outside, while it has no
  // connections: an io_uring loop moves to epoll (what it registered, with it), as io_backend.hpp
  // promises. An outside loop waits on fd() before any run_ready(), where io_uring's requests are
  // not submitted yet: it would sleep through its first connection.
  void prepare_for_outside_driver();
  // Takes back a stop() (the one run() would end on): true when one was asked for.
  bool take_stop() noexcept;
  // A handler waits for a revisit, or the loop's own thread posted a task: run again without
  // waiting (neither makes fd() readable).
  bool work_pending_now() const noexcept { return !revisits_.empty() || !own_posted_.empty(); }
  // How long the next run_once() may wait for a timer (negative: no timer is armed).
  std::chrono::milliseconds timer_wait() const noexcept {
    return std::chrono::milliseconds(epoll_timeout(std::chrono::milliseconds(-1)));
  }
  // Runs `handler(context)` as part of this loop (the completion of an outside transport's I/O),
  // then the end-of-batch flushes (step 5 above): whoever drives the loop calls it where it calls
  // run_once(), never at the same time.
  void run_handler(void (*handler)(void*), void* context);
  // Anything of the driver's own, kept with the loop (the driver's per-loop state).
  void set_driver(void* driver) noexcept { driver_ = driver; }
  void* driver() const noexcept { return driver_; }

  // Any thread. Runs `task` on the loop thread later, never inside the call; tasks run in the
  // order they were posted, whichever threads posted them. From another thread the loop is
  // woken only when the queue goes from empty to non-empty, so a burst of posts costs one
  // wakeup. From the loop's own thread (a broadcast made in a message handler) nothing is
  // written to the eventfd: the task runs in this iteration, after the batch's handlers and
  // before its flushes (step 3 above), or behind other threads' tasks already waiting.
  // Tasks still queued when the loop is destroyed are destroyed without running.
  void post(Task task);
  // Any thread. How many eventfd writes post() made (tests prove the coalescing with it).
  std::uint64_t wakeups() const noexcept { return wakeups_.load(std::memory_order_relaxed); }

  // True when called from inside run() / run_once() of this loop. Inline: every send asks.
  bool is_in_loop_thread() const noexcept { return current_ == this; }
  // The loop whose run() the calling thread is inside, or null.
  static EventLoop* current() noexcept { return current_; }

  // Registration. `events` are epoll bits (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLET, ...); the
  // handler must outlive its registration. remove() also drops any event of the current batch
  // still pending for `handler`, so after it the handler may be destroyed at once, even from
  // inside an on_io() of the same batch.
  std::error_code add(int fd, std::uint32_t events, IoHandler& handler);
  std::error_code modify(int fd, std::uint32_t events, IoHandler& handler);
  std::error_code remove(int fd, IoHandler& handler);
  // Registers a stream socket: on io_uring EPOLLIN in `events` (here and in modify()) means
  // "receive for the handler", and taking it away stops receiving (bytes stay in the socket);
  // on epoll the same as add().
  std::error_code add_stream(int fd, std::uint32_t events, StreamHandler& handler);
  // Registers a listening socket: on io_uring EPOLLIN in `events` (here and in modify()) means
  // "accept for the handler" and taking it away stops accepting (connections wait in the kernel's
  // backlog); on epoll the same as add().
  std::error_code add_listener(int fd, std::uint32_t events, ListenHandler& handler);
  // Whether add_stream() sockets get their input through on_received() (io_uring) rather than
  // by reading on EPOLLIN, and add_listener() sockets their connections through on_accepted().
  bool receives_for_streams() const noexcept { return uring_ != nullptr; }
  // Writes to an add_stream() socket. On io_uring the bytes are copied into a send buffer of the
  // loop's and leave with the next iteration's io_uring_enter, all sockets' sends in one system
  // call: as many as fit (fewer is a short write, none would_block; the handler's on_sent() says
  // when more fit); a write bigger than that buffer while nothing is pending goes at once. On
  // epoll: write_vectored(), as for any socket.
  IoResult send_stream(int fd, std::span<const iovec> buffers);
  // Bytes send_stream() took that have not reached the kernel yet (io_uring; else 0).
  std::size_t unsent_stream_bytes(int fd) const noexcept;

  // Scratch space for reads: valid to use inside a callback of this loop, its contents are
  // garbage afterwards. Read, process in place, and keep only what must survive.
  std::span<std::byte> read_buffer() noexcept { return {read_buffer_.get(), read_buffer_size_}; }

  // Asks for handler.on_flush() at the end of this iteration (step 4 above). Calling it again
  // before then does nothing; a handler deferring from inside its own on_flush() runs again in
  // the same step.
  void defer_flush(FlushHandler& handler) noexcept;
  void cancel_flush(FlushHandler& handler) noexcept;

  // Calls the entry's handler with on_io(EPOLLIN) in the next iteration (step 3 above), after
  // the handlers epoll reports then. Asking again before then does nothing; cancel() (or the
  // entry's destruction) takes it back.
  void revisit(Revisit& entry) noexcept;

  // Fires node.on_timer() on this loop no earlier than `delay` from now (measured from the
  // start of the current batch) and at most about one tick later. Re-arming replaces the deadline;
  // pushing it later is a single store.
  void arm_timer(TimerEntry& node, std::chrono::milliseconds delay) noexcept {
    timers_.arm_at(node, tick_after(delay));
  }
  void cancel_timer(TimerEntry& node) noexcept { timers_.cancel(node); }
  std::chrono::milliseconds timer_tick() const noexcept { return tick_; }

  // For a TimerWheel of the caller's own that counts this loop's ticks, driven by a TimerNode
  // armed here (a LoopContext's wheel of connections): the tick arm_timer() would give a
  // deadline `delay` from now, arming at a tick, and the tick the loop's timers reached.
  std::uint64_t tick_after(std::chrono::milliseconds delay) const noexcept {
    // A tick fires once the clock reaches its start; rounding down and adding one tick keeps
    // the deadline from coming early even though elapsed_ is as old as the current batch.
    const auto deadline = elapsed_ + std::max(delay, std::chrono::milliseconds{0});
    return static_cast<std::uint64_t>(deadline / tick_) + 1;
  }
  void arm_timer_at(TimerEntry& node, std::uint64_t tick) noexcept { timers_.arm_at(node, tick); }
  std::uint64_t timer_now() const noexcept { return timers_.now(); }

 private:
  // The loop whose iteration the calling thread is running. Initial-exec: every send asks it
  // (is_in_loop_thread), and in position-independent code the default model is a call sequence
  // around which the compiler saves registers. 8 bytes of static TLS, which glibc reserves even
  // for a shared library loaded with dlopen.
  [[gnu::tls_model("initial-exec")]] static inline thread_local EventLoop* current_ = nullptr;
  class Waker;

  EventLoop(const EventLoopOptions& options, UniqueFd epoll_fd, UniqueFd wake_fd,
            std::unique_ptr<UringPoller> uring);
  int epoll_timeout(std::chrono::milliseconds max_wait) const noexcept;
  void update_clock() noexcept;
  void run_posted_tasks();
  void run_own_tasks();
  void run_deferred_flushes();
  void run_revisits();
  void wake() noexcept;

  UniqueFd epoll_fd_;  // invalid on io_uring
  std::unique_ptr<UringPoller> uring_;
  UniqueFd wake_fd_;
  std::unique_ptr<Waker> waker_;

  // The current batch, so remove() can drop events for a handler that is gone.
  std::unique_ptr<epoll_event[]> events_;
  std::size_t max_events_;
  std::size_t batch_size_ = 0;
  std::size_t batch_next_ = 0;

  std::unique_ptr<std::byte[]> read_buffer_;
  std::size_t read_buffer_size_;

  ListHead flushes_;
  ListHead revisits_;  // asked for during this iteration: they run in the next one
  ListHead due_;       // asked for before this iteration: they run in this one

  TimerWheel timers_;
  std::chrono::milliseconds tick_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::milliseconds elapsed_{0};  // since start_, read once per iteration

  std::mutex posted_mutex_;
  std::vector<Task> posted_;       // guarded by posted_mutex_
  std::vector<Task> running_;      // loop thread only; swapped with posted_ to run outside the lock
  std::vector<Task> own_posted_;   // loop thread only: posted by the loop thread itself
  std::vector<Task> own_running_;  // loop thread only; swapped with own_posted_
  std::atomic<std::uint64_t> wakeups_{0};
  std::atomic<bool> stop_requested_{false};
  void* driver_ = nullptr;
};

}  // namespace fastws::net
