// The reports, laid out as the official suite's: DIR/index.json maps agent -> case id ->
// {behavior, behaviorClose, duration (ms), remoteCloseCode, reportfile}; each case has its own
// JSON file (what was sent, expected and observed, the wire log), and DIR/index.html is a
// static table of every verdict.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "conformance/case_run.hpp"
#include "conformance/catalogue.hpp"

namespace fastws::conformance {

// One finished case.
struct CaseRecord {
  const CaseSpec* spec = nullptr;
  std::size_t number = 0;  // 1-based position in the catalogue
  std::string agent;
  std::string started;  // UTC, ISO 8601
  bool fuzzer_is_client = true;
  Outcome outcome;
  std::chrono::milliseconds duration{0};
  std::string http_request;
  std::string http_response;
  const CaseRun* run = nullptr;  // null when the connection never opened
};

class Report {
 public:
  explicit Report(std::string directory) : directory_(std::move(directory)) {}

  // Writes the case's own file and keeps its row for the index, where rows are in catalogue
  // order whatever order the cases finished in. False with `error` set when the file cannot be
  // written. Not thread-safe: the commands call it under their own lock.
  bool add(const CaseRecord& record, std::string& error);
  // Writes index.json and index.html.
  bool finish(std::string& error) const;

  // How many cases got each behaviour verdict, and each close verdict other than OK.
  std::map<std::string, std::size_t> behavior_counts() const;
  std::map<std::string, std::size_t> close_counts() const;
  // Cases that fail the run: behaviour FAILED, or a close FAILED, UNCLEAN or WRONG CODE. With
  // `require_ok`, everything but OK and INFORMATIONAL (which only the cases the spec leaves open
  // give) fails: NON-STRICT, UNIMPLEMENTED, FAILED BY CLIENT too.
  std::vector<std::string> failures(bool require_ok) const;

 private:
  struct Row {
    std::size_t number;  // CaseRecord::number: the row's place in the index
    std::string id;
    std::string description;
    Verdict behavior;
    Verdict behavior_close;
    std::int64_t duration_ms;
    bool report_time;
    std::optional<std::uint16_t> remote_code;
    std::string report_file;
  };

  std::string directory_;
  std::map<std::string, std::vector<Row>> agents_;  // agent -> rows in catalogue order
};

// Now, as the official reports stamp cases.
std::string utc_now();

}  // namespace fastws::conformance
