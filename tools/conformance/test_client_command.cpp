#include "conformance/test_client_command.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "conformance/case_gate.hpp"
#include "conformance/catalogue.hpp"
#include "conformance/report.hpp"
#include "conformance/run_summary.hpp"
#include "net/tls_context.hpp"
#include "protocol/handshake_server.hpp"
#include "protocol/http_parser.hpp"

namespace fastws::conformance {

namespace {

constexpr Millis case_time_limit{600'000};
constexpr Millis request_timeout{5000};

volatile std::sig_atomic_t interrupted = 0;

int listen_on(const std::string& host, std::uint16_t port, std::uint16_t& bound,
              std::string& error) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    error = "--host expects an IPv4 address, got '" + host + "'";
    return -1;
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  socklen_t size = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
      ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    error = "cannot listen on " + host + ":" + std::to_string(port) + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return -1;
  }
  bound = ntohs(address.sin_port);
  return fd;
}

// The value of `name` in a query string ("case=3&agent=fastws"), "" when absent.
std::string query_value(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const std::size_t equals = pair.find('=');
    if (pair.substr(0, equals) == name && equals != std::string_view::npos) {
      return std::string(pair.substr(equals + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

// Reads the request head into `head` (bytes after it stay in the peer's input).
bool read_request(Peer& peer, std::string& head) {
  const auto deadline = Clock::now() + request_timeout;
  protocol::HeadScanner scanner;
  for (;;) {
    const auto scan = scanner.scan(peer.input());
    if (scan.failed()) return false;
    if (scan.complete()) {
      head = std::string(peer.input().substr(0, scan.consumed));
      peer.consume_input(scan.consumed);
      return true;
    }
    const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
    if (left.count() <= 0 || peer.wait(POLLIN, left) == 0) return false;
    if (peer.read_available() == Peer::Io::closed && !scanner.scan(peer.input()).complete()) {
      return false;
    }
  }
}

// Sends everything queued (the handshake answer) within the request timeout.
void flush_all(Peer& peer) {
  const auto deadline = Clock::now() + request_timeout;
  while (peer.has_output() && Clock::now() < deadline && peer.flush() == Peer::Io::ok) {
    if (peer.has_output()) peer.wait(POLLOUT, Millis(10));
  }
}

// The threads playing cases, each until its case is over.
class CaseThreads {
 public:
  ~CaseThreads() { join_all(); }

  // Joins the threads whose case is over, then starts `play` on a thread of its own.
  void start(std::function<void()> play) {
    std::erase_if(threads_, [](Playing& playing) {
      if (!playing.done->load()) return false;
      playing.thread.join();
      return true;
    });
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::thread thread([play = std::move(play), done] {
      play();
      done->store(true);
    });
    threads_.push_back({std::move(thread), std::move(done)});
  }

  void join_all() {
    for (Playing& playing : threads_) playing.thread.join();
    threads_.clear();
  }

 private:
  struct Playing {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Playing> threads_;
};

class FuzzingServer {
 public:
  // `tls`: the server context when the clients connect with wss:// (null: ws://).
  FuzzingServer(const TestClientOptions& options, const net::TlsContext* tls,
                std::vector<const CaseSpec*> selected, const Catalogue& catalogue)
      : options_(options),
        tls_(tls),
        selected_(std::move(selected)),
        catalogue_(catalogue),
        report_(options.report_directory) {}

  // Reads the request on `fd` and answers it: a case goes on to a thread of its own, the
  // other requests are served here. Returns the exit status once a run is over (`once`), else
  // -1.
  int serve(int fd) {
    auto peer = std::make_unique<Peer>(fd, PeerRole::server);
    std::string head;
    std::string error;
    if (tls_ != nullptr && !peer->secure(*tls_, {}, request_timeout, error)) {
      std::fprintf(stderr, "fastws-conformance: a client's %s\n", error.c_str());
      return -1;
    }
    if (!read_request(*peer, head)) return -1;
    std::array<HttpHeader, 64> storage;
    Request request;
    if (!protocol::parse_request_head(head, request, storage).complete()) return -1;
    const protocol::UpgradeCheck check = protocol::check_upgrade_request(request);
    if (!check.ok()) {
      std::string refusal;
      protocol::append_rejection(refusal, check);
      peer->queue(refusal);
      flush_all(*peer);
      return -1;
    }
    const std::string path(request.path());
    const std::string agent = query_value(request.query(), "agent");
    if (path == "/getCaseCount") {
      accept(*peer, switching_protocols(check));
      CaseRun run(*peer, std::nullopt, pause());
      run.open([count = selected_.size()](CaseRun& r) {
        r.send_message(std::to_string(count), false);
        r.send_close(1000);
      });
      run.run_until_closed(Millis(10'000));
      return -1;
    }
    if (path == "/updateReports") {
      // The client asks once its cases are closed; their threads may still be writing reports.
      playing_.join_all();
      accept(*peer, switching_protocols(check));
      const int status = finish_run(report_, options_.report_directory, options_.require_ok);
      CaseRun run(*peer, std::nullopt, pause());
      run.open([](CaseRun& r) { r.send_close(1000); });
      run.run_until_closed(Millis(10'000));
      return options_.once ? status : -1;
    }
    if (path == "/runCase") {
      const std::string number_text = query_value(request.query(), "case");
      std::size_t number = 0;
      std::from_chars(number_text.data(), number_text.data() + number_text.size(), number);
      if (number >= 1 && number <= selected_.size()) {
        const CaseSpec& spec = *selected_[number - 1];
        std::optional<protocol::DeflateParams> deflate;
        std::string extensions;
        if (!spec.deflate.empty()) {
          deflate = answer_deflate_offers(check.extensions, spec.deflate, extensions);
        }
        playing_.start([this, &spec, peer = std::shared_ptr<Peer>(std::move(peer)),
                        response = switching_protocols(check, extensions), head, deflate,
                        agent = agent.empty() ? "UnknownClient" : agent] {
          run_case(*peer, spec, head, response, deflate, agent);
        });
        return -1;
      }
    }
    std::string refusal;
    protocol::append_rejection(refusal, 404, "no such case or command\n");
    peer->queue(refusal);
    flush_all(*peer);
    return -1;
  }

 private:
  std::chrono::microseconds pause() const {
    return std::chrono::microseconds(options_.chop_pause_us);
  }

  // The 101, with the permessage-deflate answer `extensions` when not empty.
  static std::string switching_protocols(const protocol::UpgradeCheck& check,
                                         std::string_view extensions = {}) {
    std::string response;
    protocol::append_switching_protocols(response, check.key, "", extensions);
    return response;
  }

  static void accept(Peer& peer, const std::string& response) {
    peer.queue(response);
    flush_all(peer);
  }

  // On the case's own thread. The 101 goes out once the case may start (CaseGate): a client
  // that plays several cases at a time waits in its opening handshake for an `alone` one.
  void run_case(Peer& peer, const CaseSpec& spec, const std::string& head,
                const std::string& response, const std::optional<protocol::DeflateParams>& deflate,
                const std::string& agent) {
    const auto pass = gate_.enter(spec.alone);
    CaseRecord record;
    record.spec = &spec;
    record.number = static_cast<std::size_t>(&spec - catalogue_.cases().data()) + 1;
    record.agent = agent;
    record.started = utc_now();
    record.fuzzer_is_client = false;
    record.http_request = head;
    record.http_response = response;
    accept(peer, response);
    CaseRun run(peer, deflate, pause());
    run.open(spec.script);
    run.run_until_closed(case_time_limit);
    record.outcome = run.judge();
    record.duration = run.duration();
    record.run = &run;
    const std::lock_guard lock(reporting_);
    print_case_line(++played_, selected_.size(), record);
    std::string error;
    if (!report_.add(record, error)) {
      std::fprintf(stderr, "fastws-conformance: %s\n", error.c_str());
    }
  }

  const TestClientOptions& options_;
  const net::TlsContext* tls_;
  std::vector<const CaseSpec*> selected_;
  const Catalogue& catalogue_;
  CaseGate gate_;
  std::mutex reporting_;  // report_ and played_, from the case threads
  Report report_;
  std::size_t played_ = 0;
  CaseThreads playing_;  // last: joined before what the cases use goes
};

}  // namespace

int run_test_client(const TestClientOptions& options) {
  const Catalogue catalogue = build_catalogue();
  std::string error;
  auto selected = select_cases(catalogue, options.cases, error);
  if (selected.empty()) {
    std::fprintf(stderr, "fastws-conformance: %s\n", error.c_str());
    return 2;
  }
  std::unique_ptr<net::TlsContext> tls;
  if (!options.certificate_file.empty() || !options.key_file.empty()) {
    tls = net::TlsContext::from_files(options.certificate_file, options.key_file, error);
    if (!tls) {
      std::fprintf(stderr, "fastws-conformance: %s\n", error.c_str());
      return 2;
    }
  }
  std::uint16_t port = 0;
  const int listener = listen_on(options.host, options.port, port, error);
  if (listener < 0) {
    std::fprintf(stderr, "fastws-conformance: %s\n", error.c_str());
    return 2;
  }
  ::prctl(PR_SET_TIMERSLACK, 1000UL);  // see run_test_server
  std::signal(SIGINT, [](int) { interrupted = 1; });
  std::signal(SIGTERM, [](int) { interrupted = 1; });
  std::printf("fastws-conformance fuzzing server listening on %s://%s:%u/ (%zu cases)\n",
              tls ? "wss" : "ws", options.host.c_str(), port, selected.size());
  std::fflush(stdout);
  FuzzingServer server(options, tls.get(), std::move(selected), catalogue);
  int status = 0;
  while (!interrupted) {
    pollfd ready{listener, POLLIN, 0};
    if (::poll(&ready, 1, 200) != 1) continue;
    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    status = server.serve(fd);
    if (status >= 0) break;
  }
  ::close(listener);
  return status < 0 ? 0 : status;
}

}  // namespace fastws::conformance
