// Opening a tunnel through a proxy on a connected socket, without blocking the loop: sends the
// CONNECT request or the SOCKS5 messages (proxy_handshake.hpp), reads the proxy's answers, and
// hands the socket back ready for TLS or the WebSocket handshake with the target.
//
// Nothing after the proxy's last answer is taken from the socket: answers are peeked
// (MSG_PEEK) and only their own bytes are read, so whatever the target sends first stays there
// for the connection.
//
// Threading: the loop thread only. The tunnel must outlive its attempt; cancel() (or its
// destructor) stops it, closes the socket and does not call `done`.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "client/proxy_handshake.hpp"
#include "net/event_loop.hpp"
#include "net/timer_wheel.hpp"
#include "net/unique_fd.hpp"

namespace fastws::detail {

class ProxyTunnel final : private net::IoHandler,
                          private net::FlushHandler,
                          private net::TimerNode {
 public:
  struct Result {
    net::UniqueFd socket;  // through the tunnel to the target; empty on failure
    std::string error;     // readable, on failure: "refused CONNECT: 407 ..."
  };
  using Done = std::function<void(Result)>;

  explicit ProxyTunnel(net::EventLoop& loop) noexcept : loop_(loop) {}
  ~ProxyTunnel() override;
  ProxyTunnel(const ProxyTunnel&) = delete;
  ProxyTunnel& operator=(const ProxyTunnel&) = delete;

  // Opens a tunnel to `host`:`port` through `proxy`, on `socket` (connected to the proxy,
  // non-blocking). `timeout` bounds the whole exchange (zero: no bound of its own); an HTTP
  // proxy's answer head may have at most `max_answer_size` bytes. `done` runs once, on the
  // loop thread, never from inside this call.
  void open(net::UniqueFd socket, const ProxyUrl& proxy, std::string_view host, std::uint16_t port,
            std::chrono::milliseconds timeout, std::size_t max_answer_size, Done done);
  void cancel() noexcept;

 private:
  void on_io(std::uint32_t events) override;
  void on_flush() override;  // registers the socket, at the end of the iteration of open()
  void on_timer() override;
  // Writes what is due and reads what came until the proxy must speak or write room returns.
  void advance(bool peer_closed);
  bool write_output();
  void finish(std::string error);  // empty: the tunnel is open

  net::EventLoop& loop_;
  net::UniqueFd socket_;
  bool registered_ = false;  // with the loop
  std::optional<ProxyHandshake> handshake_;
  std::chrono::milliseconds timeout_{0};
  Done done_;
};

}  // namespace fastws::detail
