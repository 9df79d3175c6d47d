// `fastws_bench handshakes`: how many connections a server opens and closes per second, and per
// second of its CPU. Each of --concurrency slots connects, upgrades (RFC 6455 4), sends a close
// frame (1000), waits for the server's close frame, and resets the connection (SO_LINGER 0: the
// closing handshake is over, and neither side is left with a TIME_WAIT socket that would use up
// the loopback's ports within seconds); then it starts the next one. In tcp mode a slot only
// connects and resets, which is the kernel's share of the same work: the limit.
#pragma once

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "connector.hpp"
#include "echo_command.hpp"
#include "flags.hpp"
#include "proc_stats.hpp"
#include "socket.hpp"
#include "target_flags.hpp"

namespace fastws::bench {

struct HandshakeOptions {
  Target target;
  std::size_t concurrency = 32;
  unsigned duration_s = 5;
  unsigned warmup_s = 1;
  pid_t server_pid = 0;  // 0: no server CPU figures
};

inline std::vector<Flag> handshake_flags(HandshakeOptions& o) {
  return flags_with_target(
      o.target,
      "ws (connect, upgrade, close handshake) or tcp (connect and reset, for a TCP server) (ws)",
      {
          uint_flag("concurrency", o.concurrency, 1, 10'000, "connections opening at once (32)"),
          uint_flag("duration", o.duration_s, 1, 3600, "measured seconds (5)"),
          uint_flag("warmup", o.warmup_s, 0, 3600, "seconds of load before measuring (1)"),
          uint_flag("server-pid", o.server_pid, 1, 1u << 22, "server PID, for its CPU time"),
      });
}

namespace detail {

class HandshakeLoad {
 public:
  HandshakeLoad(const HandshakeOptions& options, const sockaddr_in& address)
      : target_(options.target),
        address_(address),
        slots_(options.concurrency),
        random_(std::random_device{}()) {}

  bool start(std::string& error) {
    epoll_ = Fd(epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) {
      error = errno_text("epoll_create1");
      return false;
    }
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (!open(i, error)) return false;
    }
    return true;
  }

  bool run_until(Clock::time_point until, std::string& error) {
    std::vector<epoll_event> events(256);
    while (Clock::now() < until) {
      const int ready =
          epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), 10);
      for (int e = 0; e < ready; ++e) {
        const std::size_t i = events[static_cast<std::size_t>(e)].data.u64;
        if (!advance_slot(i, error)) {
          error = "connection " + std::to_string(completed_ + 1) + ": " + error;
          return false;
        }
      }
    }
    return true;
  }

  std::uint64_t completed() const noexcept { return completed_; }

 private:
  struct Slot {
    PendingConnection opening;
    bool closing = false;              // the close frame was sent
    std::size_t close_bytes_read = 0;  // of the server's close frame
    std::size_t close_frame_size = 2;  // known once its second byte arrived
  };

  bool open(std::size_t i, std::string& error) {
    Slot& slot = slots_[i];
    slot = Slot{};
    slot.opening.fd = start_connect(address_, error);
    if (!slot.opening.fd) return false;
    if (target_.mode == Mode::ws) slot.opening.request = upgrade_request(target_, random_);
    // Level-triggered: a slot that is not finished keeps reporting until it is.
    epoll_event event{EPOLLIN | EPOLLOUT, {.u64 = i}};
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, slot.opening.fd.get(), &event) != 0) {
      error = errno_text("epoll_ctl");
      return false;
    }
    return true;
  }

  bool advance_slot(std::size_t i, std::string& error) {
    Slot& slot = slots_[i];
    if (slot.closing) return read_close(i, error);
    if (!advance(slot.opening, error)) return false;
    if (slot.opening.phase == Phase::reading_response) {
      epoll_event event{EPOLLIN, {.u64 = i}};
      epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, slot.opening.fd.get(), &event);
    }
    if (slot.opening.phase != Phase::open) return true;
    if (target_.mode == Mode::tcp) return finish(i, error);
    // A new socket's send buffer is empty: 8 bytes always fit.
    if (::send(slot.opening.fd.get(), masked_close_frame, sizeof masked_close_frame,
               MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof masked_close_frame)) {
      error = errno_text("send (close frame)");
      return false;
    }
    slot.closing = true;
    epoll_event event{EPOLLIN | EPOLLRDHUP, {.u64 = i}};
    epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, slot.opening.fd.get(), &event);
    return true;
  }

  // Reads the server's answer to the close frame: a close frame (2 bytes of header and up to 125
  // of payload), or the end of the stream.
  bool read_close(std::size_t i, std::string& error) {
    Slot& slot = slots_[i];
    std::byte buffer[256];
    const ssize_t n = ::recv(slot.opening.fd.get(), buffer, sizeof buffer, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (n < 0 && errno != ECONNRESET) {
      error = errno_text("recv (closing)");
      return false;
    }
    if (n <= 0) return finish(i, error);  // the server closed or reset first: also done
    if (slot.close_bytes_read == 0 && buffer[0] != std::byte{0x88}) {
      char text[96];
      std::snprintf(text, sizeof text,
                    "the server answered the close frame with another frame (first byte 0x%02x)",
                    std::to_integer<unsigned>(buffer[0]));
      error = text;
      return false;
    }
    const std::size_t length_at = 1 - slot.close_bytes_read;  // where byte 1 is in this read
    if (slot.close_bytes_read < 2 && static_cast<std::size_t>(n) > length_at) {
      slot.close_frame_size = 2 + (std::to_integer<std::size_t>(buffer[length_at]) & 0x7F);
    }
    slot.close_bytes_read += static_cast<std::size_t>(n);
    return slot.close_bytes_read < 2 || slot.close_bytes_read < slot.close_frame_size ||
           finish(i, error);
  }

  bool finish(std::size_t i, std::string& error) {
    const linger reset{1, 0};
    setsockopt(slots_[i].opening.fd.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    slots_[i].opening.fd.reset();  // close() also takes it out of the epoll set
    ++completed_;
    return open(i, error);
  }

  Target target_;
  sockaddr_in address_;
  std::vector<Slot> slots_;
  std::mt19937_64 random_;
  Fd epoll_;
  std::uint64_t completed_ = 0;
};

}  // namespace detail

inline int run_handshakes(const HandshakeOptions& options) {
  if (!has_required_port(options.target, "handshakes")) return 2;
  std::string error;
  sockaddr_in address{};
  if (!parse_ipv4_endpoint(options.target.host, options.target.port, address, error) ||
      !raise_fd_limit(options.concurrency + 64, error)) {
    std::fprintf(stderr, "handshakes: %s\n", error.c_str());
    return 1;
  }
  detail::HandshakeLoad load(options, address);
  if (!load.start(error) ||
      !load.run_until(detail::Clock::now() + std::chrono::seconds(options.warmup_s), error)) {
    std::fprintf(stderr, "handshakes: %s\n", error.c_str());
    return 1;
  }
  const auto server_cpu_before =
      options.server_pid != 0 ? process_cpu_seconds(options.server_pid) : std::optional<double>{};
  const double client_cpu_before = self_cpu_seconds();
  const auto start = detail::Clock::now();
  const std::uint64_t start_count = load.completed();
  std::uint64_t previous = start_count;
  std::vector<double> samples;
  for (unsigned second = 1; second <= options.duration_s; ++second) {
    if (!load.run_until(start + std::chrono::seconds(second), error)) {
      std::fprintf(stderr, "handshakes: %s\n", error.c_str());
      return 1;
    }
    samples.push_back(static_cast<double>(load.completed() - previous));
    previous = load.completed();
  }
  const double seconds = std::chrono::duration<double>(detail::Clock::now() - start).count();
  const double client_cpu_s = self_cpu_seconds() - client_cpu_before;
  const std::uint64_t count = load.completed() - start_count;
  const double per_second = detail::median(samples);
  std::printf(
      "mode=%s concurrency=%zu seconds=%.2f handshakes=%llu handshakes_per_s=%.0f samples=%zu "
      "client_cpu_s=%.2f",
      mode_name(options.target.mode), options.concurrency, seconds,
      static_cast<unsigned long long>(count), per_second, samples.size(), client_cpu_s);
  const auto server_cpu_after =
      options.server_pid != 0 ? process_cpu_seconds(options.server_pid) : std::optional<double>{};
  if (server_cpu_before && server_cpu_after) {
    const double server_cpu_s = *server_cpu_after - *server_cpu_before;
    std::printf(" server_cpu_s=%.2f handshakes_per_server_cpu_s=%.0f", server_cpu_s,
                server_cpu_s > 0 ? static_cast<double>(count) / server_cpu_s : 0);
  }
  std::printf(
      "\n%.0f connections opened%s and closed per second (median of %zu one-second samples); "
      "this client used %.2f CPU-s\n",
      per_second, options.target.mode == Mode::ws ? ", upgraded" : "", samples.size(),
      client_cpu_s);
  return 0;
}

}  // namespace fastws::bench
