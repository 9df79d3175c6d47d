// Attack (one that held): slowloris. N connections each send the start of an HTTP request and
// then one more header line a second, never finishing it; the server must cut every one of them
// at its handshake timeout (10 s by default). Waits for that timeout plus 5 s at most.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "attack.hpp"
#include "bench/connector.hpp"
#include "bench/socket.hpp"
#include "ws_peer.hpp"

namespace fastws::attack {

inline AttackOutcome run_slowloris(const AttackContext& context, std::size_t count,
                                   std::chrono::milliseconds handshake_timeout) {
  AttackOutcome outcome;
  if (!bench::raise_fd_limit(count + 64, outcome.error)) return outcome;
  bench::Target target;
  target.port = context.port;
  target.mode = bench::Mode::tcp;
  std::vector<bench::Fd> fds;
  if (!bench::open_connections(target, count, 500, fds, outcome.error)) return outcome;
  const auto start = Clock::now();
  const auto give_up = start + handshake_timeout + std::chrono::seconds(5);
  const auto send_to_all = [&](std::string_view text) {
    for (const bench::Fd& fd : fds) ::send(fd.get(), text.data(), text.size(), MSG_NOSIGNAL);
  };
  send_to_all("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  std::size_t cut = 0;
  auto next_line = start + std::chrono::seconds(1);
  for (int line = 0; Clock::now() < give_up && !context.stopped();) {
    cut = bench::count_closed(fds);
    if (cut == fds.size()) break;
    if (Clock::now() >= next_line) {
      send_to_all("X-Slow-" + std::to_string(line++) + ": 1\r\n");
      next_line += std::chrono::seconds(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const std::chrono::duration<double> took = Clock::now() - start;
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.1f", took.count());
  outcome.add("connections", fds.size());
  outcome.add("cut", cut);
  outcome.add("all_cut_after_s", cut == fds.size() ? std::string(seconds) : "never");
  outcome.check("every slow connection cut by the server", cut == fds.size());
  return outcome;
}

}  // namespace fastws::attack
