// For the Asio adapter's tests: an io_context run by a few threads of the test, and what the
// callbacks learn about the thread they ran on.
#pragma once

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "fastws/asio.hpp"
#include "server_test_support.hpp"

namespace fastws::testing {

// Runs `io` on `count` threads until it runs out of work (every loop it drives has ended) or
// the test ends (then it is stopped first).
class IoThreads {
 public:
  IoThreads(boost::asio::io_context& io, unsigned count) : io_(io), count_(count) {
    for (unsigned i = 0; i < count; ++i) {
      threads_.emplace_back([this] {
        io_.run();
        finished_.fetch_add(1);
      });
    }
  }
  ~IoThreads() {
    io_.stop();
    join();
  }
  void join() {
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
  }
  // True once every thread's io_.run() returned on its own (nothing left to do).
  bool all_returned(std::chrono::milliseconds limit = 5s) const {
    return wait_until([&] { return finished_.load() == count(); }, limit);
  }
  std::size_t count() const noexcept { return count_; }
  // Whether `id` is one of the threads running the io_context.
  bool runs_io(std::thread::id id) const {
    for (const std::thread& thread : threads_) {
      if (thread.get_id() == id) return true;
    }
    return false;
  }

 private:
  boost::asio::io_context& io_;
  const std::size_t count_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> finished_{0};
};

}  // namespace fastws::testing
