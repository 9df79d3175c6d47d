// One load thread: an edge-triggered epoll loop over its share of the connections. The counter
// it publishes is read by the sampling thread once per tick.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "echo_connection.hpp"
#include "socket.hpp"

namespace fastws::bench {

// A read this large takes thousands of pipelined echoes per system call.
inline constexpr std::size_t read_buffer_bytes = 128 * 1024;

class EchoWorker {
 public:
  explicit EchoWorker(std::vector<EchoConnection> connections)
      : connections_(std::move(connections)), scratch_(read_buffer_bytes) {}

  // Runs until `stop` is set or a connection fails; then failed() and error() say why.
  void run(const std::atomic<bool>& stop) {
    if (!start()) return;
    std::vector<epoll_event> events(256);
    std::uint64_t messages = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      // The timeout bounds how late a stop request is seen.
      const int ready =
          epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), 50);
      for (int i = 0; i < ready; ++i) {
        const epoll_event& event = events[static_cast<std::size_t>(i)];
        auto& connection = connections_[event.data.u64];
        if (!serve(connection, event.events, messages)) {
          fail("connection " + std::to_string(event.data.u64) + ": " + error_);
          return;
        }
      }
      messages_.store(messages, std::memory_order_relaxed);
    }
  }

  std::uint64_t messages() const noexcept { return messages_.load(std::memory_order_relaxed); }
  bool failed() const noexcept { return failed_.load(std::memory_order_acquire); }
  // Valid once failed() is true.
  const std::string& error() const noexcept { return error_; }

 private:
  bool start() {
    epoll_ = Fd(epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) {
      fail(errno_text("epoll_create1"));
      return false;
    }
    for (std::size_t i = 0; i < connections_.size(); ++i) {
      // Edge-triggered: each readiness change is reported once, so a full send buffer in
      // pipelined mode does not wake the loop over and over.
      epoll_event event{EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, {.u64 = i}};
      if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, connections_[i].fd(), &event) != 0) {
        fail(errno_text("epoll_ctl"));
        return false;
      }
    }
    return true;
  }

  bool serve(EchoConnection& connection, std::uint32_t events, std::uint64_t& messages) {
    if ((events & EPOLLERR) != 0) {
      error_ = errno_text("socket error", connect_result(connection.fd()));
      return false;
    }
    // A hang-up is found by drain(): recv() returns 0 after the last echoed bytes are checked.
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) != 0 &&
        !connection.drain(scratch_, messages, error_)) {
      return false;
    }
    return (events & EPOLLOUT) == 0 || connection.flush(error_);
  }

  void fail(std::string message) {
    error_ = std::move(message);
    failed_.store(true, std::memory_order_release);
  }

  std::vector<EchoConnection> connections_;
  std::vector<std::byte> scratch_;
  Fd epoll_;
  std::atomic<std::uint64_t> messages_{0};
  std::atomic<bool> failed_{false};
  std::string error_;
};

}  // namespace fastws::bench
