// autobahn_client: the testee every WebSocket library ships for the Autobahn test suite's
// fuzzing server (`wstest -m fuzzingserver`, or fastws-conformance's test-client mode):
//
//   autobahn_client URL AGENT [--no-compress] [--compress-level N] [--cases FIRST-LAST]
//                             [--case-timeout SECONDS] [--jobs N]
//   autobahn_client ws://127.0.0.1:9001 fastws
//
// It asks URL/getCaseCount (a connection whose one text message is the count), runs
// URL/runCase?case=N&agent=AGENT for each case, echoing every message back with its opcode until
// the server closes (N cases at a time, each on its own connection: --jobs, default the number
// of cores; --jobs 1 plays them in order), then calls URL/updateReports?agent=AGENT so that the
// server writes its report. permessage-deflate is offered (client_max_window_bits included, so the
// server may set every parameter), unless --no-compress. One line per case; exits 0 when every
// connection opened, 1 when one did not, 2 on bad arguments.
#include <fastws/client.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/flags.hpp"

namespace {

using namespace std::chrono_literals;

struct Args {
  std::string url;  // without a trailing '/'
  std::string agent;
  bool no_compress = false;
  std::uint64_t first = 1;
  std::uint64_t last = UINT64_MAX;
  std::uint64_t case_timeout_seconds = 600;  // the suite's own case timeouts reach 480 s
  std::uint64_t jobs = std::max(1u, std::thread::hardware_concurrency());  // cases at a time
  std::uint64_t compress_level = 0;  // zlib level; 0: the library's default
};

// "N" or "FIRST-LAST".
bool parse_cases(std::string_view text, Args& args) {
  const auto dash = text.find('-');
  std::uint64_t first = 0, last = 0;
  if (!fastws::bench::parse_uint(text.substr(0, dash), 1, UINT64_MAX, first)) return false;
  if (dash == std::string_view::npos) {
    last = first;
  } else if (!fastws::bench::parse_uint(text.substr(dash + 1), first, UINT64_MAX, last)) {
    return false;
  }
  args.first = first;
  args.last = last;
  return true;
}

std::vector<fastws::bench::Flag> flags(Args& args) {
  return {
      fastws::bench::switch_flag("no-compress", args.no_compress,
                                 "do not offer permessage-deflate"),
      {"cases", [&args](std::string_view text) { return parse_cases(text, args); },
       "N or FIRST-LAST: run only these cases"},
      fastws::bench::uint_flag("case-timeout", args.case_timeout_seconds, 1, 86'400,
                               "SECONDS a case may take before it is cut (600)"),
      fastws::bench::uint_flag("compress-level", args.compress_level, 1, 9,
                               "zlib level 1..9 (the library's default, 6)"),
      fastws::bench::uint_flag("jobs", args.jobs, 1, 256,
                               "cases played at a time, each on its own connection (the number "
                               "of cores)"),
  };
}

// The agent in a query: everything but unreserved characters percent-escaped.
std::string query_escaped(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += hex[byte >> 4];
      out += hex[byte & 0xF];
    }
  }
  return out;
}

// The client under test: one Client, the connections of several cases on its loop at a time.
class Testee {
 public:
  enum class Role : std::uint8_t { read_count, echo, wait_for_close };

  explicit Testee(const Args& args) : client_(options(args)) {
    client_.on_message([](const fastws::Conn& conn, fastws::Message message) {
      Connection* connection = connection_of(conn);
      if (connection == nullptr) return;
      if (connection->role == Role::echo) {
        conn.send(message.data(), message.opcode());
      } else if (connection->role == Role::read_count) {
        std::lock_guard lock(connection->mutex);
        if (connection->first_text.empty()) connection->first_text = message.text();
      }
    });
    client_.on_close([](const fastws::Conn& conn, const fastws::CloseStatus& status) {
      Connection* connection = connection_of(conn);
      if (connection == nullptr) return;
      std::lock_guard lock(connection->mutex);
      connection->closed = status;
      connection->changed.notify_all();
    });
  }

  // What one connection's callbacks saw, for the thread that waits on it.
  struct Connection {
    explicit Connection(Role r) : role(r) {}
    const Role role;
    std::mutex mutex;
    std::condition_variable changed;
    std::optional<fastws::CloseStatus> closed;
    std::string first_text;
  };

  // Opens `url` and plays `role` until the server closes (at most `limit`, then the connection
  // is cut). The close, or nothing when it did not open (the reason printed); the first text
  // message into `first_text`. Any thread but the client's.
  std::optional<fastws::CloseStatus> run(const std::string& url, Role role,
                                         std::chrono::milliseconds limit,
                                         std::string* first_text = nullptr) {
    const auto connection = std::make_shared<Connection>(role);
    const fastws::ConnectResult result = client_.connect_and_wait(url, {.user_data = connection});
    if (!result) {
      std::printf("%s: did not open: %s\n", url.c_str(), result.error.error.c_str());
      return std::nullopt;
    }
    std::unique_lock lock(connection->mutex);
    if (!connection->changed.wait_for(lock, limit,
                                      [&] { return connection->closed.has_value(); })) {
      lock.unlock();
      result.conn.terminate();
      lock.lock();
      connection->changed.wait_for(lock, 5s, [&] { return connection->closed.has_value(); });
      return fastws::CloseStatus{fastws::close_code::abnormal, {}, "cut: over the case timeout"};
    }
    if (first_text != nullptr) *first_text = connection->first_text;
    return connection->closed;
  }

 private:
  // The state run() gave the connection (ConnectOptions::user_data).
  static Connection* connection_of(const fastws::Conn& conn) {
    const auto* slot = conn.user_data<std::shared_ptr<Connection>>();
    return slot != nullptr ? slot->get() : nullptr;
  }

  static fastws::ClientOptions options(const Args& args) {
    fastws::ClientOptions options;
    options.threads = 1;
    options.compression.enabled = !args.no_compress;
    if (args.compress_level != 0) options.compression.level = static_cast<int>(args.compress_level);
    // The suite's largest message is 16 MiB (9.1.6, 9.2.6), the default max_message_size. Its
    // echo must never be dropped while earlier echoes still leave: room for a few of them.
    options.max_buffered_bytes = 4 * options.max_message_size;
    // A fuzzing server may hold a case's opening handshake until the cases played beside it
    // are over (fastws-conformance plays the 9.x cases alone).
    options.handshake_timeout = std::chrono::seconds(args.case_timeout_seconds);
    return options;
  }

  fastws::Client client_;
};

std::string describe(const fastws::CloseStatus& status) {
  std::string text = std::to_string(status.code);
  if (!status.reason.empty()) text += " " + status.reason;
  if (!status.error.empty()) text += " (" + status.error + ")";
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  const auto flag_list = flags(args);
  if (argc < 3 || std::string_view(argv[1]).starts_with("-")) {
    std::printf("usage: autobahn_client URL AGENT [flags]\n%s",
                fastws::bench::flags_help(flag_list).c_str());
    return argc > 1 && std::string_view(argv[1]) == "--help" ? 0 : 2;
  }
  std::string error;
  if (!fastws::bench::apply_flags(argc, argv, 3, flag_list, error)) {
    std::fprintf(stderr, "autobahn_client: %s (see autobahn_client --help)\n", error.c_str());
    return 2;
  }
  args.url = argv[1];
  args.agent = argv[2];
  while (args.url.ends_with('/')) args.url.pop_back();
  const std::string agent = query_escaped(args.agent);
  const auto case_limit = std::chrono::seconds(args.case_timeout_seconds);

  Testee testee(args);
  std::string count_text;
  if (!testee.run(args.url + "/getCaseCount", Testee::Role::read_count, 60s, &count_text)) {
    return 1;
  }
  std::uint64_t count = 0;
  if (!fastws::bench::parse_uint(count_text, 0, UINT64_MAX, count)) {
    std::fprintf(stderr, "autobahn_client: getCaseCount answered '%s', not a number\n",
                 count_text.c_str());
    return 1;
  }
  std::printf("%llu cases, %llu at a time\n", static_cast<unsigned long long>(count),
              static_cast<unsigned long long>(args.jobs));
  // Each worker takes the next case until none is left; a line per case as it ends.
  std::atomic<std::uint64_t> next{args.first};
  std::atomic<std::uint64_t> not_opened{0};
  std::mutex printing;
  const auto play_cases = [&] {
    for (std::uint64_t n = next++; n <= std::min(args.last, count); n = next++) {
      const std::string url = args.url + "/runCase?case=" + std::to_string(n) + "&agent=" + agent;
      const auto closed = testee.run(url, Testee::Role::echo, case_limit);
      const std::lock_guard lock(printing);
      if (!closed) {
        ++not_opened;
        continue;
      }
      std::printf("case %llu/%llu: %s\n", static_cast<unsigned long long>(n),
                  static_cast<unsigned long long>(count), describe(*closed).c_str());
      std::fflush(stdout);
    }
  };
  std::vector<std::thread> workers;
  for (std::uint64_t i = 1; i < args.jobs; ++i) workers.emplace_back(play_cases);
  play_cases();
  for (std::thread& worker : workers) worker.join();
  const bool reported =
      testee.run(args.url + "/updateReports?agent=" + agent, Testee::Role::wait_for_close, 60s)
          .has_value();
  if (not_opened > 0) {
    std::printf("%llu cases did not open\n", static_cast<unsigned long long>(not_opened.load()));
  }
  return not_opened == 0 && reported ? 0 : 1;
}
