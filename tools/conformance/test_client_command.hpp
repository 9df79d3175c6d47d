// `fastws-conformance test-client --port N`: the fuzzing server. A client under test connects
// as it would to the official fuzzing server: /getCaseCount (a text message with the number
// of selected cases), /runCase?case=N&agent=A (case N of the selection, 1-based, played on
// that connection), /updateReports?agent=A (writes the reports, once the cases being played
// are over). A client may play several cases at a time: each case connection is played on a
// thread of its own, the 9.x cases each with no other (CaseGate).
#pragma once

#include <cstdint>
#include <string>

namespace fastws::conformance {

struct TestClientOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9001;  // 0: any free port (printed)
  std::string cases = "*";
  std::string report_directory = "reports/clients";
  unsigned chop_pause_us = 1000;  // as TestServerOptions
  bool require_ok = false;        // as TestServerOptions
  bool once = false;              // exit after the first /updateReports
  // Both set: the fuzzing server speaks TLS (wss://) with this certificate chain and key (PEM).
  std::string certificate_file;
  std::string key_file;
};

// Serves until interrupted, or with `once` until the first /updateReports: then the exit
// status is as test-server's (0: no case failed, 1: one did). 2 when it cannot listen.
int run_test_client(const TestClientOptions& options);

}  // namespace fastws::conformance
