// The io_uring side of an EventLoop (IoBackend::io_uring): what epoll_wait and epoll_ctl do for
// the epoll backend, and, for stream sockets, the reads themselves.
//
// Two kinds of registration:
// - Readiness (EventLoop::add): a poll request per handler, one-shot and armed again after each
//   report, so a socket with bytes left is reported again, as level-triggered epoll does. An
//   EPOLLET registration gets a multishot poll instead, reporting each new event once, as
//   edge-triggered epoll does.
// - Stream (EventLoop::add_stream): a multishot receive into the loop's provided buffers, so bytes
//   arrive with their completion and no read() is made; EPOLLIN in the mask arms it, and taking
//   EPOLLIN away cancels it (bytes then stay in the socket). EPOLLOUT is a poll, as above.
//   Each dispatch() hands a stream at most one turn of bytes (UringOptions::turn_bytes); what it
//   received beyond that is held, in its buffers, for the next dispatch, and while a whole turn is
//   held its receive is cancelled (armed again once the held bytes are handed over): a flooding
//   peer neither holds up the other streams nor takes every provided buffer.
// - Listener (EventLoop::add_listener): a multishot accept, armed and cancelled by EPOLLIN as a
//   stream's receive is; each connection comes with its own completion.
//   Its output goes through send(): the bytes are copied into a send buffer (send_buffer_pool.hpp)
//   and leave with an IORING_OP_SEND, at most one in flight per socket; bytes written meanwhile
//   join the buffer behind those in flight, which stay untouched until their completion. Once the
//   kernel has taken them all, the handler's on_sent() says so; while any are pending EPOLLOUT is
//   not polled for (on_sent() is the moment more can be written).
//
// One io_uring_enter per iteration submits every request the iteration made and waits for the
// next completions. Registrations are found by fd (a vector indexed by it); a removed one lives
// until its last request completed, with its handler forgotten, so a completion for a handler
// that is gone is dropped, even in the middle of a batch.
//
// Threading: the loop thread (and setup before run()). Only the thread that runs the loop enters
// the ring (see create() and submit()).
#pragma once

#include <liburing.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <system_error>
#include <thread>
#include <vector>

#include "net/send_buffer_pool.hpp"
#include "net/socket_io.hpp"

namespace fastws::net {

class IoHandler;
class ListenHandler;
class StreamHandler;

struct UringOptions {
  std::size_t queue_entries = 1024;
  // Provided buffers for stream receives: one completion fills at most one buffer.
  std::size_t buffer_count = 256;  // a power of two
  std::size_t buffer_size = 16 * 1024;
  // A stream's turn: the bytes one dispatch() hands it at most (whole buffers, at least one), as
  // one read takes at most EventLoopOptions::read_buffer_size on epoll. What a busy stream
  // received beyond it waits for the next dispatch, behind the other streams' turns.
  std::size_t turn_bytes = 256 * 1024;
  // Stream output: a socket with bytes pending has one send buffer, of the smallest class that
  // holds what it writes while none is pending; bytes written meanwhile join it while it has room.
  // A write bigger than the largest class while nothing is pending goes at once with send(), as
  // on epoll. Each class keeps up to `kept` buffers given back (more are freed): after a burst of
  // concurrent sends, at most 128 KiB per class stays allocated. The small classes keep many: a
  // ping-pong server has a send pending on every busy connection at once, and allocating and
  // freeing a buffer for each cost about 500 instructions per echoed message in malloc with
  // 16 KiB buffers, and still about 300 with 64 kept 2 KiB ones (callgrind, 100 connections).
  std::array<SendBufferPool::SizeClass, 3> send_buffer_classes{
      {{.capacity = 512, .kept = 256},
       {.capacity = 2 * 1024, .kept = 64},
       {.capacity = 16 * 1024, .kept = 8}}};
};

class UringPoller {
 public:
  // Null (and the reason in `error`) when the kernel refuses io_uring (missing, disabled by
  // kernel.io_uring_disabled or a seccomp filter) or its multishot receive. The calling thread
  // stays out of the ring: it is made on a thread of its own.
  static std::unique_ptr<UringPoller> create(std::error_code& error, const UringOptions& options);
  ~UringPoller();
  UringPoller(const UringPoller&) = delete;
  UringPoller& operator=(const UringPoller&) = delete;

  int fd() const noexcept { return ring_.ring_fd; }

  // Every fd registered now, with its epoll bits and handler: for a backend taking over.
  struct Registered {
    int fd;
    std::uint32_t events;
    IoHandler* handler;
  };
  std::vector<Registered> registered() const;

  std::error_code add(int fd, std::uint32_t events, IoHandler& handler);
  std::error_code add_stream(int fd, std::uint32_t events, StreamHandler& handler);
  std::error_code add_listener(int fd, std::uint32_t events, ListenHandler& handler);
  std::error_code modify(int fd, std::uint32_t events);
  std::error_code remove(int fd);

  // Writes to a stream socket (add_stream): as much as fits its send buffer, sent with the next
  // submit; fewer bytes than offered is a short write, none would_block. Not a stream, or a write
  // too big for the buffer while nothing is pending: write_vectored() at once.
  IoResult send(int fd, std::span<const iovec> buffers);
  // Bytes send() took that the kernel has not (yet).
  std::size_t unsent(int fd) const noexcept;

  // Submits every queued request (a loop driven from outside, before its driver waits), unless
  // another thread ran the loop: then they wait for its next iteration (or go with the ring).
  void submit();
  // Submits every queued request and waits up to `timeout_ms` (negative: no limit, 0: not at
  // all) for a completion. The calling thread runs the loop from now on.
  void submit_and_wait(int timeout_ms);
  // Hands every completion present to its handler (a stream's bytes up to its turn).
  void dispatch();
  // Whether a stream's received bytes wait for its next turn (the next dispatch()).
  bool holds_input() const noexcept { return !held_.empty(); }

 private:
  struct Registration;
  enum class Op : std::uint64_t { poll = 0, receive = 1, control = 2, send = 3 };
  enum class Kind : std::uint8_t { readiness, stream, listener };

  explicit UringPoller(const UringOptions& options);
  std::error_code set_up(const UringOptions& options);
  std::error_code register_fd(int fd, std::uint32_t events, IoHandler& handler,
                              Kind kind = Kind::readiness);
  Registration* find(int fd) const noexcept;
  static std::uint64_t user_data(Registration& registration, Op op) noexcept;
  // Brings the requests in flight in line with what the registration wants.
  void sync(Registration& registration);
  io_uring_sqe* next_sqe();
  void prepare(io_uring_sqe* sqe, Registration& registration, Op op);
  void arm_poll(Registration& registration, std::uint32_t mask);
  // The multishot request that brings a stream's bytes or a listener's connections.
  void arm_receive(Registration& registration);
  void cancel(Registration& registration, Op op);
  void complete(std::uint64_t user_data, int result, std::uint32_t flags);
  void complete_poll(Registration& registration, int result, std::uint32_t flags);
  void complete_receive(Registration& registration, int result, std::uint32_t flags);
  void complete_accept(Registration& registration, int result);
  void arm_send(Registration& registration);
  // Whether the registration needs a sync() now.
  bool complete_send(Registration& registration, int result);
  void return_send_buffer(Registration& registration) noexcept;
  // Hands received bytes to the registration's handler (while it has one).
  void deliver(Registration& registration, std::span<std::byte> data);
  void recycle(std::uint16_t buffer_id) noexcept;
  // A receive completion with a buffer: handed over now, or held for a later turn when the
  // stream had its turn in this dispatch (or holds earlier bytes).
  void receive_into_turn(Registration& registration, std::uint16_t buffer_id, std::size_t bytes);
  // Hands over the buffers held from earlier dispatches, in order, each stream up to its turn.
  void deliver_held();
  void count_turn(Registration& registration);
  void end_turns() noexcept;
  // Notes a removed registration whose last request completed: dispatch() frees it.
  void release_if_done(const Registration& registration) noexcept;
  // Frees the removed registrations that have nothing in flight any more. Out of line: it is
  // rare, and dispatch() stays small enough for complete() to be inlined into its loop.
  [[gnu::noinline]] void free_released() noexcept;

  io_uring ring_{};
  bool ring_ready_ = false;
  io_uring_buf_ring* buffer_ring_ = nullptr;
  std::unique_ptr<std::byte[]> buffers_;
  std::size_t buffer_count_ = 0;
  std::size_t buffer_size_ = 0;
  SendBufferPool send_buffers_;
  std::vector<Registration*> by_fd_;  // the registered ones (owned), by fd
  // Removed ones (owned) until their last request completed; freed at the end of a batch, since
  // a handler may remove its registration while that registration's completion is being handled.
  std::vector<Registration*> removed_;
  bool release_due_ = false;  // some of removed_ have nothing in flight
  // Received buffers held for a later turn, in the order they came.
  struct HeldBuffer {
    Registration* registration;
    std::uint32_t bytes;
    std::uint16_t buffer_id;
  };
  std::vector<HeldBuffer> held_;
  std::vector<Registration*> had_turn_;  // streams handed buffers in this dispatch
  std::size_t turn_buffers_ = 1;         // buffers per turn
  // The thread of the last iteration (none before the first). Another thread that entered the
  // ring would be tied to it as its creator would be (see create()): the leftovers of a stopped
  // loop, run on the application's thread, submit nothing.
  std::thread::id runner_;
};

}  // namespace fastws::net
