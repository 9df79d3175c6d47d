// Attack (one that held): a deflate bomb. One permessage-deflate message of about 1 MB on the
// wire that inflates to 1 GiB of zeros; the server must close with 1009 (message too big) long
// before it has inflated it all.
#pragma once

#include <poll.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include "attack.hpp"
#include "deflate_zeros.hpp"
#include "ws_peer.hpp"

namespace fastws::attack {

inline AttackOutcome run_deflate_bomb(const AttackContext& context) {
  AttackOutcome outcome;
  WsPeer peer;
  if (!peer.open(context.port, "/", Clock::now() + std::chrono::seconds(2), outcome.error,
                 "Sec-WebSocket-Extensions: permessage-deflate\r\n")) {
    return outcome;
  }
  if (peer.response().find("permessage-deflate") == std::string::npos) {
    outcome.error = "the server did not agree to permessage-deflate";
    return outcome;
  }
  const auto bomb = masked_frame(Opcode::binary, deflated_zeros(std::size_t{1} << 30), true, true);
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::seconds(5);
  std::size_t sent = 0;
  std::optional<std::uint16_t> close_code;
  std::string error;
  // Sends and reads at once: the close may come while the bomb is still going out.
  while (!close_code && Clock::now() < deadline && !context.stopped()) {
    pollfd ready{peer.fd(), static_cast<short>(POLLIN | (sent < bomb.size() ? POLLOUT : 0)), 0};
    ::poll(&ready, 1, 100);
    if ((ready.revents & POLLOUT) != 0) {
      const auto n = send_within(peer.fd(), std::span(bomb).subspan(sent), 0, error);
      if (n) sent += *n;
    }
    ServerFrame frame;
    ReadStatus status;
    while ((status = peer.read_frame(frame, Clock::now(), error)) == ReadStatus::frame) {
      if (frame.header.opcode == Opcode::close) close_code = frame.close_code();
    }
    if (status == ReadStatus::closed || status == ReadStatus::error) break;
  }
  const std::chrono::duration<double> took = Clock::now() - start;
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.3f", took.count());
  outcome.add("wire_bytes", bomb.size());
  outcome.add("close", close_code ? std::to_string(*close_code) : "none");
  outcome.add("close_after_s", seconds);
  outcome.check("closed 1009 (message too big)", close_code == 1009);
  return outcome;
}

}  // namespace fastws::attack
