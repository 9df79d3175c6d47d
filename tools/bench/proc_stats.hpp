// What the benchmarks read about processes from /proc: a server's CPU time, resident memory and
// open file descriptors, and the generator's own CPU time (to show it is cheaper than the server
// it loads).
#pragma once

#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>

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

// A "Name:  1234 kB" field of /proc/PID/status (proc(5)) in bytes: VmRSS (resident now) or
// VmHWM (the most it was ever resident).
inline std::optional<unsigned long long> process_status_bytes(pid_t pid, std::string_view field) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(file, line)) {
    if (!line.starts_with(field) || line.size() <= field.size() || line[field.size()] != ':') {
      continue;
    }
    std::istringstream value(line.substr(field.size() + 1));
    unsigned long long kib = 0;
    if (!(value >> kib)) return std::nullopt;
    return kib * 1024;
  }
  return std::nullopt;
}

inline std::optional<unsigned long long> process_rss_bytes(pid_t pid) {
  return process_status_bytes(pid, "VmRSS");
}

// Open file descriptors of `pid`: the entries of /proc/PID/fd.
inline std::optional<std::size_t> process_fd_count(pid_t pid) {
  std::error_code error;
  std::size_t count = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", error), end;
       !error && it != end; it.increment(error)) {
    ++count;
  }
  if (error) return std::nullopt;
  return count;
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
