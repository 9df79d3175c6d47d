// What the interop tests leave for the interop matrix (scripts/interop_matrix.py makes
// docs/interop.md from it): with FASTWS_INTEROP_REPORT_DIR set, one file per test, "exit N" and
// then the peer's check lines ("ok   name" or "FAIL name: why").
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace fastws::testing {

// Writes `output` (and the run's exit `status`) as <stem>.txt; the stem defaults to the running
// test's <Suite>.<Test>.
inline void keep_for_interop_report(const std::string& output, int status, std::string stem = {}) {
  const char* dir = std::getenv("FASTWS_INTEROP_REPORT_DIR");
  if (dir == nullptr || *dir == '\0') return;
  if (stem.empty()) {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    stem = std::string(test->test_suite_name()) + "." + test->name();
  }
  std::filesystem::create_directories(dir);
  std::ofstream file(std::string(dir) + "/" + stem + ".txt");
  file << "exit " << status << "\n" << output;
}

}  // namespace fastws::testing
