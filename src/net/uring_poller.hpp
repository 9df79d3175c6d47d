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
//
// One io_uring_enter per iteration submits every request the iteration made and waits for the
// next completions. Registrations are found by fd (a vector indexed by it); a removed one lives
// until its last request completed, with its handler forgotten, so a completion for a handler
// that is gone is dropped, even in the middle of a batch.
//
// Threading: the loop thread (and setup before run()).
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <system_error>
#include <vector>

#include "net/intrusive_list.hpp"

namespace fastws::net {

class IoHandler;
class StreamHandler;

struct UringOptions {
  std::size_t queue_entries = 1024;
  // Provided buffers for stream receives: one completion fills at most one buffer.
  std::size_t buffer_count = 256;  // a power of two
  std::size_t buffer_size = 16 * 1024;
};

class UringPoller {
 public:
  // Null (and the reason in `error`) when the kernel refuses io_uring (missing, disabled by
  // kernel.io_uring_disabled or a seccomp filter) or its multishot receive.
  static std::unique_ptr<UringPoller> create(std::error_code& error, const UringOptions& options);
  ~UringPoller();
  UringPoller(const UringPoller&) = delete;
  UringPoller& operator=(const UringPoller&) = delete;

  int fd() const noexcept { return ring_.ring_fd; }

  std::error_code add(int fd, std::uint32_t events, IoHandler& handler);
  std::error_code add_stream(int fd, std::uint32_t events, StreamHandler& handler);
  std::error_code modify(int fd, std::uint32_t events);
  std::error_code remove(int fd);

  // Submits every queued request (a loop driven from outside, before its driver waits).
  void submit();
  // Submits every queued request and waits up to `timeout_ms` (negative: no limit, 0: not at
  // all) for a completion.
  void submit_and_wait(int timeout_ms);
  // Hands every completion present to its handler.
  void dispatch();

 private:
  struct Registration;
  enum class Op : std::uint64_t { poll = 0, receive = 1, control = 2 };

  UringPoller() = default;
  std::error_code set_up(const UringOptions& options);
  std::error_code register_fd(int fd, std::uint32_t events, IoHandler& handler,
                              StreamHandler* stream);
  Registration* find(int fd) const noexcept;
  static std::uint64_t user_data(Registration& registration, Op op) noexcept;
  // Brings the requests in flight in line with what the registration wants.
  void sync(Registration& registration);
  io_uring_sqe* next_sqe();
  void prepare(io_uring_sqe* sqe, Registration& registration, Op op);
  void arm_poll(Registration& registration, std::uint32_t mask);
  void arm_receive(Registration& registration);
  void cancel(Registration& registration, Op op);
  void complete(std::uint64_t user_data, int result, std::uint32_t flags);
  void complete_poll(Registration& registration, int result, std::uint32_t flags);
  void complete_receive(Registration& registration, int result, std::uint32_t flags);
  // Hands received bytes to the registration's handler (while it has one).
  void deliver(Registration& registration, std::span<std::byte> data);
  void recycle(std::uint16_t buffer_id) noexcept;
  void release_if_done(Registration& registration);

  io_uring ring_{};
  bool ring_ready_ = false;
  io_uring_buf_ring* buffer_ring_ = nullptr;
  std::unique_ptr<std::byte[]> buffers_;
  std::size_t buffer_count_ = 0;
  std::size_t buffer_size_ = 0;
  ListHead all_;  // every registration, removed ones too until their last completion
  std::vector<Registration*> by_fd_;
  std::vector<Registration*> released_;  // freed once the batch that released them is over
};

}  // namespace fastws::net
