// Opens many client connections at once: non-blocking connects in batches, driven by epoll, and
// the WebSocket handshake on each one in ws mode. Batches keep the server's listen backlog from
// overflowing (a dropped SYN costs a one-second retransmit) when 10,000 connections are opened.
#pragma once

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "handshake.hpp"
#include "socket.hpp"

namespace fastws::bench {

// ws: WebSocket frames after a handshake; tcp: raw bytes (for a plain TCP echo server).
enum class Mode { ws, tcp };

inline bool parse_mode(std::string_view text, Mode& out) {
  if (text == "ws") out = Mode::ws;
  if (text == "tcp") out = Mode::tcp;
  return text == "ws" || text == "tcp";
}

inline const char* mode_name(Mode mode) {
  return mode == Mode::ws ? "ws" : "tcp";
}

struct Target {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string path = "/";
  Mode mode = Mode::ws;
  std::string extra_header_lines;  // ws mode: added to the upgrade request, each ending in CRLF
  bool deflate = false;  // ws mode: offer permessage-deflate, and fail where it is not accepted
  bool deflate_keeps_context = false;  // offer it as a browser does (see handshake.hpp)
};

namespace detail {

enum class Phase { connecting, sending_request, reading_response, open };

struct PendingConnection {
  Fd fd;
  Phase phase = Phase::connecting;
  std::string request;  // empty in tcp mode
  std::size_t request_sent = 0;
  std::string response;
  bool deflate_offered = false;  // the response must accept permessage-deflate
};

inline bool send_request(PendingConnection& c, std::string& error) {
  while (c.request_sent < c.request.size()) {
    const ssize_t n = ::send(c.fd.get(), c.request.data() + c.request_sent,
                             c.request.size() - c.request_sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (n < 0) {
      error = errno_text("send (handshake)");
      return false;
    }
    c.request_sent += static_cast<std::size_t>(n);
  }
  c.phase = Phase::reading_response;
  return true;
}

inline const char* upgrade_failure(UpgradeResponse response) {
  switch (response) {
    case UpgradeResponse::rejected:
      return "the server did not answer the upgrade with 101";
    case UpgradeResponse::too_long:
      return "the server's handshake response has no end within 8 KiB";
    case UpgradeResponse::trailing_bytes:
      return "the server sent bytes after its handshake response before any message";
    default:
      return "";
  }
}

inline bool read_response(PendingConnection& c, std::string& error) {
  char buffer[1024];
  for (;;) {
    const ssize_t n = ::recv(c.fd.get(), buffer, sizeof buffer, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (n < 0) {
      error = errno_text("recv (handshake)");
      return false;
    }
    if (n == 0) {
      error = "the server closed the connection during the handshake";
      return false;
    }
    c.response.append(buffer, static_cast<std::size_t>(n));
    const UpgradeResponse verdict = check_upgrade_response(c.response);
    if (verdict == UpgradeResponse::accepted) {
      if (c.deflate_offered && !accepts_permessage_deflate(c.response)) {
        error = "the server did not accept permessage-deflate";
        return false;
      }
      c.phase = Phase::open;
      return true;
    }
    if (verdict != UpgradeResponse::incomplete) {
      const std::string first_line = c.response.substr(0, c.response.find("\r\n"));
      error = std::string(upgrade_failure(verdict)) + " (first line: '" + first_line + "')";
      return false;
    }
  }
}

// The upgrade request for `target`, with a fresh key.
inline std::string upgrade_request(const Target& target, std::mt19937_64& random) {
  std::string extra = target.extra_header_lines;
  if (target.deflate) {
    extra +=
        target.deflate_keeps_context ? context_keeping_deflate_offer : permessage_deflate_offer;
  }
  return make_upgrade_request(target.host, target.port, target.path, make_client_key(random),
                              extra);
}

// Moves one connection as far as its socket allows; the caller waits for epoll in between.
inline bool advance(PendingConnection& c, std::string& error) {
  if (c.phase == Phase::connecting) {
    const int result = connect_result(c.fd.get());
    if (result != 0) {
      error = errno_text("connect", result);
      return false;
    }
    c.phase = c.request.empty() ? Phase::open : Phase::sending_request;
  }
  if (c.phase == Phase::sending_request && !send_request(c, error)) return false;
  if (c.phase == Phase::reading_response && !read_response(c, error)) return false;
  return true;
}

// Opens `count` connections at once and waits until all are open or `timeout` passes.
inline bool open_batch(const Target& target, const sockaddr_in& address, std::size_t count,
                       std::chrono::seconds timeout, std::mt19937_64& random, std::vector<Fd>& out,
                       std::string& error) {
  Fd epoll(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) {
    error = errno_text("epoll_create1");
    return false;
  }
  std::vector<PendingConnection> pending(count);
  for (std::size_t i = 0; i < count; ++i) {
    pending[i].fd = start_connect(address, error);
    if (!pending[i].fd) return false;
    if (target.mode == Mode::ws) pending[i].request = upgrade_request(target, random);
    pending[i].deflate_offered = target.mode == Mode::ws && target.deflate;
    // Level-triggered: a connection that is not finished keeps reporting until it is.
    epoll_event event{EPOLLIN | EPOLLOUT, {.u64 = i}};
    epoll_ctl(epoll.get(), EPOLL_CTL_ADD, pending[i].fd.get(), &event);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t open = 0;
  std::vector<epoll_event> events(256);
  while (open < count) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      error = "timed out: " + std::to_string(count - open) + " of " + std::to_string(count) +
              " connections in a batch did not open within " + std::to_string(timeout.count()) +
              " s";
      return false;
    }
    const int ready = epoll_wait(epoll.get(), events.data(), static_cast<int>(events.size()),
                                 static_cast<int>(left.count()));
    for (int e = 0; e < ready; ++e) {
      PendingConnection& c = pending[events[static_cast<std::size_t>(e)].data.u64];
      if (c.phase == Phase::open) continue;
      if (!advance(c, error)) return false;
      if (c.phase == Phase::reading_response) {
        epoll_event event{EPOLLIN, {.u64 = events[static_cast<std::size_t>(e)].data.u64}};
        epoll_ctl(epoll.get(), EPOLL_CTL_MOD, c.fd.get(), &event);
      }
      if (c.phase == Phase::open) {
        epoll_ctl(epoll.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
        ++open;
      }
    }
  }
  for (PendingConnection& c : pending) out.push_back(std::move(c.fd));
  return true;
}

}  // namespace detail

// Opens `count` connections to `target`, `batch_size` at a time. In ws mode each one has finished
// the handshake when this returns true.
inline bool open_connections(const Target& target, std::size_t count, std::size_t batch_size,
                             std::vector<Fd>& out, std::string& error) {
  sockaddr_in address{};
  if (!parse_ipv4_endpoint(target.host, target.port, address, error)) return false;
  std::mt19937_64 random(std::random_device{}());
  constexpr std::chrono::seconds batch_timeout{15};
  out.reserve(count);
  for (std::size_t opened = 0; opened < count; opened += batch_size) {
    const std::size_t batch = std::min(batch_size, count - opened);
    if (!detail::open_batch(target, address, batch, batch_timeout, random, out, error)) {
      error = "after " + std::to_string(out.size()) + " open connections: " + error;
      return false;
    }
  }
  return true;
}

}  // namespace fastws::bench
