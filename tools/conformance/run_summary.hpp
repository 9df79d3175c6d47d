// What both commands print when the cases are done, and the exit status they return.
#pragma once

#include <string>

#include "conformance/report.hpp"

namespace fastws::conformance {

// A line per case as it finishes: "[ 12/517] 1.2.4      OK             OK 1000      3 ms".
void print_case_line(std::size_t position, std::size_t total, const CaseRecord& record);

// Writes the index files and prints the counts per verdict; returns 0 when no case failed
// (Report::failures with `require_ok`), 1 otherwise, 2 when the reports could not be written.
int finish_run(const Report& report, const std::string& directory, bool require_ok);

}  // namespace fastws::conformance
