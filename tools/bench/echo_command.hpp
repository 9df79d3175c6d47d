// `fastws_bench echo`: echo throughput of a server, as messages per second (the median of
// one-second samples) and, given the server's PID, messages per server CPU-second.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "connector.hpp"
#include "deflate_echo.hpp"
#include "echo_connection.hpp"
#include "echo_message.hpp"
#include "echo_worker.hpp"
#include "flags.hpp"
#include "proc_stats.hpp"
#include "socket.hpp"
#include "target_flags.hpp"

namespace fastws::bench {

struct EchoOptions {
  Target target;
  std::size_t connections = 100;
  std::size_t payload_size = 16;
  std::size_t pipeline = 1;  // 1: ping-pong; K: up to K in flight; 0: unlimited
  unsigned duration_s = 5;
  unsigned warmup_s = 1;
  std::uint64_t max_messages = 0;  // 0: no limit
  std::size_t threads = 1;
  pid_t server_pid = 0;  // 0: no server CPU figures
};

inline std::vector<Flag> echo_flags(EchoOptions& o) {
  return flags_with_target(
      o.target, "ws (WebSocket frames) or tcp (raw bytes, for a TCP echo server) (ws)",
      {
          uint_flag("connections", o.connections, 1, 1'000'000, "connections (100)"),
          uint_flag("size", o.payload_size, 1, 16 * 1024 * 1024, "payload bytes per message (16)"),
          uint_flag("pipeline", o.pipeline, 0, 1'000'000,
                    "messages in flight per connection: 1 ping-pong, 0 unlimited (1)"),
          uint_flag("duration", o.duration_s, 1, 3600, "measured seconds (5)"),
          uint_flag("warmup", o.warmup_s, 0, 3600, "seconds of load before measuring (1)"),
          uint_flag("max-messages", o.max_messages, 0, UINT64_MAX,
                    "stop once this many echoes were measured (0: no limit)"),
          uint_flag("threads", o.threads, 1, 1024, "load threads, one epoll loop each (1)"),
          uint_flag("server-pid", o.server_pid, 1, 1u << 22, "server PID, for its CPU time"),
          deflate_flag(o.target),
      });
}

// What one measured window produced.
struct EchoResult {
  std::uint64_t messages = 0;
  double seconds = 0;
  std::vector<double> samples;  // messages per second, one per full second
  std::optional<double> server_cpu_s;
  double client_cpu_s = 0;
};

namespace detail {

inline double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

// The running load: its threads and their connections.
class EchoLoad {
 public:
  // `compressed`: the message and echo of a --deflate run, else null.
  EchoLoad(const EchoOptions& options, std::vector<Fd> fds, const MaskKey& key,
           const CompressedEcho* compressed) {
    const EchoMessage message(options.target.mode, options.payload_size, key);
    if (compressed != nullptr) {
      // Compressed messages carry no sequence number (it would change the compressed bytes), so
      // ping-pong runs on the shared buffers too, with one message in flight.
      shared_ = std::make_unique<PipelinedBuffers>(compressed->out, compressed->echo, true,
                                                   options.pipeline, read_buffer_bytes);
    } else if (options.pipeline != 1) {
      shared_ = std::make_unique<PipelinedBuffers>(message, options.pipeline, read_buffer_bytes);
    }
    std::vector<std::vector<EchoConnection>> shares(options.threads);
    for (std::size_t i = 0; i < fds.size(); ++i) {
      auto& share = shares[i % options.threads];
      if (shared_) {
        share.emplace_back(std::move(fds[i]), options.pipeline, shared_->streams());
      } else {
        share.emplace_back(std::move(fds[i]), std::make_unique<EchoMessage>(message));
      }
    }
    for (auto& share : shares) workers_.push_back(std::make_unique<EchoWorker>(std::move(share)));
    for (auto& worker : workers_) {
      threads_.emplace_back([this, w = worker.get()] { w->run(stop_); });
    }
  }
  EchoLoad(const EchoLoad&) = delete;
  EchoLoad& operator=(const EchoLoad&) = delete;
  ~EchoLoad() { stop(); }

  std::uint64_t messages() const {
    std::uint64_t total = 0;
    for (const auto& worker : workers_) total += worker->messages();
    return total;
  }

  // The first failure of any thread, or an empty string.
  std::string error() const {
    for (const auto& worker : workers_) {
      if (worker->failed()) return worker->error();
    }
    return {};
  }

  void stop() {
    stop_.store(true, std::memory_order_relaxed);
    for (auto& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

 private:
  std::unique_ptr<PipelinedBuffers> shared_;  // pipelined mode only
  std::vector<std::unique_ptr<EchoWorker>> workers_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
};

using Clock = std::chrono::steady_clock;

// Sleeps until `deadline` in short steps so that a failure or the message limit ends the run at
// once. Returns false when the run must end early.
inline bool wait_until(const EchoLoad& load, Clock::time_point deadline,
                       std::uint64_t message_limit) {
  while (Clock::now() < deadline) {
    if (!load.error().empty() || load.messages() >= message_limit) return false;
    std::this_thread::sleep_for(
        std::min<Clock::duration>(std::chrono::milliseconds(20), deadline - Clock::now()));
  }
  return true;
}

inline double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

inline EchoResult measure(const EchoLoad& load, const EchoOptions& options) {
  wait_until(load, Clock::now() + std::chrono::seconds(options.warmup_s), UINT64_MAX);
  EchoResult result;
  const auto server_cpu_before =
      options.server_pid != 0 ? process_cpu_seconds(options.server_pid) : std::optional<double>{};
  const double client_cpu_before = self_cpu_seconds();
  const auto start = Clock::now();
  const std::uint64_t start_messages = load.messages();
  const std::uint64_t limit =
      options.max_messages == 0 ? UINT64_MAX : start_messages + options.max_messages;
  std::uint64_t previous = start_messages;
  for (unsigned second = 1; second <= options.duration_s; ++second) {
    if (!wait_until(load, start + std::chrono::seconds(second), limit)) break;
    const std::uint64_t now = load.messages();
    result.samples.push_back(static_cast<double>(now - previous));
    previous = now;
  }
  const auto end = Clock::now();
  result.messages = load.messages() - start_messages;
  result.seconds = seconds_between(start, end);
  result.client_cpu_s = self_cpu_seconds() - client_cpu_before;
  const auto server_cpu_after =
      options.server_pid != 0 ? process_cpu_seconds(options.server_pid) : std::optional<double>{};
  if (server_cpu_before && server_cpu_after) {
    result.server_cpu_s = *server_cpu_after - *server_cpu_before;
  }
  return result;
}

// `compressed`: the messages of a --deflate run, whose sizes are printed too; else null.
inline void print_result(const EchoOptions& options, const EchoResult& result,
                         const CompressedEcho* compressed) {
  // With no full-second sample (a short run cut by --max-messages) the mean is the best figure.
  const double mean =
      result.seconds > 0 ? static_cast<double>(result.messages) / result.seconds : 0;
  const double per_second = result.samples.empty() ? mean : median(result.samples);
  std::printf(
      "mode=%s pipeline=%zu connections=%zu size=%zu threads=%zu seconds=%.2f messages=%llu "
      "msgs_per_s=%.0f msgs_per_s_mean=%.0f samples=%zu client_cpu_s=%.2f",
      mode_name(options.target.mode), options.pipeline, options.connections, options.payload_size,
      options.threads, result.seconds, static_cast<unsigned long long>(result.messages), per_second,
      mean, result.samples.size(), result.client_cpu_s);
  if (result.server_cpu_s) {
    const double per_cpu =
        *result.server_cpu_s > 0 ? static_cast<double>(result.messages) / *result.server_cpu_s : 0;
    std::printf(" server_cpu_s=%.2f msgs_per_server_cpu_s=%.0f", *result.server_cpu_s, per_cpu);
  }
  if (compressed != nullptr) {
    std::printf(" deflate=1 frame_bytes=%zu echo_frame_bytes=%zu echo_compressed=%d",
                compressed->out.size(), compressed->echo.size(), compressed->echo_compressed);
  }
  std::printf("\n%.3f M echoes/s (median of %zu one-second samples), %llu echoes in %.2f s",
              per_second / 1e6, result.samples.size(),
              static_cast<unsigned long long>(result.messages), result.seconds);
  if (result.server_cpu_s) {
    std::printf("; server CPU %.2f s", *result.server_cpu_s);
  }
  std::printf("; this client used %.2f CPU-s\n", result.client_cpu_s);
}

}  // namespace detail

inline int run_echo(const EchoOptions& options) {
  if (!has_required_port(options.target, "echo")) return 2;
  std::string error;
  if (!raise_fd_limit(options.connections + 64, error)) {
    std::fprintf(stderr, "echo: %s\n", error.c_str());
    return 1;
  }
  const MaskKey key = random_mask_key();
  const bool deflate = options.target.deflate && options.target.mode == Mode::ws;
  CompressedEcho compressed;
  if (deflate &&
      !learn_compressed_echo(options.target, EchoMessage::pattern_payload(options.payload_size),
                             key, compressed, error)) {
    std::fprintf(stderr, "echo: --deflate: %s\n", error.c_str());
    return 1;
  }
  std::vector<Fd> fds;
  if (!open_connections(options.target, options.connections, 500, fds, error)) {
    std::fprintf(stderr, "echo: %s\n", error.c_str());
    return 1;
  }
  EchoOptions effective = options;
  effective.threads = std::min(options.threads, options.connections);
  detail::EchoLoad load(effective, std::move(fds), key, deflate ? &compressed : nullptr);
  const EchoResult result = detail::measure(load, effective);
  load.stop();
  // A failure after the last sample still fails the run: every echo must have been right.
  if (const std::string failure = load.error(); !failure.empty()) {
    std::fprintf(stderr, "echo: %s\n", failure.c_str());
    return 1;
  }
  detail::print_result(effective, result, deflate ? &compressed : nullptr);
  return 0;
}

}  // namespace fastws::bench
