// One attack from start to end: a fresh server, the well-behaved client beside it, the attack on
// its own thread (at a lower priority than the client, which shares its core), and the server's
// figures: peak RSS, file descriptors before and after, CPU after the attack stopped.
#pragma once

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "attack.hpp"
#include "bench/proc_stats.hpp"
#include "server_process.hpp"
#include "well_behaved_client.hpp"

namespace fastws::attack {

struct RunConfig {
  std::string build_dir = "build/release";
  std::optional<int> server_cpu;        // pin the server here; nothing: not pinned
  double rss_cap_mib = 1024;            // stop an attack once the server's RSS passes this
  std::optional<double> rss_bound_mib;  // replaces every attack's memory bound
  std::chrono::milliseconds cpu_window{1000};
};

// What the RSS cap did to an attack.
enum class RssCap {
  not_reached,
  stopped,  // the attack was stopped when the server's RSS passed the cap
  killed,   // the server grew on to twice the cap (on what it had already read) and was killed
};

struct AttackRow {
  const Attack* attack = nullptr;
  std::string error;  // the attack could not be run; no figures
  double seconds = 0;
  double rss_before_mib = 0;
  double peak_rss_mib = 0;
  RssCap cap = RssCap::not_reached;
  std::size_t fds_before = 0;
  std::size_t fds_after = 0;
  double cpu_after_percent = 0;
  RoundTrips round_trips;
  AttackOutcome outcome;
  std::vector<Check> checks;  // the bounds, then the attack's own checks

  bool failed() const {
    if (!error.empty()) return true;
    for (const Check& check : checks) {
      if (!check.ok) return true;
    }
    return false;
  }
};

namespace detail {

inline double mib(unsigned long long bytes) {
  return static_cast<double>(bytes) / 1048576.0;
}

inline std::string format(const char* pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

// The server's fds once the attack's connections are gone: they may take a moment to be
// noticed, so this waits (5 s at most) for the count to come back to `before`.
inline std::size_t settled_fd_count(pid_t pid, std::size_t before) {
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  std::size_t count = bench::process_fd_count(pid).value_or(0);
  while (count > before && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    count = bench::process_fd_count(pid).value_or(0);
  }
  return count;
}

}  // namespace detail

inline AttackRow measure(const Attack& attack, const RunConfig& config) {
  AttackRow row;
  row.attack = &attack;
  ServerProcess server;
  std::vector<std::string> argv{config.build_dir + "/" + attack.server.binary, "--port", "0"};
  argv.insert(argv.end(), attack.server.args.begin(), attack.server.args.end());
  if (!server.start(argv, config.server_cpu, row.error)) return row;
  const pid_t pid = server.pid();

  WellBehavedClient client(server.port(), attack.server.client);
  client.start();
  if (!client.wait_until_answered(std::chrono::seconds(5))) {
    row.error = "the well-behaved client got no answer before the attack";
    return row;
  }
  row.fds_before = bench::process_fd_count(pid).value_or(0);
  row.rss_before_mib = detail::mib(bench::process_rss_bytes(pid).value_or(0));

  std::atomic<bool> stop{false};
  std::atomic<bool> done{false};
  const AttackContext context{server.port(), &stop};
  const auto start = Clock::now();
  std::thread attacker([&] {
    // The client shares this core: a niceness of 10 gives it about ten times the attack's share
    // whenever both want to run (setpriority on a thread id sets that thread's nice value).
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
    try {
      row.outcome = attack.run(context);
    } catch (const std::exception& e) {
      row.outcome.error = e.what();
    }
    done = true;
  });
  double sampled_peak = 0;
  bool died = false;
  while (!done) {
    const double rss = detail::mib(bench::process_rss_bytes(pid).value_or(0));
    sampled_peak = std::max(sampled_peak, rss);
    if (rss > config.rss_cap_mib && row.cap == RssCap::not_reached) {
      row.cap = RssCap::stopped;
      stop = true;
    }
    if (rss > 2 * config.rss_cap_mib && !died) {
      server.kill();  // no attack may take the machine's memory
      row.cap = RssCap::killed;
      died = true;
    }
    if (!died && server.exited()) {
      died = true;
      stop = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  attacker.join();
  const auto end = Clock::now();
  row.seconds = std::chrono::duration<double>(end - start).count();

  if (!died) {
    const double cpu_before = bench::process_cpu_seconds(pid).value_or(0);
    std::this_thread::sleep_for(config.cpu_window);
    const double cpu_after = bench::process_cpu_seconds(pid).value_or(0);
    row.cpu_after_percent =
        100 * (cpu_after - cpu_before) / std::chrono::duration<double>(config.cpu_window).count();
    row.fds_after = detail::settled_fd_count(pid, row.fds_before);
    // VmHWM: the true peak, between the 10 ms samples too.
    row.peak_rss_mib =
        std::max(sampled_peak, detail::mib(bench::process_status_bytes(pid, "VmHWM").value_or(0)));
    died = server.exited();
  } else {
    row.peak_rss_mib = sampled_peak;
  }
  client.stop();
  row.round_trips = client.between(start, end);
  if (!row.outcome.error.empty()) {
    row.error = row.outcome.error;
    return row;
  }

  const std::optional<double> bound =
      config.rss_bound_mib ? config.rss_bound_mib : attack.max_peak_rss_mib;
  // An attack cut short by the cap held no bound: the server would have grown on.
  if (bound) {
    row.checks.push_back({"peak server RSS " + detail::format("%.1f", row.peak_rss_mib) +
                              " MiB under " + detail::format("%.0f", *bound) + " MiB" +
                              (row.cap == RssCap::stopped  ? " (attack stopped at the RSS cap)"
                               : row.cap == RssCap::killed ? " (server killed at twice the RSS cap)"
                                                           : ""),
                          row.peak_rss_mib < *bound && row.cap == RssCap::not_reached});
  }
  if (row.cap != RssCap::killed) {
    row.checks.push_back({"server still running" +
                              (died ? " (it ended: " + server.exit_text() + ")" : std::string()),
                          !died});
  }
  if (!died) {
    row.checks.push_back({"no fd leak (" + std::to_string(row.fds_after) + " after, " +
                              std::to_string(row.fds_before) + " before)",
                          row.fds_after <= row.fds_before});
  }
  row.checks.insert(row.checks.end(), row.outcome.checks.begin(), row.outcome.checks.end());
  return row;
}

}  // namespace fastws::attack
