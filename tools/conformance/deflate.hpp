// permessage-deflate (RFC 7692) for the compression cases: the offers the fuzzing client makes
// and the server's answer checked against them, the fuzzing server's answer to a client's
// offers, and the compressor and decompressor of one connection (fastws's own, src/protocol).
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conformance/peer.hpp"
#include "protocol/permessage_deflate.hpp"

namespace fastws::conformance {

// What the fuzzer asks of its peer in a compression case, as the official suite parameterises
// them. As client, one offer: server_no_context_takeover, server_max_window_bits=N (every offer
// also says the client accepts client_no_context_takeover and client_max_window_bits, as the
// official client's offers do). As server, one way to accept an offer: with
// client_no_context_takeover, client_max_window_bits=N, when the offer allows them.
struct DeflateRequest {
  bool request_no_context_takeover = false;
  unsigned request_max_window_bits = 0;  // 0: not asked
};

// The Sec-WebSocket-Extensions value carrying `offers` in order.
std::string deflate_offer_header(const std::vector<DeflateRequest>& offers);

// The parameters the server's answer agrees on, or nullopt with `error` set when the answer
// does not fit any of the offers. An empty answer is checked by the caller (a decline).
std::optional<protocol::DeflateParams> check_deflate_answer(
    std::string_view answer, const std::vector<DeflateRequest>& offers, std::string& error);

// The fuzzing server's answer to the client's `offers` (a Sec-WebSocket-Extensions value):
// each of `accepts` in turn is tried on every permessage-deflate offer, the first offer that
// allows what it asks is taken, with whatever it asks of the server (no context takeover, a
// window size) granted. Returns the agreed parameters with `answer` set to the field value to
// send, or nullopt (declined; also for offers with unknown or invalid parameters, and for
// server_max_window_bits=8, which zlib cannot compress with).
std::optional<protocol::DeflateParams> answer_deflate_offers(
    std::string_view offers, const std::vector<DeflateRequest>& accepts, std::string& answer);

// What the agreed parameters say of the messages we send: everything our compressed bytes
// depend on, besides the messages themselves.
struct OwnCompression {
  std::uint8_t window_bits = 15;
  bool no_context_takeover = false;
  auto operator<=>(const OwnCompression&) const = default;
};
OwnCompression own_compression(const protocol::DeflateParams& params, PeerRole role);

// Compresses our messages, each a whole message (RFC 7692 7.2.1), as `own` says.
class OwnDeflater {
 public:
  explicit OwnDeflater(const OwnCompression& own);
  bool compress(std::string_view message, std::string& out);

 private:
  protocol::Deflater deflater_;
  std::vector<std::byte> scratch_;
};

// The compressor for our direction and the decompressor for the peer's, set up from the agreed
// parameters for our role.
class MessageDeflate {
 public:
  MessageDeflate(const protocol::DeflateParams& params, PeerRole role);

  // The compressed payload of a whole message (RFC 7692 7.2.1).
  bool compress(std::string_view message, std::string& out) {
    return deflater_.compress(message, out);
  }
  // Appends the decompressed form of one frame's payload, `out` growing to `max` at most.
  protocol::Inflater::Status decompress(std::string_view frame_payload, bool end_of_message,
                                        std::string& out, std::size_t max);

  const protocol::DeflateParams& params() const noexcept { return params_; }
  const OwnCompression& own() const noexcept { return own_; }

 private:
  protocol::DeflateParams params_;
  OwnCompression own_;
  OwnDeflater deflater_;
  protocol::Inflater inflater_;
  std::vector<std::byte> scratch_;
};

}  // namespace fastws::conformance
