// Ctrl-C / SIGTERM -> Server::stop() (a graceful stop: connections close with 1001), for as long
// as the guard lives. When it ends the signals are ignored: the process is about to exit, and a
// second signal arriving while it tears down (a supervisor repeating SIGTERM, a second Ctrl-C)
// must neither call stop() on a server that main() has already destroyed nor kill the process
// with a signal status after a clean stop.
#pragma once

#include <atomic>
#include <csignal>

#include "fastws/server.hpp"

class StopOnSignal {
 public:
  explicit StopOnSignal(fastws::Server& server) {
    target().store(&server);
    std::signal(SIGINT, &on_signal);
    std::signal(SIGTERM, &on_signal);
  }
  ~StopOnSignal() {
    std::signal(SIGINT, SIG_IGN);
    std::signal(SIGTERM, SIG_IGN);
    target().store(nullptr);
  }
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

 private:
  static std::atomic<fastws::Server*>& target() {
    static std::atomic<fastws::Server*> server{nullptr};
    return server;
  }
  // Server::stop() only writes to an eventfd: async-signal-safe.
  static void on_signal(int) {
    if (fastws::Server* server = target().load()) server->stop();
  }
};
