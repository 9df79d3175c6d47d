// What the client tests share (client_test.cpp, client_proxy_test.cpp).
#pragma once

#include <string>
#include <utility>

#include "fastws/client.hpp"
#include "server_test_support.hpp"

namespace fastws::testing {

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
