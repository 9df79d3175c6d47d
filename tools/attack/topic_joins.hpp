// Attack: one connection of the topics example sends N "join ROOM" messages for N different
// rooms back to back and reads the answers (issue 16, defect 4): the time until the last answer
// shows how a join's cost grows with the connection's topics, and the well-behaved client on the
// same loop shows whether the joins stall everyone else. The connection then closes (leaving
// every room at once) and the attack waits a second for that to be done.
#pragma once

#include <poll.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "attack.hpp"
#include "ws_peer.hpp"

namespace fastws::attack {

inline AttackOutcome run_topic_joins(const AttackContext& context, std::size_t joins) {
  AttackOutcome outcome;
  WsPeer peer;
  if (!peer.open(context.port, "/", Clock::now() + std::chrono::seconds(2), outcome.error)) {
    return outcome;
  }
  std::vector<std::byte> requests;
  for (std::size_t i = 0; i < joins; ++i) {
    char text[32];
    std::snprintf(text, sizeof text, "join room-%07zu", i);
    const auto frame = masked_frame(Opcode::text, as_bytes(text));
    requests.insert(requests.end(), frame.begin(), frame.end());
  }
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::seconds(60);
  std::size_t sent = 0;
  std::size_t joined = 0;
  std::size_t other_replies = 0;
  std::optional<std::uint16_t> close_code;
  std::string error;
  bool ended = false;
  // A server that refuses joins past a cap may answer none of them: 15 s of silence after the
  // last join went out ends the wait. (Not less: all the joins fit in one read, and a server
  // whose joins cost the square of their count answers none until it has done them all.)
  auto last_answer = start;
  const auto quiet = [&] {
    return sent == requests.size() && Clock::now() - last_answer > std::chrono::seconds(15);
  };
  while (joined + other_replies < joins && !ended && !close_code && !quiet() &&
         Clock::now() < deadline && !context.stopped()) {
    pollfd ready{peer.fd(), static_cast<short>(POLLIN | (sent < requests.size() ? POLLOUT : 0)), 0};
    ::poll(&ready, 1, 100);
    if ((ready.revents & POLLOUT) != 0) {
      const auto n = send_within(peer.fd(), std::span(requests).subspan(sent), 0, error);
      if (!n) break;
      sent += *n;
    }
    ServerFrame frame;
    for (;;) {
      const ReadStatus status = peer.read_frame(frame, Clock::now(), error);
      if (status == ReadStatus::timeout) break;
      if (status != ReadStatus::frame) {
        ended = true;
        break;
      }
      if (frame.header.opcode == Opcode::close) {
        close_code = frame.close_code();
        break;
      }
      const std::string_view text(reinterpret_cast<const char*>(frame.payload.data()),
                                  frame.payload.size());
      if (frame.header.opcode != Opcode::text) continue;
      ++(text.starts_with("joined ") ? joined : other_replies);
      last_answer = Clock::now();
    }
  }
  const std::chrono::duration<double> took = last_answer - start;
  peer.close();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.2f", took.count());
  outcome.add("joins", joins);
  outcome.add("joined", joined);
  outcome.add("other_replies", other_replies);
  outcome.add("last_answer_s", seconds);
  if (close_code) outcome.add("close", *close_code);
  if (ended && !close_code) outcome.add("connection_lost", "yes");
  return outcome;
}

}  // namespace fastws::attack
