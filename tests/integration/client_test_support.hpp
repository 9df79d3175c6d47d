// What the client tests share (client_test.cpp, client_proxy_test.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fastws/client.hpp"
#include "net/socket.hpp"
#include "net/socket_address.hpp"
#include "server_test_support.hpp"

namespace fastws::testing {

// A socket listening on 127.0.0.1 that never answers: the kernel accepts connections into its
// queue (accept them to see them), nothing is ever sent. Reset `socket` and nobody listens
// there any more.
struct SilentListener {
  SilentListener() {
    std::vector<net::SocketAddress> any;
    if (net::resolve("127.0.0.1", 0, any) || net::listen_on(any[0], {}, socket)) return;
    net::SocketAddress bound;
    if (!net::local_address(socket.get(), bound)) port = bound.port();
  }
  std::string url(std::string_view path = "/") const {
    return "ws://127.0.0.1:" + std::to_string(port) + std::string(path);
  }

  net::UniqueFd socket;
  std::uint16_t port = 0;
};

// The URL of a port on 127.0.0.1 where nobody listens (it did a moment ago): every dial there
// is refused at once.
inline std::string refusing_url() {
  SilentListener gone;
  return gone.url();
}

struct Received {
  Conn conn;
  std::string text;
};

// A client whose callbacks record what they see.
class RecordingClient {
 public:
  explicit RecordingClient(ClientOptions options = {}) : client_(std::move(options)) {
    client_.on_open([this](const Conn& conn) { opened.add(conn); });
    client_.on_message([this](const Conn& conn, Message message) {
      received.add({conn, std::string(message.text())});
    });
    client_.on_error([this](const Conn&, const CloseStatus& status) { errors.add(status); });
    client_.on_close([this](const Conn&, const CloseStatus& status) { closes.add(status); });
  }
  Client& client() { return client_; }

  Recorded<Conn> opened;
  Recorded<Received> received;
  Recorded<CloseStatus> errors;
  Recorded<CloseStatus> closes;

 private:
  Client client_;  // last: its loops stop before the recordings go
};

}  // namespace fastws::testing
