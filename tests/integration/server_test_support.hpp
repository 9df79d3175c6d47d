// Helpers for the server tests over 127.0.0.1 beyond test_peer.hpp: request heads with any
// fields, bounded waits, reading a refusal until the server closes, thread-safe recording of
// what callbacks saw, small kernel buffers for peers that never read, and the timed echoes of a
// well-behaved client beside an attack.
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "test_peer.hpp"

// Tests scale their load down under TSan, which runs the server ~10x slower (g++ says so with a
// macro, clang with __has_feature).
#if defined(__SANITIZE_THREAD__)
#define FASTWS_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FASTWS_UNDER_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FASTWS_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FASTWS_UNDER_ASAN 1
#endif
#endif

namespace fastws::testing {

// How many times slower than a release build the server may run here (the sanitizer trees are
// debug builds as well): time bounds on what the server does stretch by it.
// Under a sanitizer, whose allocator and shadow memory change the process's RSS, bounds on the
// server's memory are not judged (`sanitized`).
#if defined(FASTWS_UNDER_TSAN) || defined(FASTWS_UNDER_ASAN)
inline constexpr int slowdown = 20;
inline constexpr bool sanitized = true;
#else
inline constexpr int slowdown = 1;
inline constexpr bool sanitized = false;
#endif

// A request head: the request line, then each field as given ("Name: value"), then the blank
// line.
inline std::string request_head(std::string_view request_line,
                                std::initializer_list<std::string_view> fields) {
  std::string head(request_line);
  head += "\r\n";
  for (std::string_view field : fields) {
    head += field;
    head += "\r\n";
  }
  head += "\r\n";
  return head;
}

// The status code of an HTTP response ("HTTP/1.1 404 ..." -> 404), or 0 if it has none.
inline int status_of(std::string_view response) {
  if (response.size() < 12 || !response.starts_with("HTTP/1.1 ")) return 0;
  int status = 0;
  for (char c : response.substr(9, 3)) {
    if (c < '0' || c > '9') return 0;
    status = status * 10 + (c - '0');
  }
  return status;
}

// The value of the first field `name` (exact spelling) in a response head, "" if absent.
inline std::string field_of(std::string_view head, std::string_view name) {
  const std::string needle = "\r\n" + std::string(name) + ": ";
  const auto start = head.find(needle);
  if (start == std::string_view::npos) return {};
  const auto value = start + needle.size();
  return std::string(head.substr(value, head.find("\r\n", value) - value));
}

// What arrived on a socket until the peer closed it (or `count` bytes arrived), and whether it
// closed before the limit. Reads the fd directly: do not mix with RawPeer's buffered reads.
struct ReadToEnd {
  std::string bytes;
  bool closed = false;  // EOF or reset, before the limit
};

inline ReadToEnd read_to_end(int fd, std::chrono::milliseconds limit = 2s,
                             std::size_t count = SIZE_MAX) {
  ReadToEnd result;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (result.bytes.size() < count) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return result;
    pollfd entry{fd, POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(left.count())) != 1) return result;
    char buffer[65536];
    const ssize_t n =
        ::recv(fd, buffer, std::min(sizeof buffer, count - result.bytes.size()), MSG_DONTWAIT);
    if (n > 0) {
      result.bytes.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || errno == ECONNRESET) {
      result.closed = true;
      return result;
    }
  }
  return result;
}

// Exactly `count` bytes, or fewer if the connection ended or the limit passed.
inline std::string read_bytes(int fd, std::size_t count, std::chrono::milliseconds limit = 2s) {
  return read_to_end(fd, limit, count).bytes;
}

// Polls `condition` every few milliseconds for up to `limit`; true once it held.
inline bool wait_until(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = 2s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

inline std::chrono::milliseconds since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

// Shrinks a peer's receive buffer (before the handshake) so that a server sending to a peer that
// never reads reaches its own backlog and limits after a few MiB instead of tens of MiB. Not
// smaller: reading the backlog later through a 4 KiB window crawls (delayed ACKs), ~40 KB/s.
inline void shrink_receive_buffer(int fd) {
  int small = 64 * 1024;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
}

// The round trips of a well-behaved WebSocket client beside an attack on the same loop.
struct RoundTrips {
  std::vector<std::chrono::microseconds> times;
  bool failed = false;  // an echo did not come back (in time, or intact)

  // The p-quantile (0.5 median, 1 the largest); max() when there is none.
  std::chrono::microseconds percentile(double p) const {
    if (times.empty()) return std::chrono::microseconds::max();
    std::vector<std::chrono::microseconds> sorted = times;
    std::sort(sorted.begin(), sorted.end());
    const auto rank = static_cast<std::size_t>(p * static_cast<double>(sorted.size()));
    return sorted[std::min(sorted.size() - 1, rank)];
  }
  std::string summary() const {
    const auto us = [&](double p) { return std::to_string(percentile(p).count()) + " us"; };
    return std::to_string(times.size()) + " round trips: p50 " + us(0.5) + ", p99 " + us(0.99) +
           ", max " + us(1.0);
  }
};

// Opens a WebSocket to an echo server on `port` and, for `duration`, sends a short text message
// every 2 ms and times its echo (each awaited at most 2 s).
inline RoundTrips time_echoes(std::uint16_t port, std::chrono::milliseconds duration) {
  RoundTrips result;
  RawPeer client(port, 2s);
  if (status_of(client.handshake()) != 101) {
    result.failed = true;
    return result;
  }
  const auto end = std::chrono::steady_clock::now() + duration;
  for (int i = 0; std::chrono::steady_clock::now() < end; ++i) {
    const std::string text = "round trip " + std::to_string(i);
    const auto sent = std::chrono::steady_clock::now();
    const auto echo = client.send_text(text) ? client.read_frame() : std::nullopt;
    if (!echo || echo->payload_text() != text) {
      result.failed = true;
      return result;
    }
    result.times.push_back(std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - sent));
    std::this_thread::sleep_for(2ms);
  }
  return result;
}

// Values recorded by callbacks on the loop thread and read by the test thread.
template <class T>
class Recorded {
 public:
  void add(T value) {
    std::lock_guard lock(mutex_);
    values_.push_back(std::move(value));
  }
  std::vector<T> all() const {
    std::lock_guard lock(mutex_);
    return values_;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return values_.size();
  }
  // Waits (bounded) until at least `count` values were recorded.
  bool wait_for(std::size_t count, std::chrono::milliseconds limit = 2s) const {
    return wait_until([&] { return size() >= count; }, limit);
  }

 private:
  mutable std::mutex mutex_;
  std::vector<T> values_;
};

// The `index`-th connection an on_open handler recorded (waits for it, bounded); empty if none.
inline Conn wait_for_open(const Recorded<Conn>& opened, std::size_t index = 0) {
  if (!opened.wait_for(index + 1)) return {};
  return opened.all()[index];
}

}  // namespace fastws::testing
