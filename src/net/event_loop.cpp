#include "net/event_loop.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string_view>
#include <utility>

#include "net/uring_poller.hpp"

namespace fastws::net {

namespace {

std::error_code last_error() noexcept {
  return {errno, std::system_category()};
}

IoBackend chosen_backend(IoBackend requested) noexcept {
  if (requested != IoBackend::automatic) return requested;
  const char* named = std::getenv("FASTWS_IO_BACKEND");
  return named != nullptr && std::string_view(named) == "io_uring" ? IoBackend::io_uring
                                                                   : IoBackend::epoll;
}

}  // namespace

// Handles the eventfd that post() and stop() write to.
class EventLoop::Waker final : public IoHandler {
 public:
  explicit Waker(EventLoop& loop) noexcept : loop_(loop) {}
  void on_io(std::uint32_t /*events*/) override { loop_.run_posted_tasks(); }

 private:
  EventLoop& loop_;
};

std::unique_ptr<EventLoop> EventLoop::create(std::error_code& error,
                                             const EventLoopOptions& options) {
  std::unique_ptr<UringPoller> uring;
  if (chosen_backend(options.backend) == IoBackend::io_uring) {
    std::error_code refused;  // the kernel's reason: the loop runs on epoll instead
    uring = UringPoller::create(refused, {.turn_bytes = options.read_buffer_size});
  }
  UniqueFd epoll_fd;
  if (!uring) {
    epoll_fd = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_fd) {
      error = last_error();
      return nullptr;
    }
  }
  UniqueFd wake_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_fd) {
    error = last_error();
    return nullptr;
  }
  std::unique_ptr<EventLoop> loop(
      new EventLoop(options, std::move(epoll_fd), std::move(wake_fd), std::move(uring)));
  error = loop->add(loop->wake_fd_.get(), EPOLLIN, *loop->waker_);
  if (error) return nullptr;
  return loop;
}

EventLoop::EventLoop(const EventLoopOptions& options, UniqueFd epoll_fd, UniqueFd wake_fd,
                     std::unique_ptr<UringPoller> uring)
    : epoll_fd_(std::move(epoll_fd)),
      uring_(std::move(uring)),
      wake_fd_(std::move(wake_fd)),
      waker_(std::make_unique<Waker>(*this)),
      events_(std::make_unique<epoll_event[]>(std::max<std::size_t>(options.max_events, 1))),
      max_events_(std::max<std::size_t>(options.max_events, 1)),
      read_buffer_(std::make_unique_for_overwrite<std::byte[]>(options.read_buffer_size)),
      read_buffer_size_(options.read_buffer_size),
      timers_(options.timer_slots),
      tick_(std::max(options.timer_tick, std::chrono::milliseconds{1})),
      start_(std::chrono::steady_clock::now()) {}

EventLoop::~EventLoop() {
  // Handlers may outlive the loop; leave them unlinked so their destructors touch nothing here.
  while (!flushes_.empty()) flushes_.front().unlink();
  while (!revisits_.empty()) revisits_.front().unlink();
  while (!due_.empty()) due_.front().unlink();
}

int EventLoop::fd() const noexcept {
  return uring_ ? uring_->fd() : epoll_fd_.get();
}

void EventLoop::submit_pending() {
  if (uring_) uring_->submit();
}

void EventLoop::prepare_for_outside_driver() {
  if (!uring_) return;
  UniqueFd epoll_fd(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd) return;  // it stays on io_uring: a driver that runs it first still works
  const std::vector<UringPoller::Registered> registered = uring_->registered();
  for (const UringPoller::Registered& entry : registered) {
    epoll_event event{};
    event.events = entry.events;
    event.data.ptr = entry.handler;
    if (::epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, entry.fd, &event) != 0) return;
  }
  uring_.reset();  // what it had in flight goes with it
  epoll_fd_ = std::move(epoll_fd);
}

IoBackend EventLoop::backend() const noexcept {
  return uring_ ? IoBackend::io_uring : IoBackend::epoll;
}

void EventLoop::run() {
  while (!take_stop()) run_once(std::chrono::milliseconds{-1});
}

bool EventLoop::take_stop() noexcept {
  return stop_requested_.load(std::memory_order_acquire) &&
         stop_requested_.exchange(false, std::memory_order_acq_rel);
}

void EventLoop::run_handler(void (*handler)(void*), void* context) {
  EventLoop* const outer = std::exchange(current_, this);
  // Timers armed by the handler count from now, not from the last iteration, which may be long
  // ago when the loop idled in its driver.
  update_clock();
  handler(context);
  run_own_tasks();
  run_deferred_flushes();
  current_ = outer;
}

void EventLoop::run_once(std::chrono::milliseconds max_wait) {
  EventLoop* const outer = std::exchange(current_, this);

  due_.splice(revisits_);
  const int timeout = due_.empty() && own_posted_.empty() ? epoll_timeout(max_wait) : 0;
  if (uring_) {
    // Bytes held for a stream's next turn are that turn's input: nothing to wait for.
    uring_->submit_and_wait(uring_->holds_input() ? 0 : timeout);
    update_clock();
    uring_->dispatch();
  } else {
    const int ready =
        ::epoll_wait(epoll_fd_.get(), events_.get(), static_cast<int>(max_events_), timeout);
    update_clock();
    // A failure can only be EINTR here (the arguments are ours); the iteration goes on with
    // timers and flushes.
    batch_size_ = ready > 0 ? static_cast<std::size_t>(ready) : 0;
    for (batch_next_ = 0; batch_next_ < batch_size_;) {
      const epoll_event& event = events_[batch_next_++];
      if (event.data.ptr != nullptr) static_cast<IoHandler*>(event.data.ptr)->on_io(event.events);
    }
    batch_size_ = batch_next_ = 0;
  }
  run_revisits();
  run_own_tasks();

  timers_.advance(static_cast<std::uint64_t>(elapsed_ / tick_));
  run_deferred_flushes();

  current_ = outer;
}

void EventLoop::run_leftovers() {
  EventLoop* const outer = std::exchange(current_, this);
  run_posted_tasks();
  run_deferred_flushes();
  current_ = outer;
}

int EventLoop::epoll_timeout(std::chrono::milliseconds max_wait) const noexcept {
  std::int64_t timeout = max_wait.count() < 0 ? -1 : max_wait.count();
  if (const auto tick = timers_.next_wakeup()) {
    // elapsed_ was read after the previous epoll_wait, so this errs on the late side by the
    // time the last batch took, never early.
    const std::int64_t due_ms = static_cast<std::int64_t>(*tick) * tick_.count();
    const std::int64_t until = std::max<std::int64_t>(due_ms - elapsed_.count(), 0);
    timeout = timeout < 0 ? until : std::min(timeout, until);
  }
  return static_cast<int>(std::min<std::int64_t>(timeout, INT_MAX));
}

void EventLoop::update_clock() noexcept {
  // steady_clock is a vDSO call, not a system call.
  elapsed_ = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start_);
}

void EventLoop::stop() {
  stop_requested_.store(true, std::memory_order_release);
  wake();
}

void EventLoop::post(Task task) {
  const bool own_thread = is_in_loop_thread();
  bool was_empty;
  {
    std::lock_guard lock(posted_mutex_);
    was_empty = posted_.empty();
    // From the loop's own thread, with no other thread's task waiting, the task needs no
    // wakeup: it runs after this batch (step 3). Behind waiting tasks it queues after them, so
    // tasks run in the order the lock saw them posted, whichever thread posted them (a dial
    // admitted before a context closes its door runs before the context's finishing task).
    if (own_thread && was_empty) {
      own_posted_.push_back(std::move(task));
      return;
    }
    posted_.push_back(std::move(task));
  }
  if (own_thread) return;  // behind waiting tasks: their wakeup is on its way
  // A non-empty queue already has a wakeup on its way (run_posted_tasks() drains the eventfd
  // before it takes the queue), so only the first post of a burst writes.
  if (was_empty) {
    wakeups_.fetch_add(1, std::memory_order_relaxed);
    wake();
  }
}

void EventLoop::wake() noexcept {
  const std::uint64_t one = 1;
  // Cannot fail short of the counter overflowing, and then the loop is awake anyway.
  [[maybe_unused]] const auto written = ::write(wake_fd_.get(), &one, sizeof one);
}

void EventLoop::run_posted_tasks() {
  // The loop's own tasks were posted before any task now in the queue (post() puts them there
  // once the queue holds something): they go first.
  run_own_tasks();
  // Drain the eventfd before taking the queue: a post that lands after the swap then leaves the
  // eventfd readable and is picked up by the next iteration instead of being stranded.
  std::uint64_t count;
  [[maybe_unused]] const auto read = ::read(wake_fd_.get(), &count, sizeof count);
  {
    std::lock_guard lock(posted_mutex_);
    posted_.swap(running_);
  }
  // Both vectors keep their capacity, so steady cross-thread traffic allocates nothing here.
  for (Task& task : running_) task();
  running_.clear();
}

void EventLoop::run_own_tasks() {
  // Only those posted so far: a task that posts again runs in the next iteration, after I/O,
  // so a task re-posting itself cannot starve the sockets.
  own_posted_.swap(own_running_);
  for (Task& task : own_running_) task();
  own_running_.clear();
}

std::error_code EventLoop::add(int fd, std::uint32_t events, IoHandler& handler) {
  if (uring_) return uring_->add(fd, events, handler);
  epoll_event event{};
  event.events = events;
  event.data.ptr = &handler;
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &event) != 0) return last_error();
  return {};
}

std::error_code EventLoop::add_stream(int fd, std::uint32_t events, StreamHandler& handler) {
  if (uring_) return uring_->add_stream(fd, events, handler);
  return add(fd, events, handler);
}

std::error_code EventLoop::add_listener(int fd, std::uint32_t events, ListenHandler& handler) {
  if (uring_) return uring_->add_listener(fd, events, handler);
  return add(fd, events, handler);
}

IoResult EventLoop::send_stream(int fd, std::span<const iovec> buffers) {
  if (uring_) return uring_->send(fd, buffers);
  return write_vectored(fd, buffers);
}

std::size_t EventLoop::unsent_stream_bytes(int fd) const noexcept {
  return uring_ ? uring_->unsent(fd) : 0;
}

std::error_code EventLoop::modify(int fd, std::uint32_t events, IoHandler& handler) {
  if (uring_) return uring_->modify(fd, events);
  epoll_event event{};
  event.events = events;
  event.data.ptr = &handler;
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, fd, &event) != 0) return last_error();
  return {};
}

std::error_code EventLoop::remove(int fd, IoHandler& handler) {
  if (uring_) return uring_->remove(fd);
  // The kernel already handed out this batch; forget what is left of it for `handler`.
  for (std::size_t i = batch_next_; i < batch_size_; ++i) {
    if (events_[i].data.ptr == &handler) events_[i].data.ptr = nullptr;
  }
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr) != 0) return last_error();
  return {};
}

void EventLoop::defer_flush(FlushHandler& handler) noexcept {
  if (!handler.link.linked()) flushes_.push_back(handler.link);
}

void EventLoop::cancel_flush(FlushHandler& handler) noexcept {
  if (handler.link.linked()) handler.link.unlink();
}

void EventLoop::run_deferred_flushes() {
  while (!flushes_.empty()) {
    auto& handler = static_cast<FlushHandler&>(ListNode<FlushHandler>::from_link(flushes_.front()));
    handler.link.unlink();
    handler.on_flush();
  }
}

void EventLoop::revisit(Revisit& entry) noexcept {
  if (!entry.link.linked()) revisits_.push_back(entry.link);
}

void EventLoop::run_revisits() {
  // A handler asking again from inside its on_io() goes to revisits_: next iteration.
  while (!due_.empty()) {
    auto& entry = static_cast<Revisit&>(ListNode<Revisit>::from_link(due_.front()));
    entry.link.unlink();
    entry.handler_->on_io(EPOLLIN);
  }
}

}  // namespace fastws::net
