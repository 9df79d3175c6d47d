// `fastws_bench broadcast`: how fast a server fans one message out to many connections, and what
// a message queued for many slow connections costs it in memory.
//
// Connection 0 publishes; the server sends every message it gets to every connection, the
// publisher's included. In ws mode the publisher sends masked binary frames and the server
// broadcasts their payload; in tcp mode the server is a plain relay (bench/load/
// tcp_broadcast_server) and the publisher sends the very bytes the relay must copy, the frame a
// WebSocket server would send. Either way every connection must receive the same bytes: one
// unmasked binary frame per broadcast (RFC 6455 5.2) whose payload starts with its sequence
// number. Every received byte is compared.
//
// Throughput (default): at most --window broadcasts are in flight; the next one is published when
// the oldest reached every connection. One thread, one epoll loop over all connections.
// Memory (--queued M): the connections stop reading (receive buffers shrunk to --rcvbuf first), M
// broadcasts are published at once, and when the server is idle its VmRSS growth and the payload
// bytes the kernel holds in the connections' sockets are each divided by connections x M. What
// the kernel did not take, the server holds: shared bytes cost it ~0 RSS per held byte, a copy
// per connection ~1.
#pragma once

#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "connector.hpp"
#include "echo_command.hpp"
#include "echo_message.hpp"
#include "flags.hpp"
#include "idle_command.hpp"
#include "proc_stats.hpp"
#include "socket.hpp"
#include "target_flags.hpp"

namespace fastws::bench {

struct BroadcastOptions {
  Target target;
  std::size_t connections = 1000;
  std::size_t payload_size = 1024;
  std::size_t window = 32;
  unsigned duration_s = 5;
  unsigned warmup_s = 1;
  std::size_t queued = 0;     // > 0: the memory measurement instead of the throughput one
  int receive_buffer = 4096;  // memory mode: SO_RCVBUF of every connection
  pid_t server_pid = 0;       // 0: no server CPU or memory figures
};

inline std::vector<Flag> broadcast_flags(BroadcastOptions& o) {
  return flags_with_target(
      o.target,
      "ws (the server broadcasts each message it gets) or tcp (a relay copying each byte it gets "
      "to every connection) (ws)",
      {
          uint_flag("connections", o.connections, 2, 1'000'000,
                    "connections, all receiving; the first one also publishes (1000)"),
          uint_flag("size", o.payload_size, 8, 16 * 1024 * 1024,
                    "payload bytes per broadcast (1024)"),
          uint_flag("window", o.window, 1, 4096,
                    "broadcasts in flight: published but not yet at every connection (32)"),
          uint_flag("duration", o.duration_s, 1, 3600, "measured seconds (5)"),
          uint_flag("warmup", o.warmup_s, 0, 3600, "seconds of load before measuring (1)"),
          uint_flag("queued", o.queued, 0, 1'000'000,
                    "measure memory instead: publish this many while nobody reads (0)"),
          uint_flag("rcvbuf", o.receive_buffer, 2048, 64 * 1024 * 1024,
                    "memory mode: SO_RCVBUF of each connection (4096)"),
          uint_flag("server-pid", o.server_pid, 1, 1u << 22, "server PID, for its CPU and VmRSS"),
      });
}

namespace detail {

// The frame of every broadcast, kept once: received bytes are compared with it, except the
// sequence number, which is compared on its own, so no frame is built per broadcast to check it.
class BroadcastFrames {
 public:
  BroadcastFrames(Mode mode, std::size_t payload_size)
      : message_(Mode::ws, payload_size, random_mask_key()), mode_(mode) {
    const auto frame = message_.expected_echo();
    template_.assign(frame.begin(), frame.end());
    sequence_at_ = template_.size() - payload_size;
    sequence_end_ = sequence_at_ + std::min(max_sequence_bytes, payload_size);
  }

  std::size_t frame_size() const noexcept { return template_.size(); }

  // What the publisher sends for broadcast `sequence`: a masked frame (RFC 6455 5.3) for a
  // WebSocket server, the frame to relay as it is for a TCP relay.
  std::span<const std::byte> publication(std::uint64_t sequence) {
    message_.set_sequence(sequence);
    return mode_ == Mode::ws ? message_.wire_out() : message_.expected_echo();
  }

  // True when `bytes` are bytes [offset, offset + bytes.size()) of broadcast `sequence`'s frame.
  bool matches(std::uint64_t sequence, std::size_t offset, std::span<const std::byte> bytes) const {
    const std::size_t end = offset + bytes.size();
    const auto same_as_template = [&](std::size_t from, std::size_t to) {
      return from >= to ||
             std::memcmp(bytes.data() + (from - offset), template_.data() + from, to - from) == 0;
    };
    if (!same_as_template(offset, std::min(end, sequence_at_))) return false;
    // EchoMessage::set_sequence: little-endian in the first payload bytes.
    for (std::size_t at = std::max(offset, sequence_at_); at < std::min(end, sequence_end_); ++at) {
      if (bytes[at - offset] != static_cast<std::byte>(sequence >> (8 * (at - sequence_at_)))) {
        return false;
      }
    }
    return same_as_template(std::max(offset, sequence_end_), end);
  }

 private:
  EchoMessage message_;
  Mode mode_;
  std::vector<std::byte> template_;  // the frame of broadcast 0
  std::size_t sequence_at_ = 0;
  std::size_t sequence_end_ = 0;
};

using Clock = std::chrono::steady_clock;

// The throughput load: publishes through connection 0 and checks what every connection receives.
class FanoutLoad {
 public:
  FanoutLoad(const BroadcastOptions& options, std::vector<Fd> fds)
      : frames_(options.target.mode, options.payload_size),
        window_(options.window),
        arrived_(options.window, 0),
        scratch_(256 * 1024) {
    for (Fd& fd : fds) receivers_.push_back({std::move(fd)});
  }

  bool start(std::string& error) {
    epoll_ = Fd(epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) {
      error = errno_text("epoll_create1");
      return false;
    }
    for (std::size_t i = 0; i < receivers_.size(); ++i) {
      // Edge-triggered, as in EchoWorker: each socket is read until it would block.
      epoll_event event{EPOLLIN | EPOLLRDHUP | EPOLLET | (i == 0 ? EPOLLOUT : 0u), {.u64 = i}};
      if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, receivers_[i].fd.get(), &event) != 0) {
        error = errno_text("epoll_ctl");
        return false;
      }
    }
    return publish(error);
  }

  // Serves the connections until `until`. False on a failure, described in `error`.
  bool run_until(Clock::time_point until, std::string& error) {
    std::vector<epoll_event> events(256);
    while (Clock::now() < until) {
      const int ready =
          epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), 10);
      for (int e = 0; e < ready; ++e) {
        const epoll_event& event = events[static_cast<std::size_t>(e)];
        if ((event.events & EPOLLERR) != 0) {
          error = errno_text("connection " + std::to_string(event.data.u64),
                             connect_result(receivers_[event.data.u64].fd.get()));
          return false;
        }
        if ((event.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) != 0 &&
            !receive(event.data.u64, error)) {
          return false;
        }
      }
      if (!publish(error)) return false;
    }
    return true;
  }

  std::uint64_t deliveries() const noexcept { return deliveries_; }
  std::uint64_t broadcasts_completed() const noexcept { return completed_; }

 private:
  struct Receiver {
    Fd fd;
    std::uint64_t sequence = 0;  // the broadcast arriving now
    std::size_t offset = 0;      // bytes of its frame already here
  };

  bool receive(std::size_t index, std::string& error) {
    Receiver& r = receivers_[index];
    for (;;) {
      const ssize_t n = ::recv(r.fd.get(), scratch_.data(), scratch_.size(), 0);
      // Edge-triggered: stop only when the socket is empty, or no event says there is more.
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return true;
      if (n <= 0) {
        error = n == 0 ? "the server closed connection " + std::to_string(index)
                       : errno_text("recv on connection " + std::to_string(index));
        return false;
      }
      std::span<const std::byte> bytes(scratch_.data(), static_cast<std::size_t>(n));
      while (!bytes.empty()) {
        const std::size_t take = std::min(bytes.size(), frames_.frame_size() - r.offset);
        if (r.sequence >= published_ || !frames_.matches(r.sequence, r.offset, bytes.first(take))) {
          error = "connection " + std::to_string(index) + ": wrong bytes in broadcast " +
                  std::to_string(r.sequence) + " at offset " + std::to_string(r.offset);
          return false;
        }
        bytes = bytes.subspan(take);
        r.offset += take;
        if (r.offset == frames_.frame_size()) {
          r.offset = 0;
          arrived(r.sequence++);
        }
      }
    }
  }

  // One connection has all of broadcast `sequence`; the oldest ones complete in order.
  void arrived(std::uint64_t sequence) {
    ++deliveries_;
    ++arrived_[sequence % window_];
    while (completed_ < published_ && arrived_[completed_ % window_] == receivers_.size()) {
      arrived_[completed_ % window_] = 0;
      ++completed_;
    }
  }

  // Publishes while fewer than `window` broadcasts are in flight, then writes what the socket
  // takes; the rest waits for EPOLLOUT.
  bool publish(std::string& error) {
    while (published_ < completed_ + window_) {
      const auto bytes = frames_.publication(published_++);
      outgoing_.insert(outgoing_.end(), bytes.begin(), bytes.end());
    }
    while (sent_ < outgoing_.size()) {
      const ssize_t n = ::send(receivers_[0].fd.get(), outgoing_.data() + sent_,
                               outgoing_.size() - sent_, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return true;
      if (n < 0) {
        error = errno_text("send (publisher)");
        return false;
      }
      sent_ += static_cast<std::size_t>(n);
    }
    outgoing_.clear();
    sent_ = 0;
    return true;
  }

  BroadcastFrames frames_;
  std::size_t window_;
  std::vector<std::size_t> arrived_;  // per broadcast in flight (by sequence % window)
  std::vector<Receiver> receivers_;
  std::vector<std::byte> scratch_;
  std::vector<std::byte> outgoing_;
  std::size_t sent_ = 0;
  Fd epoll_;
  std::uint64_t published_ = 0;
  std::uint64_t completed_ = 0;  // broadcasts every connection has
  std::uint64_t deliveries_ = 0;
};

struct FanoutResult {
  std::uint64_t deliveries = 0;
  std::uint64_t broadcasts = 0;
  double seconds = 0;
  std::vector<double> samples;  // deliveries per second, one per full second
  std::optional<double> server_cpu_s;
  double client_cpu_s = 0;
};

inline bool measure_fanout(FanoutLoad& load, const BroadcastOptions& options, FanoutResult& result,
                           std::string& error) {
  if (!load.run_until(Clock::now() + std::chrono::seconds(options.warmup_s), error)) return false;
  const auto server_cpu_before =
      options.server_pid != 0 ? process_cpu_seconds(options.server_pid) : std::optional<double>{};
  const double client_cpu_before = self_cpu_seconds();
  const auto start = Clock::now();
  const std::uint64_t start_deliveries = load.deliveries();
  const std::uint64_t start_broadcasts = load.broadcasts_completed();
  std::uint64_t previous = start_deliveries;
  for (unsigned second = 1; second <= options.duration_s; ++second) {
    if (!load.run_until(start + std::chrono::seconds(second), error)) return false;
    result.samples.push_back(static_cast<double>(load.deliveries() - previous));
    previous = load.deliveries();
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.deliveries = load.deliveries() - start_deliveries;
  result.broadcasts = load.broadcasts_completed() - start_broadcasts;
  if (result.broadcasts == 0) {
    error = "no broadcast reached every connection in " + std::to_string(options.duration_s) +
            " s: the server does not fan out";
    return false;
  }
  result.client_cpu_s = self_cpu_seconds() - client_cpu_before;
  const auto server_cpu_after =
      options.server_pid != 0 ? process_cpu_seconds(options.server_pid) : std::optional<double>{};
  if (server_cpu_before && server_cpu_after) {
    result.server_cpu_s = *server_cpu_after - *server_cpu_before;
  }
  return true;
}

inline void print_fanout(const BroadcastOptions& options, const FanoutResult& result) {
  const double per_second = median(result.samples);
  std::printf(
      "mode=%s connections=%zu size=%zu window=%zu seconds=%.2f deliveries=%llu "
      "deliveries_per_s=%.0f broadcasts_per_s=%.0f samples=%zu client_cpu_s=%.2f",
      mode_name(options.target.mode), options.connections, options.payload_size, options.window,
      result.seconds, static_cast<unsigned long long>(result.deliveries), per_second,
      static_cast<double>(result.broadcasts) / result.seconds, result.samples.size(),
      result.client_cpu_s);
  if (result.server_cpu_s) {
    const double per_cpu = *result.server_cpu_s > 0
                               ? static_cast<double>(result.deliveries) / *result.server_cpu_s
                               : 0;
    std::printf(" server_cpu_s=%.2f deliveries_per_server_cpu_s=%.0f", *result.server_cpu_s,
                per_cpu);
  }
  std::printf(
      "\n%.3f M deliveries/s (median of %zu one-second samples) to %zu connections; this client "
      "used %.2f CPU-s\n",
      per_second / 1e6, result.samples.size(), options.connections, result.client_cpu_s);
}

// Payload bytes the kernel holds for the server's established connections (proc(5),
// /proc/net/tcp: tx_queue of the server's sockets, sent but not yet acknowledged or not yet sent;
// rx_queue of the clients' sockets, received but not yet read). Payload only: the memory the
// kernel charges for it (sk_buff overhead) is larger.
struct KernelQueues {
  unsigned long long server_send = 0;
  unsigned long long client_receive = 0;
};

inline std::optional<KernelQueues> kernel_queues(std::uint16_t server_port) {
  std::ifstream file("/proc/net/tcp");
  std::string line;
  if (!std::getline(file, line)) return std::nullopt;  // the column titles
  const auto hex = [](std::string_view text, unsigned long long& out) {
    return std::from_chars(text.data(), text.data() + text.size(), out, 16).ec == std::errc{};
  };
  const auto port_of = [&](std::string_view endpoint) {  // "0100007F:1F90"
    unsigned long long port = 0;
    hex(endpoint.substr(endpoint.find(':') + 1), port);
    return port;
  };
  KernelQueues queues;
  while (std::getline(file, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, tx_rx;
    if (!(fields >> slot >> local >> remote >> state >> tx_rx) || state != "01") continue;
    const std::string_view both = tx_rx;  // "0000A000:00000000", established sockets only
    unsigned long long tx = 0, rx = 0;
    if (!hex(both.substr(0, both.find(':')), tx) || !hex(both.substr(both.find(':') + 1), rx)) {
      return std::nullopt;
    }
    if (port_of(local) == server_port) queues.server_send += tx;
    if (port_of(remote) == server_port) queues.client_receive += rx;
  }
  return queues;
}

// Writes all of `bytes` to a non-blocking socket, waiting for room up to `limit`.
inline bool send_all(int fd, std::span<const std::byte> bytes, std::chrono::seconds limit,
                     std::string& error) {
  const auto deadline = Clock::now() + limit;
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes = bytes.subspan(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      error = errno_text("send (publisher)");
      return false;
    }
    if (Clock::now() >= deadline) {
      error = "the server did not take the published broadcasts in time";
      return false;
    }
    pollfd entry{fd, POLLOUT, 0};
    ::poll(&entry, 1, 100);
  }
  return true;
}

// Waits until the server has done all it can: its CPU time and the kernel's queues stay the same
// for half a second. The queued broadcasts then sit where they will stay.
inline bool wait_until_idle(pid_t server_pid, std::uint16_t port, KernelQueues& queues,
                            std::string& error) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  std::optional<double> last_cpu;
  std::optional<KernelQueues> last_queues;
  int quiet = 0;
  while (quiet < 5) {
    if (Clock::now() >= deadline) {
      error = "the server did not become idle within 30 s";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto cpu = process_cpu_seconds(server_pid);
    const auto now = kernel_queues(port);
    if (!cpu || !now) {
      error = "cannot read /proc for the server's CPU time or the sockets' queues";
      return false;
    }
    const bool same = last_cpu && *cpu == *last_cpu && last_queues &&
                      now->server_send == last_queues->server_send &&
                      now->client_receive == last_queues->client_receive;
    quiet = same ? quiet + 1 : 0;
    last_cpu = cpu;
    last_queues = now;
  }
  queues = *last_queues;
  return true;
}

inline int run_queued_memory(const BroadcastOptions& options, std::vector<Fd>& fds) {
  // Small receive buffers, before any broadcast arrives, so most of what is queued cannot hide in
  // the kernel (it would be counted there, but then the server's own cost would not show).
  for (const Fd& fd : fds) {
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &options.receive_buffer,
               sizeof options.receive_buffer);
  }
  // The server settles after the opens.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto before = process_rss_bytes(options.server_pid);
  const auto queues_before = kernel_queues(options.target.port);
  if (!before || !queues_before) {
    std::fprintf(stderr, "broadcast: cannot read VmRSS of PID %d or /proc/net/tcp\n",
                 options.server_pid);
    return 1;
  }
  BroadcastFrames frames(options.target.mode, options.payload_size);
  std::vector<std::byte> all;
  for (std::size_t i = 0; i < options.queued; ++i) {
    const auto bytes = frames.publication(i);
    all.insert(all.end(), bytes.begin(), bytes.end());
  }
  std::string error;
  KernelQueues queues;
  if (!send_all(fds[0].get(), all, std::chrono::seconds(30), error) ||
      !wait_until_idle(options.server_pid, options.target.port, queues, error)) {
    std::fprintf(stderr, "broadcast: %s\n", error.c_str());
    return 1;
  }
  const auto after = process_rss_bytes(options.server_pid);
  if (!after) {
    std::fprintf(stderr, "broadcast: cannot read VmRSS of PID %d\n", options.server_pid);
    return 1;
  }
  if (const std::size_t closed = count_closed(fds); closed != 0) {
    std::fprintf(stderr, "broadcast: the server closed %zu of %zu connections\n", closed,
                 fds.size());
    return 1;
  }
  const double deliveries =
      static_cast<double>(options.connections) * static_cast<double>(options.queued);
  const double user = (static_cast<double>(*after) - static_cast<double>(*before)) / deliveries;
  const double kernel =
      static_cast<double>(queues.server_send + queues.client_receive - queues_before->server_send -
                          queues_before->client_receive) /
      deliveries;
  // What the kernel did not take, the server holds (or dropped: a drop policy may do that).
  const double held = static_cast<double>(frames.frame_size()) - kernel;
  std::printf(
      "mode=%s connections=%zu size=%zu queued=%zu frame_bytes=%zu rcvbuf=%d rss_before=%llu "
      "rss_after=%llu server_send_queue=%llu client_receive_queue=%llu "
      "user_bytes_per_delivery=%.1f kernel_bytes_per_delivery=%.1f held_bytes_per_delivery=%.1f\n"
      "%zu broadcasts of %zu bytes queued for %zu connections that do not read: per connection "
      "and broadcast, %.1f bytes of server RSS growth, %.1f payload bytes in kernel socket queues, "
      "%.1f of the %zu frame bytes left for the server to hold\n"
      "note: RSS is user space only; the kernel figure counts queued bytes, not the kernel's "
      "memory for them\n",
      mode_name(options.target.mode), options.connections, options.payload_size, options.queued,
      frames.frame_size(), options.receive_buffer, *before, *after, queues.server_send,
      queues.client_receive, user, kernel, held, options.queued, options.payload_size,
      options.connections, user, kernel, held, frames.frame_size());
  return 0;
}

}  // namespace detail

inline int run_broadcast(const BroadcastOptions& options) {
  if (!has_required_port(options.target, "broadcast")) return 2;
  if (options.queued != 0 && options.server_pid == 0) {
    std::fprintf(stderr, "broadcast: --queued needs --server-pid\n");
    return 2;
  }
  std::string error;
  if (!raise_fd_limit(options.connections + 64, error)) {
    std::fprintf(stderr, "broadcast: %s\n", error.c_str());
    return 1;
  }
  std::vector<Fd> fds;
  if (!open_connections(options.target, options.connections, 500, fds, error)) {
    std::fprintf(stderr, "broadcast: %s\n", error.c_str());
    return 1;
  }
  if (options.queued != 0) return detail::run_queued_memory(options, fds);
  detail::FanoutLoad load(options, std::move(fds));
  detail::FanoutResult result;
  if (!load.start(error) || !detail::measure_fanout(load, options, result, error)) {
    std::fprintf(stderr, "broadcast: %s\n", error.c_str());
    return 1;
  }
  detail::print_fanout(options, result);
  return 0;
}

}  // namespace fastws::bench
