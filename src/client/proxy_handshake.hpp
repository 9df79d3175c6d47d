// The conversation that opens a tunnel through a proxy, without I/O: HTTP CONNECT (RFC 9110
// 9.3.6, Basic credentials RFC 7617) or SOCKS5 (RFC 1928, username/password RFC 1929, names
// sent for the proxy to resolve). proxy_tunnel.hpp drives it on a socket.
//
// Use: send output() and report it with sent(); offer what the proxy sent with read(). read()
// takes only whole answers and says how many bytes they were, so that the caller can leave
// whatever follows an answer (the target's first bytes) in the socket for the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "client/proxy_url.hpp"

namespace fastws::detail {

class ProxyHandshake {
 public:
  // `host` as in the URL (IPv6 without brackets; already checked: no CR, LF or space).
  // `max_answer_size` bounds an HTTP proxy's answer head (a longer one fails the tunnel).
  ProxyHandshake(const ProxyUrl& proxy, std::string_view host, std::uint16_t port,
                 std::size_t max_answer_size);

  enum class State : std::uint8_t { talking, done, failed };
  State state() const noexcept { return state_; }
  // Why the tunnel failed: "refused CONNECT: 407 Proxy Authentication Required" ...
  const std::string& error() const noexcept { return error_; }

  // Bytes to send now (empty while waiting for an answer).
  std::string_view output() const noexcept { return std::string_view(output_).substr(sent_); }
  void sent(std::size_t count) noexcept { sent_ += count; }

  // The most bytes an answer can have: read no more than this at once.
  std::size_t max_answer_size() const noexcept;
  // `input`: what the proxy sent since the previous answer. Returns the size of the answer at
  // its start once it is complete (and moves on: new output, done or failed), 0 while it is
  // not (or when it failed).
  std::size_t read(std::string_view input);

 private:
  enum class Step : std::uint8_t {
    http_answer,          // CONNECT sent
    socks_method,         // greeting sent, awaiting the chosen method
    socks_authenticated,  // username/password sent, awaiting the verdict
    socks_connected,      // CONNECT request sent, awaiting the reply
  };
  std::size_t read_http_answer(std::string_view input);
  std::size_t read_socks_method(std::string_view input);
  std::size_t read_socks_verdict(std::string_view input);
  std::size_t read_socks_reply(std::string_view input);
  void send_socks_connect();
  std::size_t fail(std::string error);
  void send(std::string bytes);

  ProxyUrl proxy_;
  std::string host_;
  std::uint16_t port_;
  std::size_t max_answer_size_;
  Step step_;
  State state_ = State::talking;
  std::string output_;
  std::size_t sent_ = 0;
  std::string error_;
};

}  // namespace fastws::detail
