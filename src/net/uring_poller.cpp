#include "net/uring_poller.hpp"

#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>
#include <utility>

#include "net/event_loop.hpp"
#include "net/io_fault_injection.hpp"
#include "net/unique_fd.hpp"

namespace fastws::net {

namespace {

std::error_code from_result(int result) noexcept {
  return {-result, std::system_category()};
}

// Bits an epoll registration may carry that say how to report, not what.
constexpr std::uint32_t reporting_bits = EPOLLET | EPOLLONESHOT | EPOLLEXCLUSIVE;
// Reported whether asked for or not, as epoll does.
constexpr std::uint32_t always_reported = EPOLLERR | EPOLLHUP;

}  // namespace

// One fd's registration: one per idle connection, so kept to 40 bytes (a 48-byte heap chunk).
// Aligned to 8 so that a request's user_data is its address with the request's kind in the low
// bits.
struct alignas(8) UringPoller::Registration {
  IoHandler* handler = nullptr;  // null once removed: its completions are dropped
  OwnedSendBuffer send;          // only while output is pending (a send is in flight)
  int fd = -1;
  std::uint32_t wanted = 0;     // epoll bits, as last added or modified
  std::uint32_t poll_mask = 0;  // of the poll in flight
  std::uint16_t in_flight = 0;  // requests whose last completion has not come yet
  std::uint16_t held = 0;       // received buffers in held_, waiting for a later turn
  std::uint8_t turn = 0;        // buffers handed over in this dispatch
  bool poll_armed : 1 = false;
  bool poll_cancelled : 1 = false;
  bool receive_armed : 1 = false;
  bool receive_cancelled : 1 = false;
  bool send_armed : 1 = false;
  bool is_stream : 1 = false;  // the handler is a StreamHandler (add_stream)
  bool listener : 1 = false;   // the handler is a ListenHandler; "receive" is a multishot accept

  // The stream handler, while registered (null once removed).
  StreamHandler* stream() const noexcept {
    return is_stream ? static_cast<StreamHandler*>(handler) : nullptr;
  }
  bool edge_triggered() const noexcept { return (wanted & EPOLLET) != 0; }
  // What the poll request watches: everything for a readiness registration, room to write for a
  // stream (its input comes with the receive) while none of its output is pending (on_sent()
  // reports the room then).
  std::uint32_t poll_wanted() const noexcept {
    if (listener) return 0;
    if (!is_stream) return wanted & ~reporting_bits;
    return send ? 0 : wanted & EPOLLOUT;
  }
};

std::unique_ptr<UringPoller> UringPoller::create(std::error_code& error,
                                                 const UringOptions& options) {
  std::unique_ptr<UringPoller> poller(new UringPoller(options));
  // Set up on a thread that ends at once, not on the caller's. The kernel ties every thread that
  // creates a ring (or submits to it) to that ring until the thread ends, and when the ring goes
  // it interrupts each tied thread (task work with TWA_SIGNAL): a system call with a timeout that
  // thread is blocked in (a recv() under SO_RCVTIMEO, so OpenSSL's blocking handshake) fails with
  // EINTR. The thread that makes a loop (a Server's, a Client's) is usually the application's
  // own, which lives on after the loop and must not get those.
  try {
    std::thread([&] { error = poller->set_up(options); }).join();
  } catch (const std::system_error& refused) {
    error = refused.code();  // no thread to spare: the loop runs on epoll
  }
  if (error) return nullptr;
  return poller;
}

UringPoller::UringPoller(const UringOptions& options)
    : send_buffers_(options.send_buffer_classes) {}

std::error_code UringPoller::set_up(const UringOptions& options) {
  io_uring_params params{};
  // SUBMIT_ALL: a request that fails does not hold up the others. COOP_TASKRUN: the kernel does
  // the receives' work when the loop enters the ring, not by interrupting the loop thread
  // wherever it is (TWA_SIGNAL); a ping-pong echo then costs about a tenth less CPU. The
  // completions come in bigger batches, so a flooding peer's burst is cut into turns
  // (UringOptions::turn_bytes). TASKRUN_FLAG tells liburing when such work waits.
  params.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  const int result =
      io_uring_queue_init_params(static_cast<unsigned>(options.queue_entries), &ring_, &params);
  if (result < 0) return from_result(result);
  ring_ready_ = true;

  buffer_count_ = options.buffer_count;
  buffer_size_ = options.buffer_size;
  turn_buffers_ = std::clamp<std::size_t>(options.turn_bytes / buffer_size_, 1, UINT8_MAX);
  const std::size_t ring_bytes = buffer_count_ * sizeof(io_uring_buf);
  void* ring_memory =
      ::mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (ring_memory == MAP_FAILED) return {errno, std::system_category()};
  buffer_ring_ = static_cast<io_uring_buf_ring*>(ring_memory);
  io_uring_buf_reg registration{};
  registration.ring_addr = reinterpret_cast<std::uint64_t>(ring_memory);
  registration.ring_entries = static_cast<std::uint32_t>(buffer_count_);
  registration.bgid = 0;
  const int registered = io_uring_register_buf_ring(&ring_, &registration, 0);
  if (registered < 0) return from_result(registered);  // before 5.19: no provided-buffer rings
  io_uring_buf_ring_init(buffer_ring_);
  buffers_ = std::make_unique_for_overwrite<std::byte[]>(buffer_count_ * buffer_size_);
  for (std::size_t id = 0; id < buffer_count_; ++id) {
    io_uring_buf_ring_add(buffer_ring_, buffers_.get() + id * buffer_size_,
                          static_cast<unsigned>(buffer_size_), static_cast<unsigned short>(id),
                          io_uring_buf_ring_mask(static_cast<unsigned>(buffer_count_)),
                          static_cast<int>(id));
  }
  io_uring_buf_ring_advance(buffer_ring_, static_cast<int>(buffer_count_));
  return {};
}

UringPoller::~UringPoller() {
  // Exiting the ring cancels what is in flight; no completion is handed out any more.
  if (ring_ready_) io_uring_queue_exit(&ring_);
  if (buffer_ring_ != nullptr) ::munmap(buffer_ring_, buffer_count_ * sizeof(io_uring_buf));
  for (Registration* registration : by_fd_) delete registration;
  for (Registration* registration : removed_) delete registration;
}

std::vector<UringPoller::Registered> UringPoller::registered() const {
  std::vector<Registered> live;
  for (const Registration* registration : by_fd_) {
    if (registration != nullptr) {
      live.push_back({registration->fd, registration->wanted, registration->handler});
    }
  }
  return live;
}

std::error_code UringPoller::add(int fd, std::uint32_t events, IoHandler& handler) {
  return register_fd(fd, events, handler);
}

std::error_code UringPoller::add_stream(int fd, std::uint32_t events, StreamHandler& handler) {
  return register_fd(fd, events, handler, Kind::stream);
}

std::error_code UringPoller::add_listener(int fd, std::uint32_t events, ListenHandler& handler) {
  return register_fd(fd, events, handler, Kind::listener);
}

std::error_code UringPoller::register_fd(int fd, std::uint32_t events, IoHandler& handler,
                                         Kind kind) {
  static_assert(sizeof(void*) != 8 || sizeof(Registration) <= 40, "see Registration");
  if (fd < 0) return std::make_error_code(std::errc::bad_file_descriptor);
  const auto index = static_cast<std::size_t>(fd);
  if (index >= by_fd_.size()) by_fd_.resize(index + 1, nullptr);
  if (by_fd_[index] != nullptr) return std::make_error_code(std::errc::file_exists);
  auto* registration = new Registration();
  registration->handler = &handler;
  registration->is_stream = kind == Kind::stream;
  registration->listener = kind == Kind::listener;
  registration->fd = fd;
  registration->wanted = events;
  by_fd_[index] = registration;
  sync(*registration);
  return {};
}

UringPoller::Registration* UringPoller::find(int fd) const noexcept {
  const auto index = static_cast<std::size_t>(fd);
  return fd >= 0 && index < by_fd_.size() ? by_fd_[index] : nullptr;
}

std::error_code UringPoller::modify(int fd, std::uint32_t events) {
  Registration* registration = find(fd);
  if (registration == nullptr) return std::make_error_code(std::errc::no_such_file_or_directory);
  registration->wanted = events;
  sync(*registration);
  return {};
}

std::error_code UringPoller::remove(int fd) {
  Registration* registration = find(fd);
  if (registration == nullptr) return std::make_error_code(std::errc::no_such_file_or_directory);
  by_fd_[static_cast<std::size_t>(fd)] = nullptr;
  removed_.push_back(registration);
  registration->handler = nullptr;
  if (registration->poll_armed && !registration->poll_cancelled) {
    cancel(*registration, Op::poll);
  }
  if (registration->receive_armed && !registration->receive_cancelled) {
    cancel(*registration, Op::receive);
  }
  // Output still pending is given up, as a close() with a failed send: the connection waits
  // for it before it closes normally. The buffer goes back with the send's completion.
  if (registration->send_armed) cancel(*registration, Op::send);
  // Now, before the caller closes the fd: a request in flight holds the socket open (the peer
  // would see no FIN until it ends, a listener would go on accepting), and one not submitted
  // yet would act on whatever socket gets the fd's number next. Submitted in order, the
  // cancellations follow what they cancel. (Not from a thread other than the loop's, once the
  // loop ran: the leftovers of a stopped loop, whose requests end with its ring.)
  submit();
  release_if_done(*registration);
  return {};
}

void UringPoller::sync(Registration& registration) {
  if (registration.handler == nullptr) return;
  if (registration.is_stream || registration.listener) {
    // Armed again once every held buffer was handed over; cancelled while a whole turn is held.
    const bool wanted = (registration.wanted & EPOLLIN) != 0;
    if (wanted && registration.held == 0 && !registration.receive_armed) {
      arm_receive(registration);
    } else if ((!wanted || registration.held >= turn_buffers_) && registration.receive_armed &&
               !registration.receive_cancelled) {
      cancel(registration, Op::receive);
      registration.receive_cancelled = true;
    }
  }
  const std::uint32_t mask = registration.poll_wanted();
  if (!registration.poll_armed) {
    if (mask != 0) arm_poll(registration, mask);
  } else if (registration.poll_mask != mask && !registration.poll_cancelled) {
    // Cancelled, and armed anew with the new mask once its completion came: not updated in place
    // (IORING_POLL_UPDATE_EVENTS), because an update to a mask that is ready at once loses the
    // poll (the kernel neither completes it nor keeps it armed), and the socket goes unwatched.
    cancel(registration, Op::poll);
    registration.poll_cancelled = true;
  }
}

io_uring_sqe* UringPoller::next_sqe() {
  // A full submission queue is handed to the kernel, which takes the entries at once (no SQPOLL
  // thread here), so the next attempt finds room.
  io_uring_sqe* sqe;
  while ((sqe = io_uring_get_sqe(&ring_)) == nullptr) io_uring_submit(&ring_);
  return sqe;
}

std::uint64_t UringPoller::user_data(Registration& registration, Op op) noexcept {
  return reinterpret_cast<std::uint64_t>(&registration) | static_cast<std::uint64_t>(op);
}

void UringPoller::prepare(io_uring_sqe* sqe, Registration& registration, Op op) {
  io_uring_sqe_set_data64(sqe, user_data(registration, op));
  ++registration.in_flight;
}

void UringPoller::arm_poll(Registration& registration, std::uint32_t mask) {
  io_uring_sqe* sqe = next_sqe();
  if (registration.edge_triggered()) {
    io_uring_prep_poll_multishot(sqe, registration.fd, mask);
  } else {
    io_uring_prep_poll_add(sqe, registration.fd, mask);
  }
  prepare(sqe, registration, Op::poll);
  registration.poll_armed = true;
  registration.poll_cancelled = false;
  registration.poll_mask = mask;
}

void UringPoller::arm_receive(Registration& registration) {
  io_uring_sqe* sqe = next_sqe();
  if (registration.listener) {
    io_uring_prep_multishot_accept(sqe, registration.fd, nullptr, nullptr,
                                   SOCK_NONBLOCK | SOCK_CLOEXEC);
  } else {
    io_uring_prep_recv_multishot(sqe, registration.fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = 0;
  }
  prepare(sqe, registration, Op::receive);
  registration.receive_armed = true;
  registration.receive_cancelled = false;
}

void UringPoller::cancel(Registration& registration, Op op) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_cancel64(sqe, user_data(registration, op), 0);
  prepare(sqe, registration, Op::control);
}

void UringPoller::submit() {
  const std::thread::id caller = std::this_thread::get_id();
  if (runner_ != std::thread::id() && runner_ != caller) return;
  if (io_uring_sq_ready(&ring_) > 0) io_uring_submit(&ring_);
}

void UringPoller::submit_and_wait(int timeout_ms) {
  runner_ = std::this_thread::get_id();
  if (timeout_ms == 0) {
    io_uring_submit(&ring_);
  } else if (timeout_ms < 0) {
    io_uring_submit_and_wait(&ring_, 1);
  } else {
    __kernel_timespec timeout{};
    timeout.tv_sec = timeout_ms / 1000;
    timeout.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1'000'000;
    io_uring_cqe* first = nullptr;
    io_uring_submit_and_wait_timeout(&ring_, &first, 1, &timeout, nullptr);
  }
  // A failure can only be EINTR or ETIME here; the iteration goes on with what completed.
}

void UringPoller::dispatch() {
  // Only what is there now: completions posted while handlers run wait for the next iteration,
  // after timers and flushes, as epoll's next batch would. The ring is read directly (no
  // io_uring_peek_cqe, which loads the tail again for each entry); each entry is handed back to
  // the kernel before its handler runs, so the handler's requests find room for theirs. Bytes
  // held from earlier dispatches come after these completions: a send among them that completed
  // has given its buffer back, so the answers to the held bytes go out at once instead of
  // queueing behind it.
  const unsigned ready = io_uring_cq_ready(&ring_);
  for (unsigned seen = 0; seen < ready; ++seen) {
    const io_uring_cqe& cqe = ring_.cq.cqes[*ring_.cq.khead & ring_.cq.ring_mask];
    const std::uint64_t data = cqe.user_data;
    const int result = cqe.res;
    const std::uint32_t flags = cqe.flags;
    io_uring_cq_advance(&ring_, 1);
    complete(data, result, flags);
  }
  if (!held_.empty()) deliver_held();
  end_turns();
  if (release_due_) free_released();
}

void UringPoller::receive_into_turn(Registration& registration, std::uint16_t buffer_id,
                                    std::size_t bytes) {
  if (registration.handler == nullptr) {
    recycle(buffer_id);
    return;
  }
  if (registration.held != 0 || registration.turn >= turn_buffers_) {
    held_.push_back({&registration, static_cast<std::uint32_t>(bytes), buffer_id});
    if (++registration.held == turn_buffers_) sync(registration);  // a whole turn waits: cancel
    return;
  }
  count_turn(registration);
  deliver(registration, {buffers_.get() + std::size_t{buffer_id} * buffer_size_, bytes});
  recycle(buffer_id);
}

void UringPoller::deliver_held() {
  // Handlers may remove registrations meanwhile (a held buffer of a removed one is dropped), but
  // they add nothing to held_: only completions do, and none is read here.
  std::size_t kept = 0;
  for (const HeldBuffer entry : held_) {
    Registration& registration = *entry.registration;
    if (registration.handler != nullptr && registration.turn >= turn_buffers_) {
      held_[kept++] = entry;
      continue;
    }
    --registration.held;
    if (registration.handler != nullptr) {
      count_turn(registration);
      deliver(registration,
              {buffers_.get() + std::size_t{entry.buffer_id} * buffer_size_, entry.bytes});
    }
    recycle(entry.buffer_id);
    if (registration.held == 0) {
      if (registration.handler != nullptr) sync(registration);  // receive again
      release_if_done(registration);
    }
  }
  held_.resize(kept);
}

void UringPoller::count_turn(Registration& registration) {
  if (registration.turn++ == 0) had_turn_.push_back(&registration);
}

void UringPoller::end_turns() noexcept {
  for (Registration* registration : had_turn_) registration->turn = 0;
  had_turn_.clear();
}

void UringPoller::free_released() noexcept {
  release_due_ = false;
  std::erase_if(removed_, [](Registration* registration) {
    if (registration->in_flight != 0 || registration->held != 0) return false;
    delete registration;
    return true;
  });
}

void UringPoller::complete(std::uint64_t data, int result, std::uint32_t flags) {
  if (data == LIBURING_UDATA_TIMEOUT) return;  // liburing's own wait timeout (old kernels)
  auto& registration = *reinterpret_cast<Registration*>(data & ~std::uint64_t{7});
  // Whether this completion changed what sync() brings in line: a request that ended (its kind
  // may be wanted again) or output that stopped being pending (a stream's EPOLLOUT poll waits
  // for that). A handler's own changes go through modify(), which syncs at once; a multishot
  // receive's data (every message of a stream) changes nothing, so it does not sync.
  bool changed = true;
  switch (static_cast<Op>(data & 7)) {
    case Op::poll:
      complete_poll(registration, result, flags);
      changed = (flags & IORING_CQE_F_MORE) == 0;
      break;
    case Op::receive:
      complete_receive(registration, result, flags);
      changed = (flags & IORING_CQE_F_MORE) == 0;
      break;
    case Op::control:
      --registration.in_flight;
      changed = false;  // a cancellation: the request it acted on reports itself
      break;
    case Op::send:
      changed = complete_send(registration, result);
      break;
  }
  if (changed && registration.handler != nullptr) sync(registration);
  release_if_done(registration);
}

void UringPoller::complete_poll(Registration& registration, int result, std::uint32_t flags) {
  if ((flags & IORING_CQE_F_MORE) == 0) {
    registration.poll_armed = false;
    --registration.in_flight;
  }
  if (registration.handler == nullptr || result == -ECANCELED) return;
  // A poll that failed (the fd is no socket any more) reports what a dead socket would.
  std::uint32_t events = result < 0 ? always_reported : static_cast<std::uint32_t>(result);
  events &= registration.poll_wanted() | always_reported;
  if (events != 0) registration.handler->on_io(events);
}

void UringPoller::complete_receive(Registration& registration, int result, std::uint32_t flags) {
  if ((flags & IORING_CQE_F_MORE) == 0) {
    registration.receive_armed = false;
    --registration.in_flight;
  }
  if (registration.listener) {
    complete_accept(registration, result);
    return;
  }
  if ((flags & IORING_CQE_F_BUFFER) != 0) {
    const auto id = static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
    if (result > 0) {
      receive_into_turn(registration, id, static_cast<std::size_t>(result));
    } else {
      recycle(id);
    }
    return;
  }
  StreamHandler* const stream = registration.stream();
  if (stream == nullptr) return;
  // ENOBUFS: every buffer was taken before this batch gave them back; sync() arms again.
  if (result == 0) {
    stream->on_receive_end({});
  } else if (result < 0 && result != -ECANCELED && result != -ENOBUFS) {
    stream->on_receive_end(from_result(result));
  }
}

IoResult UringPoller::send(int fd, std::span<const iovec> buffers) {
  Registration* registration = find(fd);
  if (registration == nullptr || !registration->is_stream) return write_vectored(fd, buffers);
  if (!registration->send) {
    std::size_t offered = 0;
    for (const iovec& buffer : buffers) offered += buffer.iov_len;
    if (offered > send_buffers_.largest()) return write_vectored(fd, buffers);
    registration->send = send_buffers_.take(offered);
  }
  std::array<iovec, 4> shortened;
  if (const auto hook = testing::io_fault_hook()) [[unlikely]] {
    const testing::IoFault fault = hook(testing::IoOperation::write, fd);
    if (fault.error != 0) {
      if (registration->send->pending() == 0) return_send_buffer(*registration);
      return {IoStatus::failed, 0, std::error_code{fault.error, std::system_category()}};
    }
    buffers = testing::first_bytes(buffers, fault.max_bytes, shortened);
  }
  SendBuffer& pending = *registration->send;
  std::size_t taken = 0;
  for (const iovec& buffer : buffers) {
    const std::size_t take = std::min<std::size_t>(buffer.iov_len, pending.room());
    std::memcpy(pending.bytes() + pending.end, buffer.iov_base, take);
    pending.end += static_cast<std::uint32_t>(take);
    taken += take;
    if (take < buffer.iov_len) break;
  }
  if (pending.pending() == 0) {  // nothing pending (a fault took every byte away)
    return_send_buffer(*registration);
  } else if (!registration->send_armed) {
    arm_send(*registration);
  }
  if (taken == 0) return {IoStatus::would_block};
  return {IoStatus::done, taken, {}};
}

std::size_t UringPoller::unsent(int fd) const noexcept {
  const Registration* registration = find(fd);
  return registration != nullptr && registration->send ? registration->send->pending() : 0;
}

void UringPoller::arm_send(Registration& registration) {
  SendBuffer& pending = *registration.send;
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_send(sqe, registration.fd, pending.bytes() + pending.start, pending.pending(),
                     MSG_NOSIGNAL);
  prepare(sqe, registration, Op::send);
  registration.send_armed = true;
}

bool UringPoller::complete_send(Registration& registration, int result) {
  registration.send_armed = false;
  --registration.in_flight;
  StreamHandler* const stream = registration.stream();
  if (stream == nullptr) {  // removed: what was pending is given up
    return_send_buffer(registration);
    return false;
  }
  SendBuffer& pending = *registration.send;
  if (result > 0) {
    pending.start += static_cast<std::uint32_t>(result);
    if (pending.start < pending.end) {  // short, or bytes written meanwhile: the rest goes next
      arm_send(registration);
      return false;
    }
  }
  return_send_buffer(registration);
  if (result > 0) [[likely]] {
    stream->on_sent();
  } else {
    // A send that takes nothing of a stream socket would take nothing again: a failure.
    stream->on_send_failed(result == 0 ? std::make_error_code(std::errc::broken_pipe)
                                       : from_result(result));
  }
  // Nothing pending any more: a wanted EPOLLOUT is polled for again (unless on_sent() wrote).
  return (registration.wanted & EPOLLOUT) != 0;
}

void UringPoller::return_send_buffer(Registration& registration) noexcept {
  if (registration.send) send_buffers_.give_back(std::move(registration.send));
}

void UringPoller::complete_accept(Registration& registration, int result) {
  if (result >= 0) {
    UniqueFd connection(result);  // closed here when the listener is gone
    if (registration.handler != nullptr) {
      static_cast<ListenHandler*>(registration.handler)->on_accepted(std::move(connection));
    }
    return;
  }
  // Any error ends a multishot accept; sync() arms it again unless the handler paused.
  if (registration.handler != nullptr && result != -ECANCELED) {
    static_cast<ListenHandler*>(registration.handler)->on_accept_failed(from_result(result));
  }
}

void UringPoller::deliver(Registration& registration, std::span<std::byte> data) {
  while (!data.empty()) {
    StreamHandler* const stream = registration.stream();
    if (stream == nullptr) return;
    std::size_t take = data.size();
    // Tests fail or shorten "reads" here as read_some() lets them on epoll: a short one hands the
    // bytes over in pieces.
    if (const auto hook = testing::io_fault_hook()) [[unlikely]] {
      const testing::IoFault fault = hook(testing::IoOperation::read, registration.fd);
      if (fault.error != 0) {
        stream->on_receive_end({fault.error, std::system_category()});
        return;
      }
      take = std::clamp<std::size_t>(fault.max_bytes, 1, take);
    }
    stream->on_received(data.first(take));
    data = data.subspan(take);
  }
}

void UringPoller::recycle(std::uint16_t id) noexcept {
  io_uring_buf_ring_add(buffer_ring_, buffers_.get() + std::size_t{id} * buffer_size_,
                        static_cast<unsigned>(buffer_size_), id,
                        io_uring_buf_ring_mask(static_cast<unsigned>(buffer_count_)), 0);
  io_uring_buf_ring_advance(buffer_ring_, 1);
}

void UringPoller::release_if_done(const Registration& registration) noexcept {
  if (registration.handler == nullptr && registration.in_flight == 0 && registration.held == 0) {
    release_due_ = true;
  }
}

}  // namespace fastws::net
