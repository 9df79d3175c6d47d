// A well-behaved client beside a hostile one: on its own thread it sends one text message and
// waits for one answer, again and again, and keeps the longest round trip, so that a test can
// assert that the loop went on serving it.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "test_peer.hpp"

namespace fastws::testing {

class PoliteClient {
 public:
  // Connects and upgrades on the calling thread (check connected()), then starts the round
  // trips.
  PoliteClient(std::uint16_t port, std::string request, std::string_view path = "/")
      : peer_(port), request_(std::move(request)) {
    connected_ = peer_.handshake(path).find(" 101 ") != std::string::npos;
    if (connected_) thread_ = std::thread([this] { run(); });
  }
  ~PoliteClient() { stop(); }
  PoliteClient(const PoliteClient&) = delete;
  PoliteClient& operator=(const PoliteClient&) = delete;

  bool connected() const { return connected_; }

  // Ends the round trips and the connection (so that a server stopping next need not wait for
  // it). The longest round trip, or a duration too long to pass any bound if one got no answer
  // (the peer waits 5 s at most).
  std::chrono::milliseconds stop() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
    ::shutdown(peer_.fd(), SHUT_RDWR);
    return failed_ ? std::chrono::milliseconds::max() : longest_;
  }
  int round_trips() const { return round_trips_; }

 private:
  void run() {
    while (!done_) {
      const auto start = std::chrono::steady_clock::now();
      if (!peer_.send_text(request_) || !peer_.read_frame()) {
        failed_ = true;
        return;
      }
      longest_ = std::max(longest_, std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now() - start));
      ++round_trips_;
      std::this_thread::sleep_for(5ms);
    }
  }

  RawPeer peer_;
  std::string request_;
  bool connected_ = false;
  std::atomic<bool> done_{false};
  // Written by the thread, read after it was joined.
  bool failed_ = false;
  std::chrono::milliseconds longest_{0};
  std::atomic<int> round_trips_{0};
  std::thread thread_;  // last: starts after everything it uses
};

}  // namespace fastws::testing
