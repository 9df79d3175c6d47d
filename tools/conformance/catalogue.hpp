// The case catalogue: every case with the official suite's number, what it sends and expects
// (written from the public case descriptions and RFC 6455 / RFC 7692), and the script that plays
// it on a CaseRun. Case groups live in cases_*.cpp, one file per group.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "conformance/case_run.hpp"
#include "conformance/deflate.hpp"

namespace fastws::conformance {

struct CaseSpec {
  std::string id;  // "6.4.1"
  std::string description;
  std::string expectation;
  // Compression cases: the permessage-deflate offers the fuzzing client makes (none: no offer).
  std::vector<DeflateRequest> deflate;
  bool report_time = false;  // the duration is part of the result (limits, compression)
  // Played with no other case at once (CaseGate): the duration is a performance figure of the
  // peer (9.x). The compression cases report theirs too but are most of the catalogue's time:
  // they play beside others, so their durations include the time shared with them.
  bool alone = false;
  std::function<void(CaseRun&)> script;  // runs when the connection opens
};

class Catalogue {
 public:
  void add(CaseSpec spec) { cases_.push_back(std::move(spec)); }
  const std::vector<CaseSpec>& cases() const noexcept { return cases_; }
  // Sorts by case number (1.2.10 after 1.2.9).
  void sort();

 private:
  std::vector<CaseSpec> cases_;
};

// Every case group, in case number order.
Catalogue build_catalogue();

// The cases PATTERNS names: comma-separated case ids or globs ("1.*", "9.1.*", "12.2.3"), each
// with a leading '-' to exclude what it matches ("*,-9.*"). Empty with `error` set when a
// pattern is malformed or nothing is selected.
std::vector<const CaseSpec*> select_cases(const Catalogue& catalogue, std::string_view patterns,
                                          std::string& error);

// "1.2.10" -> {1, 2, 10}, for ordering.
std::vector<unsigned> case_number(std::string_view id);

// The case groups (cases_*.cpp).
void add_framing_cases(Catalogue& catalogue);             // 1.x
void add_ping_cases(Catalogue& catalogue);                // 2.x
void add_reserved_bit_cases(Catalogue& catalogue);        // 3.x
void add_opcode_cases(Catalogue& catalogue);              // 4.x
void add_fragmentation_cases(Catalogue& catalogue);       // 5.x
void add_utf8_cases(Catalogue& catalogue);                // 6.x
void add_close_cases(Catalogue& catalogue);               // 7.x
void add_limit_cases(Catalogue& catalogue);               // 9.x
void add_auto_fragmentation_cases(Catalogue& catalogue);  // 10.x
void add_compression_cases(Catalogue& catalogue);         // 12.x, 13.x

}  // namespace fastws::conformance
