// ExternalLoop: one of a Server's (or a Client's) event loops, driven by the application's own
// event loop (an Asio io_context, libuv, ...) instead of by Server::run() or the client's
// threads. fastws::asio::run_on() is such a driver; this is what it is built on.
//
// A driver, for each loop:
//   - waits until fd() is readable (I/O, a send from another thread, a stop) or wait_limit()
//     has passed (a timer), then calls run_ready();
//   - calls run_ready() again at once, without waiting, while wants_run() is true;
//   - stops once run_ready() returns false: the loop has ended (the server's shutdown, or the
//     client's, is over) and the handle must not be used any more.
// Calls to run_ready() and run() of one loop never overlap (one thread at a time, e.g. an Asio
// strand); different loops may run in parallel. The callbacks of the loop's connections run
// inside them, on the calling thread: the threading contract of conn.hpp holds with "the loop
// thread" meaning "whoever runs the loop now".
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <utility>

namespace fastws {

namespace net {
class EventLoops;
}  // namespace net

// One loop of a Server or Client, for a driver to run (see the top of this file); from
// Server::external_loops() or Client::external_loops(). Movable, not copyable.
class ExternalLoop {
 public:
  ExternalLoop(ExternalLoop&&) noexcept = default;             // the handle moves
  ExternalLoop& operator=(ExternalLoop&&) noexcept = default;  // the handle moves
  ExternalLoop(const ExternalLoop&) = delete;
  ExternalLoop& operator=(const ExternalLoop&) = delete;
  ~ExternalLoop() = default;

  // Readable while the loop has something to do. Owned by the loop: do not close it.
  int fd() const noexcept;
  // Runs what is ready (I/O, tasks from other threads, due timers, then the batch's writes),
  // without waiting. False once the loop has ended.
  bool run_ready();
  // True when run_ready() has more to do at once (input a connection left for a later turn, a
  // task the loop posted to itself).
  bool wants_run() const noexcept;
  // How long the driver may wait before calling run_ready() for a timer; negative: no timer.
  std::chrono::milliseconds wait_limit() const noexcept;

  // Runs `handler()` as part of the loop (the completion of a Transport's I/O), then the batch's
  // writes; same rule as run_ready(): never at the same time as another call for this loop.
  template <class Handler>
  void run(Handler& handler) {
    run_handler([](void* context) { (*static_cast<Handler*>(context))(); }, &handler);
  }

  // The driver's own state for this loop, found again from inside the loop (for a Transport
  // started there) with driver_of_current_loop(). Set before the first run_ready().
  void set_driver(void* driver) noexcept;
  // The driver of the loop whose run_ready() or run() the calling thread is inside, or null.
  static void* driver_of_current_loop() noexcept;

  // Which of the server's (client's) loops this is: 0 .. threads - 1.
  std::size_t index() const noexcept { return index_; }

 private:
  friend class Server;
  friend class Client;
  ExternalLoop(std::shared_ptr<net::EventLoops> loops, std::size_t index) noexcept
      : loops_(std::move(loops)), index_(index) {}
  void run_handler(void (*handler)(void*), void* context);

  std::shared_ptr<net::EventLoops> loops_;
  std::size_t index_;
  bool ended_ = false;
};

}  // namespace fastws
