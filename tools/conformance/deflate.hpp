// permessage-deflate (RFC 7692) for the compression cases: the offers the fuzzing client makes,
// the server's answer checked against them, and the compressor and decompressor of one
// connection (fastws's own, from src/protocol).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conformance/peer.hpp"
#include "protocol/permessage_deflate.hpp"

namespace fastws::conformance {

// One permessage-deflate offer, as the official suite parameterises them: what the client asks
// of the server. Every offer also says the client accepts client_no_context_takeover and
// client_max_window_bits, as the official client's offers do.
struct DeflateOffer {
  bool request_no_context_takeover = false;  // server_no_context_takeover
  unsigned request_max_window_bits = 0;      // server_max_window_bits=N, 0: not asked
};

// The Sec-WebSocket-Extensions value carrying `offers` in order.
std::string deflate_offer_header(const std::vector<DeflateOffer>& offers);

// The parameters the server's answer agrees on, or nullopt with `error` set when the answer
// does not fit any of the offers. An empty answer is checked by the caller (a decline).
std::optional<protocol::DeflateParams> check_deflate_answer(std::string_view answer,
                                                            const std::vector<DeflateOffer>& offers,
                                                            std::string& error);

// The compressor for our direction and the decompressor for the peer's, set up from the agreed
// parameters for our role.
class MessageDeflate {
 public:
  MessageDeflate(const protocol::DeflateParams& params, PeerRole role);

  // The compressed payload of a whole message (RFC 7692 7.2.1).
  bool compress(std::string_view message, std::string& out);
  // Appends the decompressed form of one frame's payload, `out` growing to `max` at most.
  protocol::Inflater::Status decompress(std::string_view frame_payload, bool end_of_message,
                                        std::string& out, std::size_t max);

  const protocol::DeflateParams& params() const noexcept { return params_; }

 private:
  protocol::DeflateParams params_;
  protocol::Deflater deflater_;
  protocol::Inflater inflater_;
  std::vector<std::byte> scratch_;
};

}  // namespace fastws::conformance
