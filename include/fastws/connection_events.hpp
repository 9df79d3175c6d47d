// The callbacks of open connections, the same for a Server and a Client: set them before the
// loops run (Server::run(), Client::connect()); they run on the connection's loop thread, one
// at a time per connection, in wire order (the threading contract is in conn.hpp).
#pragma once

#include <cstddef>
#include <functional>
#include <span>

#include "fastws/close_code.hpp"
#include "fastws/conn.hpp"
#include "fastws/frame.hpp"

namespace fastws {

class Client;

namespace detail {
struct Endpoint;
}  // namespace detail

// The callbacks Server and Client share (see the top of this file).
class ConnectionEvents {
 public:
  // The connection opened (after the 101): it may send from now on.
  void on_open(std::function<void(const Conn&)> handler);
  // A whole data message arrived (valid during the call only: see Message).
  void on_message(std::function<void(const Conn&, Message)> handler);
  // With stream_fragments: pieces of a message as they arrive.
  void on_fragment(
      std::function<void(const Conn&, Opcode, std::span<const std::byte>, bool first, bool last)>
          handler);
  // A ping or a pong arrived, with its payload (pings are answered already with auto_pong).
  void on_ping(std::function<void(const Conn&, std::span<const std::byte>)> handler);
  void on_pong(std::function<void(const Conn&, std::span<const std::byte>)> handler);
  // Once per opened connection, when it is gone: the peer's code and reason, or 1006 and an
  // error.
  void on_close(std::function<void(const Conn&, const CloseStatus&)> handler);
  // A protocol error or limit broke the connection (on_close follows). On a client, also a
  // connection that never opened: 1006 and why (no on_open, no on_close then).
  void on_error(std::function<void(const Conn&, const CloseStatus&)> handler);
  // Every frame, raw; replaces the default handling (no reassembly, no automatic pong/close).
  void on_frame(std::function<void(const Conn&, const Frame&)> handler);
  // The connection's buffered bytes went back to zero after backpressure.
  void on_drain(std::function<void(const Conn&)> handler);

 protected:
  // The callbacks live in the endpoint (the server's or the client's).
  explicit ConnectionEvents(detail::Endpoint& endpoint) noexcept : endpoint_(endpoint) {}
  ~ConnectionEvents() = default;
  ConnectionEvents(const ConnectionEvents&) = delete;
  ConnectionEvents& operator=(const ConnectionEvents&) = delete;

 private:
  friend class Client;  // Client(server) runs on the loops of the server's endpoint
  detail::Endpoint& endpoint_;
};

}  // namespace fastws
