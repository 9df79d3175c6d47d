#include "conformance/run_summary.hpp"

#include <cstdio>

namespace fastws::conformance {

void print_case_line(std::size_t position, std::size_t total, const CaseRecord& record) {
  const auto remote = record.run ? record.run->close_record().remote_code : std::nullopt;
  std::printf("[%3zu/%zu] %-8s %-13s %-16s %5s %6lld ms\n", position, total,
              record.spec->id.c_str(), std::string(verdict_name(record.outcome.behavior)).c_str(),
              std::string(verdict_name(record.outcome.behavior_close)).c_str(),
              remote ? std::to_string(*remote).c_str() : "-",
              static_cast<long long>(record.duration.count()));
  if (record.outcome.behavior == Verdict::failed) {
    // No run: the case never started (its connection or handshake failed), the close says why.
    const std::string& why =
        record.run == nullptr ? record.outcome.result_close : record.outcome.result;
    std::printf("           %s\n", why.c_str());
  }
  std::fflush(stdout);
}

int finish_run(const Report& report, const std::string& directory, bool require_ok) {
  std::string error;
  if (!report.finish(error)) {
    std::fprintf(stderr, "fastws-conformance: %s\n", error.c_str());
    return 2;
  }
  std::printf("\nbehavior:");
  for (const auto& [verdict, count] : report.behavior_counts()) {
    std::printf("  %s %zu", verdict.c_str(), count);
  }
  std::printf("\nclose (other than OK):");
  const auto closes = report.close_counts();
  if (closes.empty()) std::printf("  none");
  for (const auto& [verdict, count] : closes) std::printf("  %s %zu", verdict.c_str(), count);
  std::printf("\nreport: %s/index.html, %s/index.json\n", directory.c_str(), directory.c_str());
  const auto failed = report.failures(require_ok);
  if (failed.empty()) {
    std::printf("no case failed\n");
    return 0;
  }
  std::printf("FAILED (%zu):", failed.size());
  for (const std::string& id : failed) std::printf(" %s", id.c_str());
  std::printf("\n");
  return 1;
}

}  // namespace fastws::conformance
