// Fan-out of topic publishes measured from outside the servers (bench/run_redis.sh): subscribers
// spread over the nodes (examples/topics, scaled out with --redis, or one node alone), one
// publisher connection per node. Each message carries its publisher and its send time (the
// monotonic clock, shared by the processes of one machine), so every subscriber knows whether it
// got the message locally (its node is the publisher's) or across nodes, and how long it took.
//
// Three phases:
//   probe     publishes until every subscriber has heard every publisher (subscriptions in
//             place everywhere, in Redis too);
//   latency   each publisher sends --rate messages per second for --duration seconds: the
//             delivery latency, local and across nodes (p50, p99);
//   burst     each publisher sends --burst messages at once: deliveries per second until the
//             last one arrived, and the CPU the nodes and Redis (--pids) spent per message.
// Naming one node several times (--ports p,p,p) gives the same load without scale-out: every
// subscriber and publisher on one server, all deliveries local. With --topics K every subscriber
// is in K topics and the publishers take turns over them (a Redis Cluster spreads them over its
// shards).
// Prints one line of key=value pairs.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/flags.hpp"
#include "bench/proc_stats.hpp"
#include "fastws/client.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

enum Phase : int { probe = 0, latency = 1, burst = 2 };

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

struct Settings {
  std::string ports;  // "p1,p2,p3": one node each
  std::size_t subscribers = 1000;
  std::size_t rate = 20;  // per publisher, latency phase
  std::size_t duration = 3;
  std::size_t burst = 200;  // per publisher
  std::size_t size = 64;
  std::size_t topics = 1;
  std::string pids;        // node pids, comma-separated
  std::string redis_pids;  // optional
};

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    const auto comma = text.find(',', start);
    parts.push_back(text.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return parts;
}

// What the subscribers saw; written by the client's loop thread, read after the phase.
struct Observed {
  std::atomic<std::size_t> joined{0};
  std::atomic<std::size_t> probed{0};                   // subscribers that heard every publisher
  std::array<std::atomic<std::size_t>, 3> delivered{};  // per phase
  std::atomic<std::size_t> cross_delivered{0};          // burst phase, across nodes
  std::mutex samples_mutex;
  std::vector<std::int64_t> local_ns;  // latency phase
  std::vector<std::int64_t> cross_ns;
};

struct Subscriber {
  std::size_t node = 0;
  std::uint64_t heard = 0;  // probe: a bit per publisher and topic
};

double percentile_us(std::vector<std::int64_t>& samples, double p) {
  if (samples.empty()) return 0;
  const auto at = static_cast<std::size_t>(p * static_cast<double>(samples.size() - 1));
  std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(at),
                   samples.end());
  return static_cast<double>(samples[at]) / 1000.0;
}

double cpu_of(const std::vector<pid_t>& pids) {
  double total = 0;
  for (pid_t pid : pids) total += fastws::bench::process_cpu_seconds(pid).value_or(0);
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  using fastws::bench::string_flag;
  using fastws::bench::uint_flag;
  const std::vector<fastws::bench::Flag> flags = {
      string_flag("ports", settings.ports, "node ports, comma-separated"),
      uint_flag("subscribers", settings.subscribers, 1, 100000, "spread over the nodes"),
      uint_flag("rate", settings.rate, 1, 100000, "messages/s per publisher (latency phase)"),
      uint_flag("duration", settings.duration, 1, 600, "seconds of the latency phase"),
      uint_flag("burst", settings.burst, 1, 1000000, "messages per publisher (burst phase)"),
      uint_flag("size", settings.size, 40, 1 << 20, "message size"),
      string_flag("pids", settings.pids, "node pids, comma-separated (CPU)"),
      uint_flag("topics", settings.topics, 1, 20, "topics every subscriber is in"),
      string_flag("redis-pids", settings.redis_pids, "redis-server pids, comma-separated (CPU)"),
  };
  std::string error;
  if (!fastws::bench::apply_flags(argc, argv, 1, flags, error) || settings.ports.empty()) {
    std::fprintf(stderr, "redis_fanout_load: %s\n",
                 error.empty() ? "--ports is needed" : error.c_str());
    return 2;
  }
  const std::vector<std::string> ports = split(settings.ports);
  const std::size_t nodes = ports.size();
  if (nodes > 3) {
    std::fprintf(stderr, "redis_fanout_load: at most 3 nodes\n");
    return 2;
  }
  std::vector<pid_t> node_pids;
  for (const std::string& pid : split(settings.pids)) node_pids.push_back(std::stoi(pid));
  std::vector<pid_t> redis_pids;
  for (const std::string& pid : split(settings.redis_pids)) redis_pids.push_back(std::stoi(pid));

  Observed seen;
  // Probe: a bit per publisher and topic.
  const std::uint64_t heard_everything = (std::uint64_t{1} << (nodes * settings.topics)) - 1;
  fastws::Client client({.threads = 1, .max_buffered_bytes = 64u << 20});
  client.on_open([&settings](const fastws::Conn& conn) {
    if (conn.user_data<Subscriber>() == nullptr) return;
    for (std::size_t topic = 0; topic < settings.topics; ++topic) {
      conn.send("join bench" + std::to_string(topic));
    }
  });
  client.on_message([&](const fastws::Conn& conn, fastws::Message message) {
    auto* subscriber = conn.user_data<Subscriber>();
    if (subscriber == nullptr) return;
    const std::string_view text = message.text();
    if (text.starts_with("joined bench")) {
      seen.joined.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    // "bench<topic>: <publisher> <phase> <sent ns> <padding>"
    std::size_t topic = 0;
    std::size_t publisher = 0;
    int message_phase = 0;
    std::int64_t sent = 0;
    const char* end = text.data() + text.size();
    const char* at = std::from_chars(text.data() + 5, end, topic).ptr + 2;
    at = std::from_chars(at, end, publisher).ptr + 1;
    at = std::from_chars(at, end, message_phase).ptr + 1;
    std::from_chars(at, end, sent);
    const std::int64_t took = now_ns() - sent;
    if (publisher >= nodes || topic >= settings.topics || message_phase < probe ||
        message_phase > burst) {
      return;
    }
    seen.delivered[static_cast<std::size_t>(message_phase)].fetch_add(1, std::memory_order_relaxed);
    // One node named three times ("--ports p,p,p": the baseline without Redis) is all local.
    const bool cross = ports[publisher] != ports[subscriber->node];
    if (message_phase == probe) {
      const std::uint64_t before = subscriber->heard;
      subscriber->heard |= std::uint64_t{1} << (publisher * settings.topics + topic);
      if (before != heard_everything && subscriber->heard == heard_everything) seen.probed++;
    } else if (message_phase == latency) {
      std::lock_guard lock(seen.samples_mutex);  // one client loop: never contended
      (cross ? seen.cross_ns : seen.local_ns).push_back(took);
    } else if (cross) {
      seen.cross_delivered.fetch_add(1, std::memory_order_relaxed);
    }
  });

  for (std::size_t i = 0; i < settings.subscribers; ++i) {
    const std::size_t node = i % nodes;
    client.connect("ws://127.0.0.1:" + ports[node] + "/", {.user_data = Subscriber{node, 0}});
  }
  std::vector<fastws::Conn> publishers;
  for (std::size_t node = 0; node < nodes; ++node) {
    fastws::ConnectResult result = client.connect_and_wait("ws://127.0.0.1:" + ports[node] + "/");
    if (!result) {
      std::fprintf(stderr, "redis_fanout_load: %s\n", result.error.reason.c_str());
      return 1;
    }
    publishers.push_back(result.conn);
  }
  const auto wait_for = [](const std::function<bool()>& done, std::chrono::seconds limit) {
    const auto deadline = Clock::now() + limit;
    while (!done()) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(2ms);
    }
    return true;
  };
  const std::size_t joins = settings.subscribers * settings.topics;
  if (!wait_for([&] { return seen.joined.load() == joins; }, 30s)) {
    std::fprintf(stderr, "redis_fanout_load: only %zu of %zu joins answered\n", seen.joined.load(),
                 joins);
    return 1;
  }
  const std::string padding(settings.size, '.');
  const auto publish = [&](std::size_t publisher, int message_phase, std::size_t topic) {
    std::string text = "bench" + std::to_string(topic) + ": " + std::to_string(publisher) + " " +
                       std::to_string(message_phase) + " " + std::to_string(now_ns()) + " ";
    text.append(padding, 0, settings.size > text.size() ? settings.size - text.size() : 0);
    publishers[publisher].send(text);
  };

  // Probe: until every subscriber heard every publisher.
  std::size_t probes = 0;
  const bool probed = wait_for(
      [&] {
        for (std::size_t p = 0; p < nodes; ++p) publish(p, probe, probes % settings.topics);
        ++probes;
        std::this_thread::sleep_for(50ms);
        return seen.probed.load() == settings.subscribers;
      },
      30s);
  if (!probed) {
    std::fprintf(stderr, "redis_fanout_load: only %zu subscribers heard every publisher\n",
                 seen.probed.load());
    return 1;
  }
  std::this_thread::sleep_for(200ms);  // the last probes arrive

  // Latency: paced publishes.
  const std::size_t ticks = settings.rate * settings.duration;
  const auto start = Clock::now();
  for (std::size_t tick = 0; tick < ticks; ++tick) {
    std::this_thread::sleep_until(start +
                                  tick * std::chrono::nanoseconds(1'000'000'000 / settings.rate));
    for (std::size_t p = 0; p < nodes; ++p) publish(p, latency, (p + tick) % settings.topics);
  }
  const std::size_t latency_expected = ticks * nodes * settings.subscribers;
  wait_for([&] { return seen.delivered[latency].load() >= latency_expected; }, 30s);

  // Burst: everything at once.
  const double cpu_before = cpu_of(node_pids);
  const double redis_before = cpu_of(redis_pids);
  const auto burst_start = Clock::now();
  for (std::size_t i = 0; i < settings.burst; ++i) {
    // Each publisher goes through the topics in blocks: publishes to one topic in a row leave
    // for each subscriber in one write (alternating topics would cost a write per message).
    const std::size_t block = i * settings.topics / settings.burst;
    for (std::size_t p = 0; p < nodes; ++p) publish(p, burst, (p * 3 + block) % settings.topics);
  }
  const std::size_t burst_expected = settings.burst * nodes * settings.subscribers;
  const bool complete =
      wait_for([&] { return seen.delivered[burst].load() >= burst_expected; }, 60s);
  const double seconds = std::chrono::duration<double>(Clock::now() - burst_start).count();
  const double node_cpu = cpu_of(node_pids) - cpu_before;
  const double redis_cpu = cpu_of(redis_pids) - redis_before;
  const double messages = static_cast<double>(settings.burst * nodes);

  std::lock_guard lock(seen.samples_mutex);
  std::printf(
      "nodes=%zu subscribers=%zu latency_deliveries=%zu/%zu local_p50_us=%.0f local_p99_us=%.0f "
      "cross_p50_us=%.0f cross_p99_us=%.0f burst_deliveries=%zu/%zu%s deliveries_per_s=%.0f "
      "cross_deliveries_per_s=%.0f node_cpu_us_per_message=%.1f redis_cpu_us_per_message=%.1f\n",
      nodes, settings.subscribers, seen.delivered[latency].load(), latency_expected,
      percentile_us(seen.local_ns, 0.5), percentile_us(seen.local_ns, 0.99),
      percentile_us(seen.cross_ns, 0.5), percentile_us(seen.cross_ns, 0.99),
      seen.delivered[burst].load(), burst_expected, complete ? "" : " (incomplete)",
      static_cast<double>(seen.delivered[burst].load()) / seconds,
      static_cast<double>(seen.cross_delivered.load()) / seconds, node_cpu * 1e6 / messages,
      redis_cpu * 1e6 / messages);
  return complete ? 0 : 1;
}
