// Test support for server tests over 127.0.0.1: a server running on its own thread, and a raw
// blocking socket peer that crafts exact bytes and frames and reads the server's frames back,
// over plain TCP or TLS.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fastws/fastws.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/mask.hpp"

namespace fastws::testing {

using namespace std::chrono_literals;

// A Server on 127.0.0.1 with an ephemeral port, running on a background thread. Set handlers
// through server() before start(); the destructor stops it and joins.
class TestServer {
 public:
  explicit TestServer(ServerOptions options = default_options()) : server_(std::move(options)) {}
  ~TestServer() { stop(); }

  static ServerOptions default_options() {
    ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 1;
    return options;
  }

  Server& server() { return server_; }
  std::uint16_t port() const { return server_.port(); }

  void start() {
    auto error = server_.listen();
    if (error) throw std::system_error(error, "listen");
    thread_ = std::thread([this] { server_.run(); });
  }
  void stop() {
    if (!thread_.joinable()) return;
    server_.stop();
    thread_.join();
  }

 private:
  Server server_;
  std::thread thread_;
};

inline std::vector<std::byte> to_bytes(std::string_view text) {
  auto* p = reinterpret_cast<const std::byte*>(text.data());
  return {p, p + text.size()};
}
inline std::string to_string(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// A blocking client socket with a receive timeout, speaking raw bytes and frames.
class RawPeer {
 public:
  // `receive_buffer` (bytes; 0: the kernel's default, which grows) is set before connecting, so
  // that the window this peer offers stays that small: set after the handshake, the window scale
  // agreed for a growing buffer stays, and a server may get megabytes into flight.
  explicit RawPeer(std::uint16_t port, std::chrono::milliseconds timeout = 5s,
                   int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (receive_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_timeout(timeout);
  }
  ~RawPeer() {
    if (tls_ != nullptr) SSL_free(tls_);
    if (fd_ >= 0) ::close(fd_);
  }
  RawPeer(const RawPeer&) = delete;
  RawPeer& operator=(const RawPeer&) = delete;

  bool connected() const { return connected_; }
  int fd() const { return fd_; }

  // Speaks TLS from now on: runs the client handshake (verifying "localhost" against the
  // context's trust store). False if it fails; the peer then goes on over plain TCP, so that
  // wait_closed() still sees what the server did.
  bool start_tls(SSL_CTX* context) {
    // OpenSSL's socket BIO writes without MSG_NOSIGNAL: a server that hung up must fail the
    // test's write, not kill the test process.
    std::signal(SIGPIPE, SIG_IGN);
    tls_ = SSL_new(context);
    SSL_set_fd(tls_, fd_);
    SSL_set1_host(tls_, "localhost");
    if (SSL_connect(tls_) == 1) return true;
    SSL_free(tls_);
    tls_ = nullptr;
    return false;
  }
  // The protocol the server chose by ALPN ("" if none).
  std::string alpn() const {
    const unsigned char* name = nullptr;
    unsigned size = 0;
    SSL_get0_alpn_selected(tls_, &name, &size);
    return {reinterpret_cast<const char*>(name), size};
  }

  void set_timeout(std::chrono::milliseconds timeout) {
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

  bool send_raw(std::span<const std::byte> bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const std::span<const std::byte> rest = bytes.subspan(sent);
      std::size_t n = 0;
      if (tls_ != nullptr) {
        if (SSL_write_ex(tls_, rest.data(), rest.size(), &n) != 1) return false;
      } else {
        const ssize_t result = ::send(fd_, rest.data(), rest.size(), MSG_NOSIGNAL);
        if (result < 0 && errno == EINTR) continue;  // see receive()
        if (result <= 0) return false;
        n = static_cast<std::size_t>(result);
      }
      sent += n;
    }
    return true;
  }
  bool send_raw(std::string_view text) { return send_raw(to_bytes(text)); }

  // The standard upgrade request for `path`, plus extra header lines ("Name: value\r\n").
  static std::string upgrade_request(std::string_view path = "/", std::string_view extra = {}) {
    std::string request = "GET " + std::string(path) +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n";
    request += extra;
    request += "\r\n";
    return request;
  }

  // Sends the upgrade request and returns the response head (up to the blank line).
  std::string handshake(std::string_view path = "/", std::string_view extra = {}) {
    send_raw(upgrade_request(path, extra));
    return read_head();
  }

  // Reads up to and including CRLF CRLF; bytes after it stay buffered for read_frame().
  std::string read_head() {
    while (true) {
      auto end = pending_text().find("\r\n\r\n");
      if (end != std::string::npos) {
        std::string head = pending_text().substr(0, end + 4);
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(end + 4));
        return head;
      }
      if (!fill()) {
        std::string head = pending_text();
        pending_.clear();
        return head;
      }
    }
  }

  // Everything until the server closes (or the timeout), e.g. a refusal with its body.
  std::string read_all() {
    while (fill()) {
    }
    std::string all = pending_text();
    pending_.clear();
    return all;
  }

  bool send_frame(const Frame& frame) {
    Frame masked = frame;
    if (!masked.mask)
      masked.mask = MaskKey{std::byte{0x12}, std::byte{0x34}, std::byte{0x56}, std::byte{0x78}};
    return send_raw(masked.serialize());
  }
  bool send_text(std::string_view text) { return send_frame(Frame::text(text)); }

  // The next frame from the server, or nothing on timeout / connection end.
  std::optional<Frame> read_frame() {
    protocol::FrameHeaderParser parser;
    protocol::FrameHeaderRules rules{protocol::Role::client, 0x7, UINT64_MAX};
    while (true) {
      std::size_t used = 0;
      auto status = parser.parse(pending_.data(), pending_.size(), used, rules);
      if (status == protocol::FrameHeaderParser::Status::error) return std::nullopt;
      if (status == protocol::FrameHeaderParser::Status::done) {
        const auto& header = parser.header();
        while (pending_.size() - used < header.payload_length) {
          if (!fill()) return std::nullopt;
        }
        Frame frame;
        frame.fin = header.fin;
        frame.rsv1 = header.rsv1;
        frame.rsv2 = header.rsv2;
        frame.rsv3 = header.rsv3;
        frame.opcode = header.opcode;
        auto begin = pending_.begin() + static_cast<std::ptrdiff_t>(used);
        auto end = begin + static_cast<std::ptrdiff_t>(header.payload_length);
        frame.payload.assign(begin, end);
        pending_.erase(pending_.begin(), end);
        return frame;
      }
      parser.reset();
      if (!fill()) return std::nullopt;
    }
  }

  // Reads frames until a close frame arrives; returns its code (1005 if empty), or 0 if the
  // connection ended without one.
  std::uint16_t read_close_code() {
    while (auto frame = read_frame()) {
      if (frame->opcode == Opcode::close) return frame->close_code().value_or(1005);
    }
    return 0;
  }

  // True when the server closed the TCP connection (EOF) within the timeout.
  bool wait_closed() {
    while (true) {
      std::byte buffer[4096];
      const ssize_t n = receive(buffer);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }

 private:
  std::string pending_text() const { return to_string(pending_); }
  // recv() or its TLS twin: > 0 bytes, 0 at the end (EOF or close_notify), < 0 on errors and
  // timeouts (errno tells which for plain sockets).
  ssize_t receive(std::span<std::byte> buffer) {
    if (tls_ == nullptr) {
      // A thread that made an io_uring (a Server on this thread) is interrupted when the ring is
      // torn down, later: a blocking call with a timeout then fails with EINTR. Not an end.
      for (;;) {
        const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
        if (n >= 0 || errno != EINTR) return n;
      }
    }
    std::size_t n = 0;
    if (SSL_read_ex(tls_, buffer.data(), buffer.size(), &n) == 1) return static_cast<ssize_t>(n);
    const int reason = SSL_get_error(tls_, 0);
    if (reason == SSL_ERROR_ZERO_RETURN) return 0;
    errno = reason == SSL_ERROR_WANT_READ ? EAGAIN : ECONNRESET;
    return -1;
  }
  bool fill() {
    std::byte buffer[65536];
    const ssize_t n = receive(buffer);
    if (n <= 0) return false;
    pending_.insert(pending_.end(), buffer, buffer + n);
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  SSL* tls_ = nullptr;
  std::vector<std::byte> pending_;
};

}  // namespace fastws::testing
