// How fastws_attack prints its results: one key=value line per attack as it finishes (with a
// line per bound or check under it), then a table of all of them.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "measure.hpp"

namespace fastws::attack {

inline const char* verdict(const AttackRow& row) {
  if (!row.error.empty()) return "ERROR";
  return row.failed() ? "FAIL" : "ok";
}

inline const char* cap_name(RssCap cap) {
  return cap == RssCap::stopped ? "stopped" : cap == RssCap::killed ? "killed" : "no";
}

inline char cap_mark(RssCap cap) {
  return cap == RssCap::stopped ? '+' : cap == RssCap::killed ? '!' : ' ';
}

inline void print_row(const AttackRow& row) {
  const Attack& attack = *row.attack;
  if (!row.error.empty()) {
    std::printf("attack=%s server='%s' verdict=ERROR error='%s'\n", attack.name.c_str(),
                attack.server.name.c_str(), row.error.c_str());
    std::fflush(stdout);
    return;
  }
  const RoundTrips& trips = row.round_trips;
  std::printf(
      "attack=%s server='%s' seconds=%.1f rss_before_mib=%.1f peak_rss_mib=%.1f rss_cap=%s "
      "fds_before=%zu fds_after=%zu cpu_after_pct=%.0f rtt_samples=%zu rtt_p50_ms=%.2f "
      "rtt_p99_ms=%.2f rtt_max_ms=%.2f failures=%zu%s verdict=%s\n",
      attack.name.c_str(), attack.server.name.c_str(), row.seconds, row.rss_before_mib,
      row.peak_rss_mib, cap_name(row.cap), row.fds_before, row.fds_after, row.cpu_after_percent,
      trips.samples, trips.p50_ms, trips.p99_ms, trips.max_ms, trips.failures,
      row.outcome.details.c_str(), verdict(row));
  if (trips.failures != 0) {
    std::printf("  well-behaved client, first failure: %s\n", trips.first_failure.c_str());
  }
  for (const Check& check : row.checks) {
    std::printf("  %-4s %s\n", check.ok ? "ok" : "FAIL", check.what.c_str());
  }
  std::fflush(stdout);
}

inline void print_table(const std::vector<AttackRow>& rows) {
  std::printf("\n%-22s %-22s %13s %10s %9s %8s %8s %8s %6s  %s\n", "attack", "server",
              "peak RSS MiB", "fds b/a", "CPU after", "p50 ms", "p99 ms", "max ms", "fails",
              "verdict");
  for (const AttackRow& row : rows) {
    const Attack& attack = *row.attack;
    if (!row.error.empty()) {
      std::printf("%-22s %-22s %s\n", attack.name.c_str(), attack.server.name.c_str(),
                  "(not run: see above)  ERROR");
      continue;
    }
    const std::string fds = std::to_string(row.fds_before) + "/" + std::to_string(row.fds_after);
    const RoundTrips& trips = row.round_trips;
    std::printf("%-22s %-22s %12.1f%c %10s %8.0f%% %8.2f %8.2f %8.2f %6zu  %s\n",
                attack.name.c_str(), attack.server.name.c_str(), row.peak_rss_mib,
                cap_mark(row.cap), fds.c_str(), row.cpu_after_percent, trips.p50_ms, trips.p99_ms,
                trips.max_ms, trips.failures, verdict(row));
  }
  std::printf(
      "(+: the attack was stopped when the server's RSS passed the cap; !: the server, growing "
      "on, was killed at twice the cap. Round trips: the "
      "well-behaved client's 64-byte messages sent during the attack; CPU after: the server's "
      "utime+stime in the window after it.)\n");
}

}  // namespace fastws::attack
