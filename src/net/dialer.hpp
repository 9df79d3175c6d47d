// Opening a TCP (or Unix) connection without blocking the loop: each address in turn, in the
// order resolved, until one connects (RFC 6555's fallback without its racing: a dead first
// address costs one attempt timeout, not the whole budget). The deadline covers all attempts.
//
// Threading: the loop thread only. The Dialer must outlive its attempt; cancel() (or its
// destructor) stops it without calling `done`.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <system_error>
#include <vector>

#include "net/event_loop.hpp"
#include "net/socket_address.hpp"
#include "net/timer_wheel.hpp"
#include "net/unique_fd.hpp"

namespace fastws::net {

class Dialer final : private IoHandler, private FlushHandler, private TimerNode {
 public:
  struct Result {
    UniqueFd socket;        // connected, non-blocking; empty on failure
    SocketAddress address;  // the address it connected to
    std::error_code error;  // the last attempt's error on failure (timed_out for the deadline)
    std::string message;    // readable: "127.0.0.1:9 refused the connection" ...
  };
  using Done = std::function<void(Result)>;

  explicit Dialer(EventLoop& loop) noexcept : loop_(loop) {}
  ~Dialer() override;
  Dialer(const Dialer&) = delete;
  Dialer& operator=(const Dialer&) = delete;

  // Starts dialing; `done` runs once, on the loop thread, never from inside this call.
  void dial(std::vector<SocketAddress> addresses, std::chrono::milliseconds timeout, Done done);
  void cancel() noexcept;

 private:
  void on_io(std::uint32_t events) override;
  void on_flush() override;  // the first attempt, at the end of the loop iteration of dial()
  void on_timer() override;
  void try_next();
  void finish(Result result);
  std::string describe(const SocketAddress& address, const std::error_code& error) const;

  EventLoop& loop_;
  std::vector<SocketAddress> addresses_;
  std::size_t next_ = 0;
  UniqueFd attempt_;  // the socket being connected
  std::chrono::steady_clock::time_point deadline_;
  std::error_code last_error_;
  std::string last_message_;
  Done done_;
};

}  // namespace fastws::net
