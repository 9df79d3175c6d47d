#include "conformance/client_handshake.hpp"

#include <poll.h>

#include <array>

#include "protocol/handshake.hpp"
#include "protocol/http_parser.hpp"
#include "protocol/mask_key.hpp"

namespace fastws::conformance {

namespace {

std::string make_key() {
  std::array<unsigned char, 16> nonce{};
  for (std::size_t i = 0; i < nonce.size(); i += 4) {
    const MaskKey random = protocol::random_mask_key();
    for (std::size_t j = 0; j < 4; ++j) nonce[i + j] = std::to_integer<unsigned char>(random[j]);
  }
  return protocol::base64_encode(nonce);
}

std::string host_field(const protocol::WebSocketUrl& url) {
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  const std::uint16_t default_port = url.secure ? 443 : 80;
  if (url.port != default_port) host += ":" + std::to_string(url.port);
  return host;
}

}  // namespace

ClientHandshake open_as_client(Peer& peer, const protocol::WebSocketUrl& url,
                               const std::vector<DeflateRequest>& offers,
                               std::chrono::milliseconds timeout) {
  ClientHandshake result;
  const std::string key = make_key();
  result.request = "GET " + url.target + " HTTP/1.1\r\nHost: " + host_field(url) +
                   "\r\nUser-Agent: fastws-conformance\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: " +
                   key + "\r\nSec-WebSocket-Version: 13\r\n";
  if (!offers.empty()) {
    result.request += "Sec-WebSocket-Extensions: " + deflate_offer_header(offers) + "\r\n";
  }
  result.request += "\r\n";
  peer.queue(result.request);

  const auto deadline = Clock::now() + timeout;
  protocol::HeadScanner scanner;
  for (;;) {
    if (peer.flush() == Peer::Io::closed) {
      result.error = "the server closed the connection during the opening handshake";
      return result;
    }
    const auto scan = scanner.scan(peer.input());
    if (scan.failed()) {
      result.error = std::string("malformed answer to the opening handshake: ") + scan.error;
      return result;
    }
    if (scan.complete()) {
      result.response = std::string(peer.input().substr(0, scan.consumed));
      break;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    const short ready =
        left.count() <= 0
            ? 0
            : peer.wait(static_cast<short>(POLLIN | (peer.has_output() ? POLLOUT : 0)), left);
    if (ready == 0) {
      result.error =
          "no answer to the opening handshake within " + std::to_string(timeout.count()) + " ms";
      return result;
    }
    if ((ready & (POLLIN | POLLHUP | POLLERR)) != 0 && peer.read_available() == Peer::Io::closed &&
        !scanner.scan(peer.input()).complete()) {
      result.error = "the server closed the connection during the opening handshake";
      return result;
    }
  }
  peer.consume_input(result.response.size());

  std::array<HttpHeader, 64> storage;
  protocol::ResponseHead head;
  if (!protocol::parse_response_head(result.response, head, storage).complete()) {
    result.error = "malformed answer to the opening handshake";
    return result;
  }
  result.server = std::string(protocol::find_header(head.headers, "Server"));
  if (head.status_code != 101) {
    result.error = "the server answered " + std::to_string(head.status_code) + " " +
                   std::string(head.reason) + " instead of 101";
    return result;
  }
  if (!protocol::iequals(protocol::trim_ows(protocol::find_header(head.headers, "Upgrade")),
                         "websocket") ||
      !protocol::header_has_token(head.headers, "Connection", "upgrade")) {
    result.error = "the 101 answer lacks Upgrade: websocket or Connection: Upgrade";
    return result;
  }
  if (protocol::trim_ows(protocol::find_header(head.headers, "Sec-WebSocket-Accept")) !=
      protocol::compute_accept_key(key)) {
    result.error = "wrong Sec-WebSocket-Accept";
    return result;
  }
  const std::string_view extensions =
      protocol::trim_ows(protocol::find_header(head.headers, "Sec-WebSocket-Extensions"));
  if (!extensions.empty()) {
    if (offers.empty()) {
      result.error =
          "the server answered with an extension that was not offered: " + std::string(extensions);
      return result;
    }
    std::string error;
    result.deflate = check_deflate_answer(extensions, offers, error);
    if (!result.deflate) {
      result.error = "the server's permessage-deflate answer does not fit the offer: " + error;
      return result;
    }
  }
  result.ok = true;
  return result;
}

}  // namespace fastws::conformance
