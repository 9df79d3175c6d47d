// The fuzzer's end of one TCP connection, whichever side opened it: a socket we dialed (the
// fuzzer is the client and masks its frames) or one we accepted (the fuzzer is the server and
// masks nothing); plain, or TLS (wss://) once secure() has done the TLS handshake. Case logic
// talks to a Peer only through CaseRun, so every case plays in both roles and over both.
//
// Writes go out exactly as the cases chop them: bytes queued together leave in one send(), a
// piece queued `alone` in a send() of its own followed by a pause, as the official suite spaces
// its chops, so the peer really sees a frame arrive in pieces (over TLS: in TLS records of its
// own).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fastws/frame.hpp"

namespace fastws::net {
class TlsContext;
class TlsStream;
}  // namespace fastws::net

namespace fastws::conformance {

using Clock = std::chrono::steady_clock;

enum class PeerRole { client, server };  // our side: client = we dialed

class Peer {
 public:
  Peer(int fd, PeerRole role) noexcept;
  ~Peer();
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  // The TLS handshake over the connection, as `role` says (a client checks the server's
  // certificate for `host` when `context` verifies), within `timeout`: from then on everything
  // goes through TLS. False with `error` set when it failed.
  bool secure(const net::TlsContext& context, const std::string& host,
              std::chrono::milliseconds timeout, std::string& error);

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
  // Waits until the connection is ready for `events` (POLLIN, POLLOUT) or `timeout` passes;
  // the ready events (none: the time passed). Input TLS decrypted and did not hand over yet
  // (read_available() reads a bounded amount) is ready at once: the socket says nothing of it.
  short wait(short events, std::chrono::nanoseconds timeout);

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
  std::unique_ptr<net::TlsStream> tls_;  // set once secure() succeeded
  std::deque<Piece> output_;
  Clock::time_point next_write_{};
  std::string input_;
  std::size_t input_at_ = 0;
};

// Connects to host:port (a name or an address) within `timeout`; -1 with `error` set if not.
int connect_tcp(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout,
                std::string& error);

}  // namespace fastws::conformance
