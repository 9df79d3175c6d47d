// `fastws-conformance test-server URL` (ws:// or wss://): the fuzzing client. Runs each selected
// case on a fresh connection to the server under test (`jobs` of them at a time), prints a line per
// case as it ends and a summary, writes the reports.
#pragma once

#include <algorithm>
#include <string>
#include <thread>

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
  // Cases played at the same time, each on its own connection (those marked `alone` with no
  // other: CaseGate). 1 plays them one after the other, in catalogue order.
  unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  // wss:// URLs: the CAs the server's certificate is checked against (a PEM file; empty: the
  // system's), or no check at all (insecure: for test servers with self-signed certificates).
  std::string ca_file;
  bool insecure = false;
};

// The exit status: 0 when no case failed, 1 when one did, 2 when the run could not start.
int run_test_server(const TestServerOptions& options);

}  // namespace fastws::conformance
