// The opening handshake as the fuzzing client (RFC 6455 4.1), with the permessage-deflate
// offers of the case: the request, and the server's answer checked (status 101, Upgrade,
// Connection, Sec-WebSocket-Accept, the extension answer).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "conformance/deflate.hpp"
#include "conformance/peer.hpp"
#include "protocol/handshake_client.hpp"

namespace fastws::conformance {

struct ClientHandshake {
  bool ok = false;
  std::string error;                               // why not
  std::string request;                             // as sent
  std::string response;                            // the answer's head as received
  std::string server;                              // its Server field
  std::optional<protocol::DeflateParams> deflate;  // agreed, when offered and accepted
};

// Runs the handshake on the connected `peer` (its input keeps any frame behind the answer).
ClientHandshake open_as_client(Peer& peer, const protocol::WebSocketUrl& url,
                               const std::vector<DeflateRequest>& offers,
                               std::chrono::milliseconds timeout);

}  // namespace fastws::conformance
