// The event loops of a server or a client, and the threads that run them: a server's run on the
// thread that calls Server::run() and one more thread per further loop, a client's each on a
// thread of its own from construction. A client made on a server's loops (Client client(server))
// shares the server's EventLoops instead of making its own.
//
// Threading: run(), start() and join() belong to the owner (the server or the client); size(),
// operator[] and while_not_running() may be called from any thread.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "net/event_loop.hpp"

namespace fastws::net {

class EventLoops {
 public:
  // Makes `count` loops (at least one) on `backend`. Throws std::system_error when one cannot be
  // made.
  EventLoops(unsigned count, IoBackend backend);
  // Joins the threads start() made (stop the loops first).
  ~EventLoops();
  EventLoops(const EventLoops&) = delete;
  EventLoops& operator=(const EventLoops&) = delete;

  std::size_t size() const noexcept { return loops_.size(); }
  // Shared: a loop lives on while a context on it does (Conn handles may outlive their side).
  const std::shared_ptr<EventLoop>& operator[](std::size_t index) const noexcept {
    return loops_[index];
  }

  // Runs every loop until each one has stopped: the first on the calling thread, the others on
  // threads of their own (Server::run()).
  void run();
  // Runs every loop on a thread of its own until it stops (a client's own loops); join() waits.
  void start();
  // Waits for the threads of start() or run(); the loops count as running until then.
  void join();
  // The application's own event loop drives the loops (ExternalLoop) instead of run() or start():
  // they count as running from drive_externally() until external_loop_ended() for each. Once.
  // False when they run already.
  bool drive_externally();
  void external_loop_ended();

  // Calls `action` if no thread runs the loops, and keeps them from starting until it returns;
  // false (without calling it) while they run. Whoever shares the loops learns so whether
  // anything will run the tasks it posts.
  bool while_not_running(const std::function<void()>& action);

 private:
  void set_running(bool running);

  std::vector<std::shared_ptr<EventLoop>> loops_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  bool running_ = false;              // guarded by mutex_
  bool driven_externally_ = false;    // guarded by mutex_
  std::size_t external_running_ = 0;  // guarded by mutex_: loops not ended yet
};

}  // namespace fastws::net
