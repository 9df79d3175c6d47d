// A console reporter that also remembers the CPU time per iteration of each benchmark, so a
// program can print ratios against a peer (memcpy) measured in the very same run. CPU time, not
// wall time: the benchmarks are single-threaded, and on a busy machine wall time also counts the
// time the thread was not running.
#pragma once

#include <benchmark/benchmark.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fastws::bench {

class TimingReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      // The median when repetitions are aggregated, otherwise the (last) plain run.
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type != Run::RT_Iteration && !median) continue;
      std::string name = run.run_name.function_name;
      if (!run.run_name.args.empty()) name += "/" + run.run_name.args;
      seconds_[name] = run.GetAdjustedCPUTime() / benchmark::GetTimeUnitMultiplier(run.time_unit);
    }
  }

  // Seconds per iteration of "function/args" (e.g. "apply_mask/65536"), if it ran.
  std::optional<double> seconds(const std::string& name) const {
    const auto found = seconds_.find(name);
    if (found == seconds_.end()) return std::nullopt;
    return found->second;
  }

  // How fast `name` is relative to `peer` when both do the same work per iteration (> 1: faster).
  std::optional<double> speed_ratio(const std::string& name, const std::string& peer) const {
    const auto own = seconds(name);
    const auto other = seconds(peer);
    if (!own || !other || *own <= 0) return std::nullopt;
    return *other / *own;
  }

 private:
  std::map<std::string, double> seconds_;
};

}  // namespace fastws::bench
