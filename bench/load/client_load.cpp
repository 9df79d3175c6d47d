// client_load: fastws::Client as a load generator, to measure the client against fastws_bench
// (a hand-built generator that sends pre-built bytes and compares echoes byte by byte).
//
//   client_load echo --port N [--connections 100 --size 16 --pipeline 1 --duration 5
//                              --max-messages 0 ...]
//   client_load idle --port N [--connections 10000 --warmup-connections 1000 --server-pid PID]
//   (either: --ca-file PEM to dial wss://127.0.0.1:N/, trusting that CA, instead of ws://)
//
// echo: each connection keeps `pipeline` binary messages in flight against an echo server and
// sends one more for each echo, checked against what was sent; prints the median of one-second
// samples and messages per client CPU-second, with fastws_bench's key names. --max-messages ends
// the measurement after that many echoes (and sends no more), for instruction counts under
// callgrind.
// idle: opens connections and prints the resident memory each one costs this client process
// and, given its PID, the server (both measured over the same connections).
#include <fastws/client.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "bench/flags.hpp"
#include "bench/proc_stats.hpp"
#include "bench/socket.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct LoadOptions {
  std::uint16_t port = 0;
  std::size_t connections = 100;
  std::size_t payload_size = 16;
  std::size_t pipeline = 1;
  unsigned duration_s = 5;
  unsigned warmup_s = 1;
  std::uint64_t max_messages = 0;         // echo: 0, no limit
  std::size_t warmup_connections = 1000;  // idle: opened before the first memory reading
  pid_t server_pid = 0;
  std::string ca_file;  // set: wss://, the server's certificate verified against this CA
};

std::string url_of(const LoadOptions& options) {
  return (options.ca_file.empty() ? "ws://127.0.0.1:" : "wss://127.0.0.1:") +
         std::to_string(options.port) + "/";
}

fastws::ClientOptions client_options(const LoadOptions& options) {
  fastws::ClientOptions client{.threads = 1};
  client.tls.ca_file = options.ca_file;
  return client;
}

std::vector<fastws::bench::Flag> load_flags(LoadOptions& o) {
  using fastws::bench::uint_flag;
  return {
      uint_flag("port", o.port, 1, 65535, "the echo server's port on 127.0.0.1 (required)"),
      uint_flag("connections", o.connections, 1, 1'000'000, "connections (echo 100, idle 10000)"),
      uint_flag("size", o.payload_size, 1, 16 * 1024 * 1024, "echo: payload bytes (16)"),
      uint_flag("pipeline", o.pipeline, 1, 100'000, "echo: messages in flight per connection (1)"),
      uint_flag("duration", o.duration_s, 1, 3600, "echo: measured seconds (5)"),
      uint_flag("warmup", o.warmup_s, 0, 3600, "echo: seconds of load before measuring (1)"),
      uint_flag("max-messages", o.max_messages, 0, UINT64_MAX,
                "echo: stop once this many echoes were measured (0: no limit)"),
      uint_flag("warmup-connections", o.warmup_connections, 0, 1'000'000,
                "idle: connections held open before the first reading (1000)"),
      uint_flag("server-pid", o.server_pid, 1, 1u << 22, "server PID, for its CPU and memory"),
      fastws::bench::string_flag(
          "ca-file", o.ca_file,
          "dial wss:// trusting this CA (PEM; the certificate must name 127.0.0.1)"),
  };
}

// What the client's callbacks saw; the counters are written on the client's one loop thread.
struct Tally {
  std::atomic<std::size_t> opened{0};
  std::atomic<std::uint64_t> echoes{0};
  std::atomic<std::uint64_t> send_until{UINT64_MAX};  // echo: no more sends from this echo on
  std::atomic<bool> stopping{false};
  std::mutex mutex;
  std::string failure;  // the first one

  void fail(std::string what) {
    if (stopping.load(std::memory_order_relaxed)) return;
    std::lock_guard lock(mutex);
    if (failure.empty()) failure = std::move(what);
  }
  std::string first_failure() {
    std::lock_guard lock(mutex);
    return failure;
  }
};

// Opens `count` connections (at most 500 handshakes in flight) and waits until all are open.
bool open_connections(fastws::Client& client, const std::string& url, std::size_t count,
                      Tally& tally, std::vector<fastws::Conn>& conns) {
  const std::size_t first_conn = conns.size();
  const std::size_t opened_before = tally.opened.load();
  const std::size_t target = opened_before + count;
  const auto deadline = Clock::now() + 60s;
  const auto in_flight = [&] {
    return (conns.size() - first_conn) - (tally.opened.load() - opened_before);
  };
  for (std::size_t i = 0; i < count; ++i) {
    while (in_flight() >= 500 && Clock::now() < deadline && tally.first_failure().empty()) {
      std::this_thread::sleep_for(1ms);
    }
    conns.push_back(client.connect(url));
  }
  while (tally.opened.load() < target && Clock::now() < deadline) {
    if (!tally.first_failure().empty()) return false;
    std::this_thread::sleep_for(5ms);
  }
  if (tally.opened.load() < target) tally.fail("connections did not open within 60 s");
  return tally.first_failure().empty();
}

// Whether an echo holds exactly the bytes sent. 8 to 16 bytes (the usual load) as two words
// inline, the last overlapping the first: a call to memcmp cost as much as the rest of the check.
bool same_bytes(std::span<const std::byte> echo, std::span<const std::byte> sent) {
  const std::size_t size = sent.size();
  if (echo.size() != size) return false;
  if (size < 8 || size > 16) return std::memcmp(echo.data(), sent.data(), size) == 0;
  std::uint64_t echo_first, echo_last, sent_first, sent_last;
  std::memcpy(&echo_first, echo.data(), 8);
  std::memcpy(&echo_last, echo.data() + size - 8, 8);
  std::memcpy(&sent_first, sent.data(), 8);
  std::memcpy(&sent_last, sent.data() + size - 8, 8);
  return ((echo_first ^ sent_first) | (echo_last ^ sent_last)) == 0;
}

// Out of line, so that the message handler keeps nothing of its own across a call.
[[gnu::noinline, gnu::cold]] void report_wrong_echo(Tally& tally) {
  tally.fail("an echo differs from the message sent");
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

void report_connection_failures(fastws::Client& client, Tally& tally) {
  client.on_error([&tally](const fastws::Conn&, const fastws::CloseStatus& status) {
    tally.fail("connection failed: " + status.error);
  });
  client.on_close([&tally](const fastws::Conn&, const fastws::CloseStatus& status) {
    tally.fail("the server closed a connection: " + std::to_string(status.code) + " " +
               status.reason);
  });
}

int run_echo(const LoadOptions& options) {
  const std::vector<std::byte> payload = [&] {
    std::vector<std::byte> bytes(options.payload_size);
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>('a' + i % 26);
    return bytes;
  }();
  Tally tally;
  fastws::Client client(client_options(options));
  report_connection_failures(client, tally);
  client.on_open([&](const fastws::Conn& conn) {
    tally.opened.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t i = 0; i < options.pipeline; ++i) conn.send(payload);
  });
  const std::span<const std::byte> sent(payload);
  client.on_message([&tally, sent](const fastws::Conn& conn, fastws::Message message) {
    if (!same_bytes(message.data(), sent)) {
      report_wrong_echo(tally);
      return;
    }
    // One writer (this loop thread): a plain increment, readable from the measuring thread.
    const std::uint64_t echoes = tally.echoes.load(std::memory_order_relaxed) + 1;
    tally.echoes.store(echoes, std::memory_order_relaxed);
    if (echoes < tally.send_until.load(std::memory_order_relaxed)) conn.send(sent);
  });
  std::vector<fastws::Conn> conns;
  const std::string url = url_of(options);
  if (!open_connections(client, url, options.connections, tally, conns)) {
    std::fprintf(stderr, "client_load echo: %s\n", tally.first_failure().c_str());
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::seconds(options.warmup_s));

  const auto server_cpu_before = options.server_pid != 0
                                     ? fastws::bench::process_cpu_seconds(options.server_pid)
                                     : std::optional<double>{};
  const double client_cpu_before = fastws::bench::self_cpu_seconds();
  const auto start = Clock::now();
  const std::uint64_t first = tally.echoes.load();
  const std::uint64_t limit = options.max_messages == 0 ? UINT64_MAX : first + options.max_messages;
  tally.send_until = limit;
  // Until `deadline`, or false once the limit is reached. Without a limit this thread wakes
  // once a second only: its CPU time counts as the client's.
  const auto wait_until = [&](Clock::time_point deadline) {
    if (limit == UINT64_MAX) {
      std::this_thread::sleep_until(deadline);
      return true;
    }
    while (Clock::now() < deadline) {
      if (tally.echoes.load() >= limit) return false;
      std::this_thread::sleep_for(std::min<Clock::duration>(5ms, deadline - Clock::now()));
    }
    return true;
  };
  std::uint64_t previous = first;
  std::vector<double> samples;
  for (unsigned second = 1; second <= options.duration_s; ++second) {
    if (!wait_until(start + std::chrono::seconds(second))) break;
    const std::uint64_t now = tally.echoes.load();
    samples.push_back(static_cast<double>(now - previous));
    previous = now;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const std::uint64_t messages = tally.echoes.load() - first;
  const double client_cpu_s = fastws::bench::self_cpu_seconds() - client_cpu_before;
  const auto server_cpu_after = options.server_pid != 0
                                    ? fastws::bench::process_cpu_seconds(options.server_pid)
                                    : std::optional<double>{};
  tally.stopping = true;
  if (const std::string failure = tally.first_failure(); !failure.empty()) {
    std::fprintf(stderr, "client_load echo: %s\n", failure.c_str());
    return 1;
  }
  std::printf(
      "mode=client pipeline=%zu connections=%zu size=%zu seconds=%.2f messages=%llu "
      "msgs_per_s=%.0f client_cpu_s=%.2f msgs_per_client_cpu_s=%.0f",
      options.pipeline, options.connections, options.payload_size, seconds,
      // With no full-second sample (a short run cut by --max-messages) the mean is the figure.
      static_cast<unsigned long long>(messages),
      samples.empty() ? static_cast<double>(messages) / seconds : median(samples), client_cpu_s,
      client_cpu_s > 0 ? static_cast<double>(messages) / client_cpu_s : 0);
  if (server_cpu_before && server_cpu_after) {
    const double server_cpu_s = *server_cpu_after - *server_cpu_before;
    std::printf(" server_cpu_s=%.2f msgs_per_server_cpu_s=%.0f", server_cpu_s,
                server_cpu_s > 0 ? static_cast<double>(messages) / server_cpu_s : 0);
  }
  std::printf("\n");
  return 0;
}

int run_idle(const LoadOptions& options) {
  Tally tally;
  fastws::Client client(client_options(options));
  report_connection_failures(client, tally);
  client.on_open([&](const fastws::Conn&) { tally.opened.fetch_add(1); });
  std::vector<fastws::Conn> conns;
  conns.reserve(options.warmup_connections + options.connections);
  const std::string url = url_of(options);
  if (!open_connections(client, url, options.warmup_connections, tally, conns)) {
    std::fprintf(stderr, "client_load idle: warm-up: %s\n", tally.first_failure().c_str());
    return 1;
  }
  std::this_thread::sleep_for(200ms);
  const pid_t self = getpid();
  // The first reading of this process's RSS runs code it had not run yet (libstdc++'s streams
  // that parse /proc/PID/status): those pages turn resident after the reading and would count as
  // the connections' (64-68 KB, 6-7 B per connection of 10,000). A reading before the first one
  // counted loads them.
  fastws::bench::process_rss_bytes(self);
  const auto client_before = fastws::bench::process_rss_bytes(self);
  const auto server_before = options.server_pid != 0
                                 ? fastws::bench::process_rss_bytes(options.server_pid)
                                 : std::optional<unsigned long long>{};
  if (!open_connections(client, url, options.connections, tally, conns)) {
    std::fprintf(stderr, "client_load idle: %s\n", tally.first_failure().c_str());
    return 1;
  }
  std::this_thread::sleep_for(500ms);  // let both sides settle after the last handshake
  const auto client_after = fastws::bench::process_rss_bytes(self);
  const auto server_after = options.server_pid != 0
                                ? fastws::bench::process_rss_bytes(options.server_pid)
                                : std::optional<unsigned long long>{};
  tally.stopping = true;
  if (!client_before || !client_after) {
    std::fprintf(stderr, "client_load idle: cannot read this process's VmRSS\n");
    return 1;
  }
  const auto per_connection = [&](unsigned long long before, unsigned long long after) {
    return (static_cast<double>(after) - static_cast<double>(before)) /
           static_cast<double>(options.connections);
  };
  std::printf("mode=client connections=%zu client_bytes_per_conn=%.0f", options.connections,
              per_connection(*client_before, *client_after));
  if (server_before && server_after) {
    std::printf(" server_bytes_per_conn=%.0f", per_connection(*server_before, *server_after));
  }
  std::printf("\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  LoadOptions options;
  const std::string_view command = argc > 1 ? argv[1] : "";
  if (command == "idle") options.connections = 10'000;
  const auto flags = load_flags(options);
  if (command != "echo" && command != "idle") {
    std::printf("usage: client_load echo|idle --port N [flags]\n%s",
                fastws::bench::flags_help(flags).c_str());
    return command == "--help" || command == "-h" ? 0 : 2;
  }
  std::string error;
  if (!fastws::bench::apply_flags(argc, argv, 2, flags, error) || options.port == 0) {
    std::fprintf(stderr, "client_load %s: %s\n", argv[1],
                 error.empty() ? "--port is required" : error.c_str());
    return 2;
  }
  if (!fastws::bench::raise_fd_limit(options.connections + options.warmup_connections + 64,
                                     error)) {
    std::fprintf(stderr, "client_load: %s\n", error.c_str());
    return 1;
  }
  return command == "echo" ? run_echo(options) : run_idle(options);
}
