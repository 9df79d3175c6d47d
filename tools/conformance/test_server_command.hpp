// `fastws-conformance test-server URL`: the fuzzing client. Runs each selected case on a fresh
// connection to the server under test, prints a line per case and a summary, writes the reports.
#pragma once

#include <string>

namespace fastws::conformance {

struct TestServerOptions {
  std::string url;
  std::string cases = "*";
  std::string report_directory = "reports/servers";
  std::string agent;  // default: the server's Server field, else "UnknownServer"
  // Pause after each write of a chopped or sync frame (the 9.x chopped messages use 10 us).
  unsigned chop_pause_us = 1000;
  unsigned connect_timeout_ms = 5000;
  bool require_ok = false;  // NON-STRICT and UNIMPLEMENTED fail the run too (Report::failures)
};

// The exit status: 0 when no case failed, 1 when one did, 2 when the run could not start.
int run_test_server(const TestServerOptions& options);

}  // namespace fastws::conformance
