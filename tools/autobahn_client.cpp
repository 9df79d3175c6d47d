// autobahn_client: the testee every WebSocket library ships for the Autobahn test suite's
// fuzzing server (`wstest -m fuzzingserver`, or fastws-conformance's test-client mode):
//
//   autobahn_client URL AGENT [--no-compress] [--cases FIRST-LAST] [--case-timeout SECONDS]
//   autobahn_client ws://127.0.0.1:9001 fastws
//
// It asks URL/getCaseCount (a connection whose one text message is the count), runs
// URL/runCase?case=N&agent=AGENT for each case, echoing every message back with its opcode until
// the server closes, then calls URL/updateReports?agent=AGENT so that the server writes its
// report. permessage-deflate is offered (client_max_window_bits included, so the server may set
// every parameter), unless --no-compress. One line per case; exits 0 when every connection
// opened, 1 when one did not, 2 on bad arguments.
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

// One connection at a time: what its callbacks saw, for the main thread.
class Testee {
 public:
  enum class Role : std::uint8_t { read_count, echo, wait_for_close };

  explicit Testee(const Args& args) : client_(options(args)) {
    client_.on_message([this](const fastws::Conn& conn, fastws::Message message) {
      const Role role = role_.load(std::memory_order_relaxed);
      if (role == Role::echo) {
        conn.send(message.data(), message.opcode());
      } else if (role == Role::read_count) {
        std::lock_guard lock(mutex_);
        if (first_text_.empty()) first_text_ = message.text();
      }
    });
    client_.on_close([this](const fastws::Conn&, const fastws::CloseStatus& status) {
      std::lock_guard lock(mutex_);
      closed_ = status;
      changed_.notify_all();
    });
  }

  // Opens `url` and plays `role` until the server closes (at most `limit`, then the connection
  // is cut). The close, or nothing when it did not open (the reason printed).
  std::optional<fastws::CloseStatus> run(const std::string& url, Role role,
                                         std::chrono::milliseconds limit) {
    // Set before the connection exists: connect_and_wait orders it before its callbacks.
    role_.store(role, std::memory_order_relaxed);
    {
      std::lock_guard lock(mutex_);
      closed_.reset();
      first_text_.clear();
    }
    const fastws::ConnectResult result = client_.connect_and_wait(url);
    if (!result) {
      std::printf("%s: did not open: %s\n", url.c_str(), result.error.error.c_str());
      return std::nullopt;
    }
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, limit, [&] { return closed_.has_value(); })) {
      lock.unlock();
      result.conn.terminate();
      lock.lock();
      changed_.wait_for(lock, 5s, [&] { return closed_.has_value(); });
      return fastws::CloseStatus{fastws::close_code::abnormal, {}, "cut: over the case timeout"};
    }
    return closed_;
  }

  std::string first_text() const {
    std::lock_guard lock(mutex_);
    return first_text_;
  }

 private:
  static fastws::ClientOptions options(const Args& args) {
    fastws::ClientOptions options;
    options.threads = 1;
    options.compression.enabled = !args.no_compress;
    // The suite's largest message is 16 MiB (9.1.6, 9.2.6), the default max_message_size. Its
    // echo must never be dropped while earlier echoes still leave: room for a few of them.
    options.max_buffered_bytes = 4 * options.max_message_size;
    return options;
  }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::atomic<Role> role_{Role::read_count};
  std::optional<fastws::CloseStatus> closed_;
  std::string first_text_;
  fastws::Client client_;  // last: its loop stops before what its callbacks use goes
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
  if (!testee.run(args.url + "/getCaseCount", Testee::Role::read_count, 60s)) return 1;
  const std::string count_text = testee.first_text();
  std::uint64_t count = 0;
  if (!fastws::bench::parse_uint(count_text, 0, UINT64_MAX, count)) {
    std::fprintf(stderr, "autobahn_client: getCaseCount answered '%s', not a number\n",
                 count_text.c_str());
    return 1;
  }
  std::printf("%llu cases\n", static_cast<unsigned long long>(count));
  std::uint64_t not_opened = 0;
  for (std::uint64_t n = args.first; n <= std::min(args.last, count); ++n) {
    const std::string url = args.url + "/runCase?case=" + std::to_string(n) + "&agent=" + agent;
    const auto closed = testee.run(url, Testee::Role::echo, case_limit);
    if (!closed) {
      ++not_opened;
      continue;
    }
    std::printf("case %llu/%llu: %s\n", static_cast<unsigned long long>(n),
                static_cast<unsigned long long>(count), describe(*closed).c_str());
    std::fflush(stdout);
  }
  const bool reported =
      testee.run(args.url + "/updateReports?agent=" + agent, Testee::Role::wait_for_close, 60s)
          .has_value();
  if (not_opened > 0) {
    std::printf("%llu cases did not open\n", static_cast<unsigned long long>(not_opened));
  }
  return not_opened == 0 && reported ? 0 : 1;
}
