// Attack: one connection floods the echo server with valid 64-byte messages, as many as the
// socket takes, and reads (and checks) the echoes: fastws_bench's pipelined echo on a single
// connection. What it measures is fairness: the well-behaved client on the same loop must not
// wait behind the flood.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "attack.hpp"
#include "bench/connector.hpp"
#include "bench/echo_connection.hpp"
#include "bench/echo_message.hpp"
#include "bench/echo_worker.hpp"

namespace fastws::attack {

inline AttackOutcome run_message_flood(const AttackContext& context,
                                       std::chrono::milliseconds duration) {
  AttackOutcome outcome;
  bench::Target target;
  target.port = context.port;
  std::vector<bench::Fd> fds;
  if (!bench::open_connections(target, 1, 1, fds, outcome.error)) return outcome;
  const bench::EchoMessage message(bench::Mode::ws, 64,
                                   {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}});
  const bench::PipelinedBuffers buffers(message, 0, bench::read_buffer_bytes);
  std::vector<bench::EchoConnection> connections;
  connections.emplace_back(std::move(fds[0]), 0, buffers.streams());
  bench::EchoWorker worker(std::move(connections));
  std::atomic<bool> stop{false};
  const auto start = Clock::now();
  std::thread load([&] { worker.run(stop); });
  const auto end = start + duration;
  while (Clock::now() < end && !context.stopped() && !worker.failed()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  load.join();
  const std::chrono::duration<double> took = Clock::now() - start;
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.0f", static_cast<double>(worker.messages()) / took.count());
  outcome.add("echoes", worker.messages());
  outcome.add("echoes_per_s", rate);
  if (worker.failed()) outcome.add("flood_ended", "'" + worker.error() + "'");
  return outcome;
}

}  // namespace fastws::attack
