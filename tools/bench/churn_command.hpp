// `fastws_bench churn`: the server's memory under churn. Holds a population of N connections for
// the whole run; every tick (100 ms) it replaces some of them (half end with a close frame, half
// with a reset) by as many new ones, and sends a message on a sample of the open ones (echoes and
// close replies are read and dropped). The run fails when connections end that it did not end.
// A leak, or fragmentation that the allocator never gives
// back, shows as RSS growing between the first reading (population open) and the last.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "connector.hpp"
#include "echo_message.hpp"
#include "flags.hpp"
#include "proc_stats.hpp"
#include "socket.hpp"
#include "target_flags.hpp"

namespace fastws::bench {

struct ChurnOptions {
  Target target;
  std::size_t connections = 10'000;  // the population held open
  std::size_t churn_per_s = 200;     // connections closed and replaced per second
  std::size_t messages_per_s = 10'000;
  std::size_t size = 64;
  unsigned duration_s = 600;
  unsigned report_every_s = 60;
  std::size_t batch = 500;
  pid_t server_pid = 0;
};

inline std::vector<Flag> churn_flags(ChurnOptions& o) {
  return flags_with_target(
      o.target, "ws only (ws)",
      {
          uint_flag("connections", o.connections, 1, 1'000'000, "population held open (10000)"),
          uint_flag("churn", o.churn_per_s, 0, 100'000,
                    "connections closed and replaced per second (200)"),
          uint_flag("messages", o.messages_per_s, 0, 10'000'000,
                    "messages per second over random open connections (10000)"),
          uint_flag("size", o.size, 0, 65'536, "payload bytes per message (64)"),
          uint_flag("duration", o.duration_s, 1, 86'400, "seconds (600)"),
          uint_flag("report-every", o.report_every_s, 1, 86'400, "seconds between RSS lines (60)"),
          uint_flag("batch", o.batch, 1, 100'000, "connections opened at once (500)"),
          uint_flag("server-pid", o.server_pid, 1, 1u << 22, "server PID, for its VmRSS (needed)"),
      });
}

namespace detail {

// Reads and drops whatever a connection has for us; false when the server closed it.
inline bool drain(const Fd& fd) {
  std::array<char, 4096> buffer;
  for (;;) {
    const ssize_t n = ::recv(fd.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n > 0) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
  }
}

// Ends a connection: with a masked close frame (1000) then FIN, or with a reset.
inline void end_connection(Fd& fd, bool with_close_frame) {
  if (with_close_frame) {
    (void)::send(fd.get(), masked_close_frame, sizeof masked_close_frame,
                 MSG_NOSIGNAL | MSG_DONTWAIT);
  } else {
    const linger reset{1, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  }
  fd = Fd();
}

struct ChurnTally {
  std::size_t replaced = 0;
  std::size_t messages = 0;
  std::size_t skipped_full = 0;  // the socket buffer was full: the message was not sent
  // Connections found ended (end of stream, reset, failed send) that we did not end: should be 0.
  std::size_t server_closed = 0;
};

// A progress line, on stderr: stdout's first line is the result line scripts read.
inline void print_reading(double seconds, unsigned long long rss, unsigned long long start,
                          std::optional<std::size_t> fds, const ChurnTally& tally) {
  std::fprintf(stderr,
               "churn at %.0f s: server RSS %.1f MiB (%+.1f MiB), %zd server fds, %zu replaced, "
               "%zu messages, %zu skipped (buffer full), %zu ended by the server\n",
               seconds, static_cast<double>(rss) / 1048576.0,
               (static_cast<double>(rss) - static_cast<double>(start)) / 1048576.0,
               fds ? static_cast<ssize_t>(*fds) : -1, tally.replaced, tally.messages,
               tally.skipped_full, tally.server_closed);
}

}  // namespace detail

inline int run_churn(const ChurnOptions& options) {
  if (!has_required_port(options.target, "churn")) return 2;
  if (options.target.mode != Mode::ws || options.server_pid == 0) {
    std::fprintf(stderr, "churn: needs --mode ws and --server-pid\n");
    return 2;
  }
  std::string error;
  if (!raise_fd_limit(options.connections + options.batch + 64, error)) {
    std::fprintf(stderr, "churn: %s\n", error.c_str());
    return 1;
  }
  std::vector<Fd> population;
  if (!open_connections(options.target, options.connections, options.batch, population, error)) {
    std::fprintf(stderr, "churn: %s\n", error.c_str());
    return 1;
  }
  std::vector<std::byte> frame;
  const MaskKey key = random_mask_key();
  append_frame(frame, std::vector<std::byte>(options.size, std::byte{'x'}), Opcode::binary, &key);

  using Clock = std::chrono::steady_clock;
  constexpr auto tick = std::chrono::milliseconds(100);
  constexpr std::size_t ticks_per_s = 10;
  std::this_thread::sleep_for(std::chrono::seconds(2));  // let the server settle
  const auto start_rss = process_rss_bytes(options.server_pid);
  const auto start_fds = process_fd_count(options.server_pid);
  if (!start_rss) {
    std::fprintf(stderr, "churn: cannot read VmRSS of PID %d\n", options.server_pid);
    return 1;
  }
  detail::ChurnTally tally;
  detail::print_reading(0, *start_rss, *start_rss, start_fds, tally);

  std::mt19937_64 random(std::random_device{}());
  std::uniform_int_distribution<std::size_t> pick(0, population.size() - 1);
  std::vector<std::size_t> written;  // connections written to in the previous tick
  std::vector<Fd> fresh;
  const auto start = Clock::now();
  auto next_tick = start;
  auto next_report = start + std::chrono::seconds(options.report_every_s);
  const auto end = start + std::chrono::seconds(options.duration_s);
  std::size_t tick_number = 0;
  while (Clock::now() < end) {
    next_tick += tick;
    ++tick_number;
    // Spread the per-second counts over the ticks without losing the remainders.
    const auto share = [&](std::size_t per_s) {
      return per_s * tick_number / ticks_per_s - per_s * (tick_number - 1) / ticks_per_s;
    };
    for (const std::size_t i : written) {
      if (static_cast<bool>(population[i]) && !detail::drain(population[i])) {
        ++tally.server_closed;
        population[i] = Fd();
      }
    }
    written.clear();
    // Replace: the slots that were ended, then `share` random ones.
    std::vector<std::size_t> slots;
    for (std::size_t i = 0; i < population.size(); ++i) {
      if (!static_cast<bool>(population[i])) slots.push_back(i);
    }
    for (std::size_t n = share(options.churn_per_s); n > 0; --n) {
      const std::size_t i = pick(random);
      if (!static_cast<bool>(population[i])) continue;
      detail::end_connection(population[i], n % 2 == 0);
      slots.push_back(i);
    }
    if (!slots.empty()) {
      fresh.clear();
      if (!open_connections(options.target, slots.size(), options.batch, fresh, error)) {
        std::fprintf(stderr,
                     "churn: %zu connections ended that this run did not end; reopening: %s\n",
                     tally.server_closed, error.c_str());
        return 1;
      }
      for (std::size_t k = 0; k < slots.size(); ++k) population[slots[k]] = std::move(fresh[k]);
      tally.replaced += slots.size();
    }
    for (std::size_t n = share(options.messages_per_s); n > 0; --n) {
      const std::size_t i = pick(random);
      const ssize_t sent =
          ::send(population[i].get(), frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent == static_cast<ssize_t>(frame.size())) {
        ++tally.messages;
        written.push_back(i);
      } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        ++tally.skipped_full;
      } else {
        ++tally.server_closed;  // a short or failed send: the connection is unusable
        population[i] = Fd();
      }
    }
    const auto now = Clock::now();
    if (now >= next_report) {
      next_report += std::chrono::seconds(options.report_every_s);
      if (const auto rss = process_rss_bytes(options.server_pid)) {
        detail::print_reading(std::chrono::duration<double>(now - start).count(), *rss, *start_rss,
                              process_fd_count(options.server_pid), tally);
      }
    }
    std::this_thread::sleep_until(next_tick);
  }
  for (const std::size_t i : written) {
    if (static_cast<bool>(population[i])) detail::drain(population[i]);
  }
  if (tally.server_closed != 0) {
    std::fprintf(stderr, "churn: %zu connections ended that this run did not end\n",
                 tally.server_closed);
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const auto end_rss = process_rss_bytes(options.server_pid);
  const auto end_fds = process_fd_count(options.server_pid);
  if (!end_rss) {
    std::fprintf(stderr, "churn: cannot read VmRSS of PID %d\n", options.server_pid);
    return 1;
  }
  detail::print_reading(options.duration_s, *end_rss, *start_rss, end_fds, tally);
  std::printf(
      "mode=churn connections=%zu churn_per_s=%zu messages_per_s=%zu seconds=%u "
      "rss_start=%llu rss_end=%llu growth_bytes=%lld growth_pct=%.1f fds_start=%zd fds_end=%zd "
      "replaced=%zu messages=%zu server_closed=%zu\n",
      options.connections, options.churn_per_s, options.messages_per_s, options.duration_s,
      *start_rss, *end_rss, static_cast<long long>(*end_rss) - static_cast<long long>(*start_rss),
      100.0 * (static_cast<double>(*end_rss) - static_cast<double>(*start_rss)) /
          static_cast<double>(*start_rss),
      start_fds ? static_cast<ssize_t>(*start_fds) : -1,
      end_fds ? static_cast<ssize_t>(*end_fds) : -1, tally.replaced, tally.messages,
      tally.server_closed);
  return tally.server_closed == 0 ? 0 : 1;
}

}  // namespace fastws::bench
