#include "conformance/test_server_command.hpp"

#include <sys/prctl.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "conformance/case_gate.hpp"
#include "conformance/client_handshake.hpp"
#include "conformance/report.hpp"
#include "conformance/run_summary.hpp"
#include "net/tls_context.hpp"

namespace fastws::conformance {

namespace {

// Past the longest case timer (480 s) plus its closing handshake: a last resort.
constexpr Millis case_time_limit{600'000};

// Plays `spec` on a connection of its own. `record.agent` is the server's Server field
// ("UnknownServer" if it sent none; empty when the connection could not be made): the caller
// names the agent.
// `tls`: the client context for a wss:// URL (null for ws://).
CaseRecord run_one(const CaseSpec& spec, std::size_t number, const protocol::WebSocketUrl& url,
                   const net::TlsContext* tls, const TestServerOptions& options,
                   std::unique_ptr<Peer>& peer, std::unique_ptr<CaseRun>& run) {
  CaseRecord record{.spec = &spec, .number = number, .started = utc_now()};
  std::string error;
  const int fd = connect_tcp(url.host, url.port, Millis(options.connect_timeout_ms), error);
  if (fd < 0) {
    record.outcome.result_close = "could not connect: " + error;
    return record;
  }
  peer = std::make_unique<Peer>(fd, PeerRole::client);
  if (tls != nullptr && !peer->secure(*tls, url.host, Millis(options.connect_timeout_ms), error)) {
    record.outcome.result_close = error;
    return record;
  }
  const ClientHandshake handshake =
      open_as_client(*peer, url, spec.deflate, Millis(options.connect_timeout_ms));
  record.http_request = handshake.request;
  record.http_response = handshake.response;
  record.agent = handshake.server.empty() ? "UnknownServer" : handshake.server;
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

// What the workers share: the next case to take, and the report with its lock.
class ServerRun {
 public:
  ServerRun(const TestServerOptions& options, const protocol::WebSocketUrl& url,
            const net::TlsContext* tls, const Catalogue& catalogue,
            const std::vector<const CaseSpec*>& selected)
      : options_(options),
        url_(url),
        tls_(tls),
        catalogue_(catalogue),
        selected_(selected),
        report_(options.report_directory),
        agent_(options.agent) {}

  // Takes cases in catalogue order until none is left.
  void work() {
    for (;;) {
      const std::size_t index = next_.fetch_add(1);
      if (index >= selected_.size() || report_failed_.load()) return;
      const CaseSpec& spec = *selected_[index];
      const std::size_t number = static_cast<std::size_t>(&spec - catalogue_.cases().data()) + 1;
      std::unique_ptr<Peer> peer;
      std::unique_ptr<CaseRun> run;
      const auto pass = gate_.enter(spec.alone);
      CaseRecord record = run_one(spec, number, url_, tls_, options_, peer, run);
      finished(record);
    }
  }

  // 2 when a case's report could not be written, else as finish_run.
  int finish() const {
    if (report_failed_.load()) return 2;
    return finish_run(report_, options_.report_directory, options_.require_ok);
  }

 private:
  void finished(CaseRecord& record) {
    const std::lock_guard lock(reporting_);
    // Unless --agent named it, the agent is what the first connection made says it is.
    if (agent_.empty()) agent_ = record.agent;
    record.agent = agent_;
    print_case_line(++played_, selected_.size(), record);
    std::string error;
    if (!report_.add(record, error)) {
      std::fprintf(stderr, "fastws-conformance: %s\n", error.c_str());
      report_failed_.store(true);
    }
  }

  const TestServerOptions& options_;
  const protocol::WebSocketUrl& url_;
  const net::TlsContext* tls_;
  const Catalogue& catalogue_;
  const std::vector<const CaseSpec*>& selected_;
  std::atomic<std::size_t> next_{0};
  std::atomic<bool> report_failed_{false};
  CaseGate gate_;
  std::mutex reporting_;
  Report report_;
  std::string agent_;
  std::size_t played_ = 0;
};

}  // namespace

int run_test_server(const TestServerOptions& options) {
  std::string error;
  const auto url = protocol::parse_websocket_url(options.url, error);
  if (!url) {
    std::fprintf(stderr, "fastws-conformance: %s\n", error.c_str());
    return 2;
  }
  std::unique_ptr<net::TlsContext> tls;
  if (url->secure) {
    tls = net::TlsContext::client({.verify_peer = !options.insecure, .ca_file = options.ca_file},
                                  error);
    if (!tls) {
      std::fprintf(stderr, "fastws-conformance: %s\n", error.c_str());
      return 2;
    }
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
  const auto jobs =
      static_cast<unsigned>(std::clamp<std::size_t>(options.jobs, 1, selected.size()));
  std::printf("fastws-conformance: %zu cases against %s, %u at a time\n", selected.size(),
              options.url.c_str(), jobs);
  ServerRun server_run(options, *url, tls.get(), catalogue, selected);
  std::vector<std::thread> workers;
  for (unsigned i = 1; i < jobs; ++i) workers.emplace_back([&server_run] { server_run.work(); });
  server_run.work();
  for (std::thread& worker : workers) worker.join();
  return server_run.finish();
}

}  // namespace fastws::conformance
