// What the benchmark reads about processes from /proc: a server's CPU time and resident memory,
// and the generator's own CPU time (to show it is cheaper than the server it loads).
#pragma once

#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace fastws::bench {

// utime + stime of `pid` in seconds (proc(5): fields 14 and 15 of /proc/PID/stat, in clock
// ticks). The command name (field 2) may hold spaces and parentheses, so fields are counted from
// the last ')'.
inline std::optional<double> process_cpu_seconds(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(file, line)) return std::nullopt;
  const auto name_end = line.rfind(')');
  if (name_end == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(name_end + 1));
  std::string skipped;
  for (int field = 3; field <= 13; ++field) fields >> skipped;  // state .. cmajflt
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  if (!(fields >> utime >> stime)) return std::nullopt;
  const long ticks_per_second = sysconf(_SC_CLK_TCK);
  if (ticks_per_second <= 0) return std::nullopt;
  return static_cast<double>(utime + stime) / static_cast<double>(ticks_per_second);
}

// VmRSS of `pid` in bytes (proc(5): /proc/PID/status, "VmRSS:  1234 kB").
inline std::optional<unsigned long long> process_rss_bytes(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(file, line)) {
    if (!line.starts_with("VmRSS:")) continue;
    std::istringstream value(line.substr(6));
    unsigned long long kib = 0;
    if (!(value >> kib)) return std::nullopt;
    return kib * 1024;
  }
  return std::nullopt;
}

inline double self_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace fastws::bench
