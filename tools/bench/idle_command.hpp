// `fastws_bench idle`: the server's resident memory per idle open connection. Opens N
// connections (finishing the handshake in ws mode), lets the server settle, and divides the
// growth of its VmRSS by N. With --message-size each connection (the warm-up ones too) first
// exchanges one message of that size with the (echo) server, compressed with --deflate: what a
// connection keeps once it has used permessage-deflate.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "connector.hpp"
#include "deflate_echo.hpp"
#include "echo_message.hpp"
#include "flags.hpp"
#include "proc_stats.hpp"
#include "socket.hpp"
#include "target_flags.hpp"

namespace fastws::bench {

struct IdleOptions {
  Target target;
  std::size_t connections = 10'000;
  // Opened (and kept) before the first RSS reading, so one-time costs of the first connections
  // (code pages of the TLS/SHA-1 library, allocator arenas, the loop's buffers) stay out of the
  // per-connection figure.
  std::size_t warmup_connections = 0;
  std::size_t batch = 500;
  unsigned settle_s = 2;
  pid_t server_pid = 0;          // 0: only open the connections, no memory figure
  std::size_t message_size = 0;  // ws mode: one message echoed on each connection (0: none)
};

inline std::vector<Flag> idle_flags(IdleOptions& o) {
  return flags_with_target(
      o.target, "ws (finish the WebSocket handshake) or tcp (connect only) (ws)",
      {
          uint_flag("connections", o.connections, 1, 1'000'000, "connections to hold open (10000)"),
          uint_flag("warmup-connections", o.warmup_connections, 0, 1'000'000,
                    "connections opened before the first RSS reading (0)"),
          uint_flag("batch", o.batch, 1, 100'000, "connections opened at once (500)"),
          uint_flag("settle", o.settle_s, 0, 600, "seconds to wait after the last one opened (2)"),
          uint_flag("server-pid", o.server_pid, 1, 1u << 22, "server PID, for its VmRSS"),
          uint_flag("message-size", o.message_size, 0, 1u << 20,
                    "ws mode: bytes of one message each connection has echoed before the "
                    "reading, compressed with --deflate (0: none)"),
          deflate_flag(o.target),
          switch_flag("deflate-context", o.target.deflate_keeps_context,
                      "with --deflate: offer it as a browser does, keeping context "
                      "(client_max_window_bits only)"),
      });
}

namespace detail {

// Sends the frame of one binary message on every connection in turn and waits for its echo.
inline bool echo_one_message_each(const std::vector<Fd>& fds, std::span<const std::byte> frame,
                                  std::string& error) {
  std::vector<std::byte> echo;
  for (const Fd& fd : fds) {
    if (!exchange_one_frame(fd.get(), frame, echo, std::chrono::seconds(5), error)) return false;
  }
  return true;
}

// The masked frame of one binary message of `size` bytes, compressed when `deflate`.
inline bool idle_message_frame(std::size_t size, bool deflate, std::vector<std::byte>& frame) {
  const std::vector<std::byte> payload = EchoMessage::pattern_payload(size);
  const MaskKey key = random_mask_key();
  if (!deflate) {
    append_frame(frame, payload, Opcode::binary, &key);
    return true;
  }
  std::vector<std::byte> compressed;
  if (!deflate_message(payload, compressed)) return false;
  append_frame(frame, compressed, Opcode::binary, &key, /*rsv1=*/true);
  return true;
}

inline void print_memory(const IdleOptions& options, unsigned long long before,
                         unsigned long long after) {
  const double per_connection = (static_cast<double>(after) - static_cast<double>(before)) /
                                static_cast<double>(options.connections);
  std::printf(
      "mode=%s deflate=%d message_size=%zu connections=%zu rss_before=%llu rss_after=%llu "
      "bytes_per_conn=%.0f\n"
      "%.0f bytes of server RSS per idle connection (%.1f MiB -> %.1f MiB for %zu connections)\n"
      "note: user-space RSS only; the kernel's socket memory (buffers, TCP state) is NOT "
      "included\n",
      mode_name(options.target.mode), options.target.deflate ? 1 : 0, options.message_size,
      options.connections, before, after, per_connection, per_connection,
      static_cast<double>(before) / 1048576.0, static_cast<double>(after) / 1048576.0,
      options.connections);
}

}  // namespace detail

inline int run_idle(const IdleOptions& options) {
  if (!has_required_port(options.target, "idle")) return 2;
  std::string error;
  if (!raise_fd_limit(options.connections + options.warmup_connections + 64, error)) {
    std::fprintf(stderr, "idle: %s\n", error.c_str());
    return 1;
  }
  std::vector<std::byte> message;
  const bool exchange = options.message_size != 0 && options.target.mode == Mode::ws;
  if (exchange &&
      !detail::idle_message_frame(options.message_size, options.target.deflate, message)) {
    std::fprintf(stderr, "idle: cannot compress the message (zlib)\n");
    return 1;
  }
  std::vector<Fd> warmup;
  if (options.warmup_connections != 0) {
    if (!open_connections(options.target, options.warmup_connections, options.batch, warmup,
                          error) ||
        (exchange && !detail::echo_one_message_each(warmup, message, error))) {
      std::fprintf(stderr, "idle: warm-up: %s\n", error.c_str());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::seconds(options.settle_s));
  }
  std::optional<unsigned long long> before;
  if (options.server_pid != 0 && !(before = process_rss_bytes(options.server_pid))) {
    std::fprintf(stderr, "idle: cannot read VmRSS of PID %d\n", options.server_pid);
    return 1;
  }
  std::vector<Fd> fds;
  if (!open_connections(options.target, options.connections, options.batch, fds, error) ||
      (exchange && !detail::echo_one_message_each(fds, message, error))) {
    std::fprintf(stderr, "idle: %s\n", error.c_str());
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::seconds(options.settle_s));
  const auto after = options.server_pid != 0 ? process_rss_bytes(options.server_pid) : std::nullopt;
  if (const std::size_t closed = count_closed(fds); closed != 0) {
    std::fprintf(stderr, "idle: the server closed %zu of %zu connections\n", closed, fds.size());
    return 1;
  }
  if (options.server_pid == 0) {
    std::printf("mode=%s connections=%zu opened (no --server-pid: no memory figure)\n",
                mode_name(options.target.mode), options.connections);
    return 0;
  }
  if (!after) {
    std::fprintf(stderr, "idle: cannot read VmRSS of PID %d\n", options.server_pid);
    return 1;
  }
  detail::print_memory(options, *before, *after);
  return 0;
}

}  // namespace fastws::bench
