// A client connection for the attacks and the well-behaved client: every operation is bounded by
// a deadline (a non-blocking socket and poll), frames go out masked (RFC 6455 5.3) and the
// server's frames are parsed one by one, so what arrives can be checked frame by frame.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bench/handshake.hpp"
#include "bench/socket.hpp"
#include "fastws/frame.hpp"
#include "protocol/frame_header.hpp"

namespace fastws::attack {

using Clock = std::chrono::steady_clock;

inline int millis_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 1'000'000));
}

inline std::span<const std::byte> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

// One client frame on the wire. The mask key is fixed: these are attacks on a loopback server,
// there is no intermediary for a fresh key to protect.
inline std::vector<std::byte> masked_frame(Opcode opcode, std::span<const std::byte> payload,
                                           bool fin = true, bool rsv1 = false) {
  Frame frame;
  frame.opcode = opcode;
  frame.fin = fin;
  frame.rsv1 = rsv1;
  frame.mask = MaskKey{std::byte{0x37}, std::byte{0xfa}, std::byte{0x21}, std::byte{0x3d}};
  frame.payload.assign(payload.begin(), payload.end());
  return frame.serialize();
}

// A frame from the server, whole.
struct ServerFrame {
  protocol::FrameHeader header;
  std::vector<std::byte> payload;

  // The status code of a close frame (RFC 6455 5.5.1), 1005 when it carries none.
  std::uint16_t close_code() const {
    if (payload.size() < 2) return 1005;
    return static_cast<std::uint16_t>((std::to_integer<unsigned>(payload[0]) << 8) |
                                      std::to_integer<unsigned>(payload[1]));
  }
};

// Cuts the server's byte stream into frames.
class FrameReader {
 public:
  enum class Result { frame, need_more, error };

  void append(const std::byte* data, std::size_t size) {
    if (at_ > 0 && at_ * 2 >= buffer_.size()) {  // drop what was parsed before it piles up
      buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(at_));
      at_ = 0;
    }
    buffer_.insert(buffer_.end(), data, data + size);
  }

  // The next whole frame, if the bytes received so far hold one.
  Result next(ServerFrame& out) {
    if (!have_header_) {
      std::size_t consumed = 0;
      const auto status = parser_.parse(buffer_.data() + at_, buffer_.size() - at_, consumed,
                                        {.role = protocol::Role::client, .allowed_rsv_bits = 0x4});
      at_ += consumed;
      if (status == protocol::FrameHeaderParser::Status::error) return Result::error;
      if (status == protocol::FrameHeaderParser::Status::need_more) return Result::need_more;
      have_header_ = true;
    }
    const std::uint64_t length = parser_.header().payload_length;
    if (buffer_.size() - at_ < length) return Result::need_more;
    out.header = parser_.header();
    const auto begin = buffer_.begin() + static_cast<std::ptrdiff_t>(at_);
    out.payload.assign(begin, begin + static_cast<std::ptrdiff_t>(length));
    at_ += static_cast<std::size_t>(length);
    parser_.reset();
    have_header_ = false;
    return Result::frame;
  }

 private:
  std::vector<std::byte> buffer_;
  std::size_t at_ = 0;
  protocol::FrameHeaderParser parser_;
  bool have_header_ = false;
};

// Connects to 127.0.0.1:`port` before `deadline`. `receive_buffer` (bytes, 0: the kernel's
// default) is set before connecting, so that a client that does not read stops the server's
// bytes early instead of soaking up megabytes in its own socket.
inline bench::Fd connect_tcp(std::uint16_t port, Clock::time_point deadline, int receive_buffer,
                             std::string& error) {
  bench::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    error = bench::errno_text("socket");
    return {};
  }
  const int on = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  if (receive_buffer > 0) {
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  sockaddr_in address{};
  if (!bench::parse_ipv4_endpoint("127.0.0.1", port, address, error)) return {};
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 &&
      errno != EINPROGRESS) {
    error = bench::errno_text("connect");
    return {};
  }
  pollfd ready{fd.get(), POLLOUT, 0};
  if (::poll(&ready, 1, millis_until(deadline)) != 1) {
    error = "connect timed out";
    return {};
  }
  if (const int result = bench::connect_result(fd.get()); result != 0) {
    error = bench::errno_text("connect", result);
    return {};
  }
  return fd;
}

// Sends what the socket takes of `data` within `timeout_ms`; returns the bytes sent (0 when it
// took none in time), or nothing with `error` set when the connection failed.
inline std::optional<std::size_t> send_within(int fd, std::span<const std::byte> data,
                                              int timeout_ms, std::string& error) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) {
      error = bench::errno_text("send");
      return std::nullopt;
    }
    if (sent > 0) break;  // the buffer is full: report progress, the caller decides
    pollfd ready{fd, POLLOUT, 0};
    if (::poll(&ready, 1, timeout_ms) != 1) break;
    timeout_ms = 0;
  }
  return sent;
}

enum class ReadStatus { frame, timeout, closed, error };

// A WebSocket client connection after the upgrade.
class WsPeer {
 public:
  // Connects and upgrades on `path` before `deadline` (again, after a close()); the
  // `extra_header_lines` go into the request (each ending in CRLF). The server's response head
  // is kept in response().
  bool open(std::uint16_t port, std::string_view path, Clock::time_point deadline,
            std::string& error, std::string_view extra_header_lines = {}, int receive_buffer = 0) {
    response_.clear();
    reader_ = FrameReader();
    fd_ = connect_tcp(port, deadline, receive_buffer, error);
    if (!fd_) return false;
    std::mt19937_64 random(std::random_device{}());
    const std::string request = bench::make_upgrade_request(
        "127.0.0.1", port, path, bench::make_client_key(random), extra_header_lines);
    if (!send_all(as_bytes(request), deadline, error)) return false;
    char buffer[1024];
    while (millis_until(deadline) > 0) {
      pollfd ready{fd_.get(), POLLIN, 0};
      if (::poll(&ready, 1, millis_until(deadline)) != 1) break;
      const ssize_t n = ::recv(fd_.get(), buffer, sizeof buffer, 0);
      if (n <= 0) {
        error = n == 0 ? "the server closed the connection during the upgrade"
                       : bench::errno_text("recv (upgrade)");
        return false;
      }
      response_.append(buffer, static_cast<std::size_t>(n));
      const auto head_end = response_.find("\r\n\r\n");
      if (head_end == std::string::npos) continue;
      // Frames right behind the 101 belong to the reader.
      reader_.append(reinterpret_cast<const std::byte*>(response_.data()) + head_end + 4,
                     response_.size() - head_end - 4);
      response_.resize(head_end + 4);
      if (response_.starts_with("HTTP/1.1 101")) return true;
      error = "the server refused the upgrade: " + response_.substr(0, response_.find("\r\n"));
      return false;
    }
    error = "no upgrade response in time";
    return false;
  }

  int fd() const noexcept { return fd_.get(); }
  const std::string& response() const noexcept { return response_; }
  void close() noexcept { fd_.reset(); }

  bool send_all(std::span<const std::byte> data, Clock::time_point deadline, std::string& error) {
    while (!data.empty()) {
      const auto sent = send_within(fd_.get(), data, millis_until(deadline), error);
      if (!sent) return false;
      if (*sent == 0 && millis_until(deadline) == 0) {
        error = "send timed out";
        return false;
      }
      data = data.subspan(*sent);
    }
    return true;
  }

  // The next frame from the server, waiting until `deadline` at most.
  ReadStatus read_frame(ServerFrame& out, Clock::time_point deadline, std::string& error) {
    for (bool last_try = false;;) {
      const auto result = reader_.next(out);
      if (result == FrameReader::Result::frame) return ReadStatus::frame;
      if (result == FrameReader::Result::error) {
        error = "the server sent an invalid frame header";
        return ReadStatus::error;
      }
      if (last_try) return ReadStatus::timeout;
      const int wait = millis_until(deadline);
      last_try = wait == 0;  // past the deadline: parse what one more read brings, then stop
      switch (receive(wait, error)) {
        case Received::bytes:
          continue;
        case Received::nothing:
          return ReadStatus::timeout;
        case Received::end:
          return ReadStatus::closed;
        case Received::error:
          return ReadStatus::error;
      }
    }
  }

  enum class Received { bytes, nothing, end, error };

  // Takes what the socket holds into the frame reader, waiting up to `timeout_ms` for it.
  Received receive(int timeout_ms, std::string& error) {
    pollfd ready{fd_.get(), POLLIN, 0};
    if (::poll(&ready, 1, timeout_ms) == 0) return Received::nothing;
    std::byte buffer[64 * 1024];
    const ssize_t n = ::recv(fd_.get(), buffer, sizeof buffer, 0);
    if (n > 0) {
      reader_.append(buffer, static_cast<std::size_t>(n));
      return Received::bytes;
    }
    if (n == 0) return Received::end;
    if (errno == EAGAIN || errno == EINTR) return Received::nothing;
    error = bench::errno_text("recv");
    return Received::error;
  }

 private:
  bench::Fd fd_;
  std::string response_;
  FrameReader reader_;
};

}  // namespace fastws::attack
