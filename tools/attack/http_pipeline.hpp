// Attack: one plain-HTTP connection sends the same request back to back for a while and never
// reads a byte of the answers (issue 16, defect 1). A server that answers every request into an
// unbounded backlog grows without limit; one that obeys its output limit stops reading.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "attack.hpp"
#include "ws_peer.hpp"

namespace fastws::attack {

inline AttackOutcome run_http_pipeline(const AttackContext& context, const std::string& request,
                                       std::chrono::milliseconds duration) {
  AttackOutcome outcome;
  std::string error;
  // A small receive buffer: the answers pile up at the server, not in this socket.
  const bench::Fd fd =
      connect_tcp(context.port, Clock::now() + std::chrono::seconds(2), 4096, error);
  if (!fd) {
    outcome.error = error;
    return outcome;
  }
  // Whole requests back to back: sending from any offset of this buffer continues the stream.
  std::string batch;
  while (batch.size() + request.size() <= 64 * 1024) batch += request;
  std::uint64_t sent = 0;
  std::size_t offset = 0;
  const auto end = Clock::now() + duration;
  while (Clock::now() < end && !context.stopped()) {
    const auto n = send_within(fd.get(), as_bytes(batch).subspan(offset), 100, error);
    if (!n) {
      outcome.add("server_closed", "yes");
      break;
    }
    sent += *n;
    offset = (offset + *n) % batch.size();
  }
  char mib[32];
  std::snprintf(mib, sizeof mib, "%.1f", static_cast<double>(sent) / 1048576.0);
  outcome.add("requests_sent", sent / request.size());
  outcome.add("mib_sent", mib);
  return outcome;
}

}  // namespace fastws::attack
