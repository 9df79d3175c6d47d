// `fastws_bench rate`: tcpkali's rated test, the one uWebSockets publishes
// (`tcpkali --websocket -c 100 -r 10k -m 'hello world!!13212312!' -T 10s`): every connection
// sends --rate messages per second for --duration seconds whatever comes back, then waits up to
// --drain milliseconds for the last echoes. It prints what tcpkali prints (MiB sent and
// received, bandwidth), and what tcpkali does not: messages echoed against messages sent (a
// server that cannot keep up falls behind, and this says by how much) and the server's CPU time
// for all of it. Every echoed byte is checked, as in `fastws_bench echo`.
#pragma once

#include <sys/epoll.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "connector.hpp"
#include "echo_connection.hpp"
#include "echo_message.hpp"
#include "echo_worker.hpp"
#include "flags.hpp"
#include "proc_stats.hpp"
#include "socket.hpp"
#include "target_flags.hpp"

namespace fastws::bench {

struct RateOptions {
  Target target;
  std::size_t connections = 100;
  std::uint64_t rate = 10'000;  // messages per second per connection
  unsigned duration_s = 10;
  unsigned drain_ms = 2000;
  std::string message = "hello world!!13212312!";
  pid_t server_pid = 0;  // 0: no server CPU figures
};

inline std::vector<Flag> rate_flags(RateOptions& o) {
  return flags_with_target(
      o.target, "ws (text frames) or tcp (the bare message, for a TCP echo server) (ws)",
      {
          uint_flag("connections", o.connections, 1, 1'000'000, "connections (100)"),
          uint_flag("rate", o.rate, 1, 10'000'000, "messages per second per connection (10000)"),
          uint_flag("duration", o.duration_s, 1, 3600, "seconds of sending (10)"),
          uint_flag("drain", o.drain_ms, 0, 60'000,
                    "milliseconds to wait for the last echoes after sending stops (2000)"),
          string_flag("message", o.message, "the message (hello world!!13212312!)"),
          uint_flag("server-pid", o.server_pid, 1, 1u << 22, "server PID, for its CPU time"),
      });
}

struct RateResult {
  std::uint64_t sent_messages = 0;
  std::uint64_t echoed_messages = 0;
  std::uint64_t sent_bytes = 0;
  std::uint64_t received_bytes = 0;
  double send_seconds = 0;  // the rated part
  double seconds = 0;       // with the wait for the last echoes
  std::optional<double> server_cpu_s;
  double client_cpu_s = 0;
};

namespace detail {

using Clock = std::chrono::steady_clock;

// The connections and the one loop that paces them: each tick (a millisecond at most) every
// connection may send what its rate allows since the start, and what comes back is checked.
class RatedLoad {
 public:
  RatedLoad(const RateOptions& options, std::vector<Fd> fds, const EchoMessage& message)
      : rate_(options.rate), buffers_(message, 0, read_buffer_bytes), scratch_(read_buffer_bytes) {
    for (Fd& fd : fds) {
      connections_.emplace_back(std::move(fd), 0, buffers_.streams());
      connections_.back().limit_messages_sent(0);
    }
  }

  // Sends at the rate for `send_for` from `start`, then only reads until every message came back
  // or `drain` passed. False on a failure, described in `error`.
  bool run(Clock::time_point start, std::chrono::milliseconds send_for,
           std::chrono::milliseconds drain, std::string& error) {
    epoll_ = Fd(epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) {
      error = errno_text("epoll_create1");
      return false;
    }
    for (std::size_t i = 0; i < connections_.size(); ++i) {
      // Edge-triggered, as in EchoWorker; every tick writes what became due anyway.
      epoll_event event{EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, {.u64 = i}};
      if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, connections_[i].fd(), &event) != 0) {
        error = errno_text("epoll_ctl");
        return false;
      }
    }
    const auto stop_sending = start + send_for;
    const auto give_up = stop_sending + drain;
    std::vector<epoll_event> events(256);
    using tick = std::chrono::milliseconds;
    tick::rep last_tick = -1;
    for (;;) {
      const auto now = Clock::now();
      // Whole ticks: what became due is written once per tick, in one send() per connection,
      // not a message at a time whenever an echo wakes the loop.
      const auto ticks = std::min(std::chrono::duration_cast<tick>(now - start), send_for);
      if (ticks.count() != last_tick) {
        last_tick = ticks.count();
        const auto due = static_cast<std::uint64_t>(rate_ * ticks / std::chrono::seconds(1));
        for (std::size_t i = 0; i < connections_.size(); ++i) {
          connections_[i].limit_messages_sent(due);
          if (!connections_[i].flush(error)) return fail(i, error);
        }
      }
      if (now >= stop_sending && (all_echoed() || now >= give_up)) return true;
      const int ready = epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), 1);
      for (int e = 0; e < ready; ++e) {
        const epoll_event& event = events[static_cast<std::size_t>(e)];
        EchoConnection& connection = connections_[event.data.u64];
        if ((event.events & EPOLLERR) != 0) {
          error = errno_text("socket error", connect_result(connection.fd()));
          return fail(event.data.u64, error);
        }
        if ((event.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) != 0 &&
            !connection.drain(scratch_, echoed_, error)) {
          return fail(event.data.u64, error);
        }
      }
    }
  }

  std::uint64_t echoed_messages() const noexcept { return echoed_; }

  // Whole messages sent, and bytes both ways, over all connections.
  void totals(RateResult& result) const noexcept {
    const EchoStreams streams = buffers_.streams();
    for (const EchoConnection& c : connections_) {
      result.sent_messages += c.bytes_sent() / streams.out_period;
      result.sent_bytes += c.bytes_sent();
      result.received_bytes += c.echo_bytes();
    }
    result.echoed_messages = echoed_;
  }

 private:
  bool all_echoed() const noexcept {
    RateResult sums;
    totals(sums);
    return sums.echoed_messages * buffers_.streams().out_period == sums.sent_bytes;
  }

  static bool fail(std::size_t index, std::string& error) {
    error = "connection " + std::to_string(index) + ": " + error;
    return false;
  }

  std::uint64_t rate_;
  PipelinedBuffers buffers_;
  std::vector<EchoConnection> connections_;
  std::vector<std::byte> scratch_;
  Fd epoll_;
  std::uint64_t echoed_ = 0;
};

inline double mib(std::uint64_t bytes) {
  return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

inline void print_rate(const RateOptions& options, std::size_t frame_bytes,
                       const RateResult& result) {
  const double echoed_fraction =
      result.sent_messages > 0
          ? static_cast<double>(result.echoed_messages) / static_cast<double>(result.sent_messages)
          : 0;
  std::printf(
      "mode=%s connections=%zu rate=%llu seconds=%.2f drain_seconds=%.2f message_bytes=%zu "
      "frame_bytes=%zu sent_messages=%llu echoed_messages=%llu echoed_fraction=%.4f "
      "sent_bytes=%llu received_bytes=%llu sent_mib=%.1f received_mib=%.1f "
      "echoed_per_s=%.0f client_cpu_s=%.2f",
      mode_name(options.target.mode), options.connections,
      static_cast<unsigned long long>(options.rate), result.send_seconds,
      result.seconds - result.send_seconds, options.message.size(), frame_bytes,
      static_cast<unsigned long long>(result.sent_messages),
      static_cast<unsigned long long>(result.echoed_messages), echoed_fraction,
      static_cast<unsigned long long>(result.sent_bytes),
      static_cast<unsigned long long>(result.received_bytes), mib(result.sent_bytes),
      mib(result.received_bytes), static_cast<double>(result.echoed_messages) / result.seconds,
      result.client_cpu_s);
  if (result.server_cpu_s) {
    const double per_cpu = *result.server_cpu_s > 0
                               ? static_cast<double>(result.echoed_messages) / *result.server_cpu_s
                               : 0;
    std::printf(" server_cpu_s=%.2f echoed_per_server_cpu_s=%.0f", *result.server_cpu_s, per_cpu);
  }
  // tcpkali's summary: totals, then bits per second per connection and in all (down, up).
  const double megabits = 8.0 / 1e6;
  std::printf(
      "\nTotal data sent:     %.1f MiB (%llu bytes)\n"
      "Total data received: %.1f MiB (%llu bytes)\n"
      "Bandwidth per channel: %.3f Mbps\n"
      "Aggregate bandwidth: %.3f down, %.3f up Mbps\n"
      "Messages: %llu sent, %llu echoed (%.2f %%), target %llu\n"
      "Test duration: %.2f s of sending, %.2f s for the last echoes\n",
      mib(result.sent_bytes), static_cast<unsigned long long>(result.sent_bytes),
      mib(result.received_bytes), static_cast<unsigned long long>(result.received_bytes),
      static_cast<double>(result.sent_bytes + result.received_bytes) * megabits / result.seconds /
          static_cast<double>(options.connections),
      static_cast<double>(result.received_bytes) * megabits / result.seconds,
      static_cast<double>(result.sent_bytes) * megabits / result.seconds,
      static_cast<unsigned long long>(result.sent_messages),
      static_cast<unsigned long long>(result.echoed_messages), 100.0 * echoed_fraction,
      static_cast<unsigned long long>(options.rate * options.duration_s * options.connections),
      result.send_seconds, result.seconds - result.send_seconds);
  if (result.server_cpu_s) {
    std::printf("Server CPU: %.2f s (%.0f %% of one core over the test)\n", *result.server_cpu_s,
                100.0 * *result.server_cpu_s / result.seconds);
  }
  std::printf("This client used %.2f CPU-s\n", result.client_cpu_s);
}

}  // namespace detail

inline int run_rate(const RateOptions& options) {
  if (!has_required_port(options.target, "rate")) return 2;
  std::string error;
  if (!raise_fd_limit(options.connections + 64, error)) {
    std::fprintf(stderr, "rate: %s\n", error.c_str());
    return 1;
  }
  std::vector<Fd> fds;
  if (!open_connections(options.target, options.connections, 500, fds, error)) {
    std::fprintf(stderr, "rate: %s\n", error.c_str());
    return 1;
  }
  const MaskKey key = random_mask_key();
  const auto text = std::as_bytes(std::span(options.message));
  const EchoMessage message(options.target.mode, text, key, Opcode::text);
  detail::RatedLoad load(options, std::move(fds), message);

  RateResult result;
  const auto server_cpu_before =
      options.server_pid != 0 ? process_cpu_seconds(options.server_pid) : std::optional<double>{};
  const double client_cpu_before = self_cpu_seconds();
  const auto start = detail::Clock::now();
  const std::chrono::milliseconds send_for = std::chrono::seconds(options.duration_s);
  if (!load.run(start, send_for, std::chrono::milliseconds(options.drain_ms), error)) {
    std::fprintf(stderr, "rate: %s\n", error.c_str());
    return 1;
  }
  const auto end = detail::Clock::now();
  result.client_cpu_s = self_cpu_seconds() - client_cpu_before;
  const auto server_cpu_after =
      options.server_pid != 0 ? process_cpu_seconds(options.server_pid) : std::optional<double>{};
  if (server_cpu_before && server_cpu_after) {
    result.server_cpu_s = *server_cpu_after - *server_cpu_before;
  }
  result.send_seconds = std::chrono::duration<double>(send_for).count();
  result.seconds = std::chrono::duration<double>(end - start).count();
  load.totals(result);
  detail::print_rate(options, message.wire_out().size(), result);
  return 0;
}

}  // namespace fastws::bench
