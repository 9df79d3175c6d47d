// libFuzzer target: the client's check of the server's handshake answer.
// Input: one settings byte (bit 0: permessage-deflate offered, bit 1: subprotocols "chat" and
// "superchat" offered), one byte choosing where the answer is split, then the bytes received.
// The request uses the nonce of RFC 6455 1.3, so the accepted key is s3pPLMBiTxaQ9kYGzzhZRbK+xOo=.
// Properties:
//  1. Never crashes (ASan/UBSan).
//  2. The first piece alone gives partial, or exactly the result of the whole.
//  3. An accepted answer: consumed is within the input, the subprotocol is "" or one offered,
//     deflate is agreed only when offered; a failed one has a readable message and a typed error.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/handshake_client.hpp"

namespace {

using namespace fastws;
using namespace fastws::protocol;

void require(bool condition) {
  if (!condition) std::abort();
}

constexpr HandshakeNonce rfc_nonce = {'t', 'h', 'e', ' ', 's', 'a', 'm', 'p',
                                      'l', 'e', ' ', 'n', 'o', 'n', 'c', 'e'};
constexpr HttpLimits limits{.max_head_size = 4096, .max_headers = 32};

const ClientHandshakeRequest& request_for(std::uint8_t settings) {
  static const std::vector<std::string> protocols{"chat", "superchat"};
  static const DeflateConfig deflate;
  static const std::array<ClientHandshakeRequest, 4> requests = [] {
    const auto make = [](bool with_deflate, bool with_protocols) {
      ClientRequestParts parts;
      parts.host = "server.example.com";
      parts.target = "/chat";
      if (with_deflate) parts.deflate = &deflate;
      if (with_protocols) parts.subprotocols = protocols;
      std::string error;
      return ClientHandshakeRequest::create(parts, rfc_nonce, error).value();
    };
    return std::array<ClientHandshakeRequest, 4>{make(false, false), make(true, false),
                                                 make(false, true), make(true, true)};
  }();
  return requests[settings & 3];
}

ClientHandshakeResult check(const ClientHandshakeRequest& request, std::string_view input) {
  std::array<HttpHeader, 32> storage;
  return request.check_response(input, storage, limits);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t settings = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
  const std::size_t split = input.size() * data[1] / 255;
  const ClientHandshakeRequest& request = request_for(settings);

  const ClientHandshakeResult whole = check(request, input);
  const ClientHandshakeResult part = check(request, input.substr(0, split));
  if (part.status != HeadStatus::partial) {
    require(part.status == whole.status && part.error == whole.error &&
            part.consumed == whole.consumed && part.http_status == whole.http_status);
  }

  switch (whole.status) {
    case HeadStatus::partial:
      require(whole.error == ClientHandshakeError::none);
      break;
    case HeadStatus::complete:
      require(whole.error == ClientHandshakeError::none && whole.http_status == 101);
      require(whole.consumed > 0 && whole.consumed <= input.size());
      require(whole.subprotocol.empty() || (settings & 2) != 0);
      require(whole.subprotocol.empty() || whole.subprotocol == "chat" ||
              whole.subprotocol == "superchat");
      require(!whole.deflate || (settings & 1) != 0);
      break;
    case HeadStatus::error:
      require(whole.error != ClientHandshakeError::none && !whole.message.empty());
      break;
  }
  return 0;
}
