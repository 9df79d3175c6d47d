// The fuzzer's end of one TCP connection, whichever side opened it: a socket we dialed (the
// fuzzer is the client and masks its frames) or one we accepted (the fuzzer is the server and
// masks nothing). Case logic talks to a Peer only through CaseRun, so every case plays in both
// roles.
//
// Writes go out exactly as the cases chop them: bytes queued together leave in one send(), a
// piece queued `alone` in a send() of its own followed by a pause, as the official suite spaces
// its chops, so the peer really sees a frame arrive in pieces.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "fastws/frame.hpp"

namespace fastws::conformance {

using Clock = std::chrono::steady_clock;

enum class PeerRole { client, server };  // our side: client = we dialed

class Peer {
 public:
  Peer(int fd, PeerRole role) noexcept;
  ~Peer();
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  PeerRole role() const noexcept { return role_; }
  int fd() const noexcept { return fd_; }
  bool is_open() const noexcept { return fd_ >= 0; }

  // A fresh mask key for our next frame when we are the client (RFC 6455 5.3), none as server.
  std::optional<MaskKey> next_mask() const;

  // Bytes that arrived before the connection was handed over (right behind the handshake).
  void preload_input(std::string_view bytes) { input_.append(bytes); }

  // Queues bytes; `alone`: in a send() of their own, the next write `pause` later.
  void queue(std::string bytes, bool alone = false,
             std::chrono::microseconds pause = std::chrono::microseconds(0));
  bool has_output() const noexcept { return !output_.empty(); }
  // When the next write may happen (now when it is not paced).
  Clock::time_point next_write_time() const noexcept { return next_write_; }

  enum class Io { ok, closed };
  // Writes what the socket takes now; closed when the peer is gone (EPIPE, ECONNRESET).
  Io flush();
  // Reads what the socket holds into input(); closed on the end of the stream or a reset.
  Io read_available();

  std::string_view input() const noexcept { return std::string_view(input_).substr(input_at_); }
  void consume_input(std::size_t size);
  // Room for a frame of `total` bytes at the front of the input, so it is read in one piece.
  void reserve_input(std::size_t total);

  // Closes the socket (the fuzzer drops the TCP connection).
  void drop() noexcept;

 private:
  struct Piece {
    std::string bytes;
    std::size_t sent = 0;
    bool alone = false;
    std::chrono::microseconds pause{0};
  };

  int fd_;
  PeerRole role_;
  std::deque<Piece> output_;
  Clock::time_point next_write_{};
  std::string input_;
  std::size_t input_at_ = 0;
};

// Connects to host:port (a name or an address) within `timeout`; -1 with `error` set if not.
int connect_tcp(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout,
                std::string& error);

}  // namespace fastws::conformance
