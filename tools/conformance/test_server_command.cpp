#include "conformance/test_server_command.hpp"

#include <sys/prctl.h>

#include <cstdio>

#include "conformance/client_handshake.hpp"
#include "conformance/report.hpp"
#include "conformance/run_summary.hpp"

namespace fastws::conformance {

namespace {

// Past the longest case timer (480 s) plus its closing handshake: a last resort.
constexpr Millis case_time_limit{600'000};

CaseRecord run_one(const CaseSpec& spec, std::size_t number, const protocol::WebSocketUrl& url,
                   const TestServerOptions& options, std::string& agent,
                   std::unique_ptr<Peer>& peer, std::unique_ptr<CaseRun>& run) {
  CaseRecord record{.spec = &spec, .number = number, .agent = agent, .started = utc_now()};
  std::string error;
  const int fd = connect_tcp(url.host, url.port, Millis(options.connect_timeout_ms), error);
  if (fd < 0) {
    record.outcome.result_close = "could not connect: " + error;
    return record;
  }
  peer = std::make_unique<Peer>(fd, PeerRole::client);
  const ClientHandshake handshake =
      open_as_client(*peer, url, spec.deflate, Millis(options.connect_timeout_ms));
  record.http_request = handshake.request;
  record.http_response = handshake.response;
  if (agent.empty()) agent = handshake.server.empty() ? "UnknownServer" : handshake.server;
  record.agent = agent;
  if (!handshake.ok) {
    record.outcome.result_close = "The WebSocket opening handshake failed: " + handshake.error;
    return record;
  }
  run = std::make_unique<CaseRun>(*peer, handshake.deflate,
                                  std::chrono::microseconds(options.chop_pause_us));
  run->open(spec.script);
  run->run_until_closed(case_time_limit);
  record.outcome = run->judge();
  record.duration = run->duration();
  record.run = run.get();
  return record;
}

}  // namespace

int run_test_server(const TestServerOptions& options) {
  std::string error;
  const auto url = protocol::parse_websocket_url(options.url, error);
  if (!url) {
    std::fprintf(stderr, "fastws-conformance: %s\n", error.c_str());
    return 2;
  }
  if (url->secure) {
    std::fprintf(stderr, "fastws-conformance: wss:// is not supported yet; use ws://\n");
    return 2;
  }
  const Catalogue catalogue = build_catalogue();
  const auto selected = select_cases(catalogue, options.cases, error);
  if (selected.empty()) {
    std::fprintf(stderr, "fastws-conformance: %s\n", error.c_str());
    return 2;
  }
  // The 9.x chopped messages pause 10 us between writes; the default timer slack (50 us) would
  // stretch each pause several times over.
  ::prctl(PR_SET_TIMERSLACK, 1000UL);
  std::printf("fastws-conformance: %zu cases against %s\n", selected.size(), options.url.c_str());
  Report report(options.report_directory);
  std::string agent = options.agent;
  for (std::size_t i = 0; i < selected.size(); ++i) {
    const CaseSpec& spec = *selected[i];
    const std::size_t number = static_cast<std::size_t>(&spec - catalogue.cases().data()) + 1;
    std::unique_ptr<Peer> peer;
    std::unique_ptr<CaseRun> run;
    const CaseRecord record = run_one(spec, number, *url, options, agent, peer, run);
    print_case_line(i + 1, selected.size(), record);
    if (!report.add(record, error)) {
      std::fprintf(stderr, "fastws-conformance: %s\n", error.c_str());
      return 2;
    }
  }
  return finish_run(report, options.report_directory, options.require_ok);
}

}  // namespace fastws::conformance
