#include "conformance/deflate.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "protocol/extension_header.hpp"
#include "protocol/http_parser.hpp"

namespace fastws::conformance {

namespace {

// zlib level 1: the fuzzer's compressed bytes only need to be valid deflate data, and its time
// is better spent on the peer's side of the 1000-message cases.
constexpr int our_compression_level = 1;
constexpr int our_memory_level = 8;

std::span<const std::byte> byte_span(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

void append(std::string& out, const std::vector<std::byte>& bytes) {
  out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

}  // namespace

std::string deflate_offer_header(const std::vector<DeflateRequest>& offers) {
  std::string header;
  for (const DeflateRequest& offer : offers) {
    if (!header.empty()) header += ", ";
    header += "permessage-deflate; client_no_context_takeover; client_max_window_bits";
    if (offer.request_no_context_takeover) header += "; server_no_context_takeover";
    if (offer.request_max_window_bits != 0) {
      header += "; server_max_window_bits=" + std::to_string(offer.request_max_window_bits);
    }
  }
  return header;
}

std::optional<protocol::DeflateParams> check_deflate_answer(
    std::string_view answer, const std::vector<DeflateRequest>& offers, std::string& error) {
  std::string first_error;
  for (const DeflateRequest& offer : offers) {
    protocol::DeflateConfig offered;
    offered.server_no_context_takeover = offer.request_no_context_takeover;
    if (offer.request_max_window_bits != 0) {
      offered.server_max_window_bits = static_cast<std::uint8_t>(offer.request_max_window_bits);
    }
    // client_no_context_takeover is left out here although the offer carries it: like the
    // official client, the fuzzer keeps its context unless the answer asks otherwise, so the
    // peer's decompressor is tested with context takeover too.
    std::string offer_error;
    if (auto params = protocol::accept_deflate_response(answer, offered, offer_error)) {
      return params;
    }
    if (first_error.empty()) first_error = offer_error;
  }
  error = first_error;
  return std::nullopt;
}

namespace {

// One permessage-deflate offer as a client sent it.
struct ClientOffer {
  bool server_no_context_takeover = false;
  unsigned server_max_window_bits = 0;  // 0: not asked
  bool client_max_window_bits = false;  // the client accepts a limit
  unsigned client_window_hint = 15;     // its value, when it came with one
};

bool parse_window_bits(const protocol::ExtensionParam& param, unsigned& bits) {
  if (!param.has_value || param.value.size() > 2) return false;
  unsigned value = 0;
  for (const char digit : param.value) {
    if (digit < '0' || digit > '9') return false;
    value = value * 10 + static_cast<unsigned>(digit - '0');
  }
  if (value < 8 || value > 15) return false;
  bits = value;
  return true;
}

// False for an offer the fuzzing server declines: unknown, repeated or invalid parameters.
bool read_offer(const protocol::Extension& extension, ClientOffer& offer) {
  unsigned seen = 0;
  for (const protocol::ExtensionParam& param : extension.params) {
    const auto once = [&seen](unsigned bit) {
      return (std::exchange(seen, seen | bit) & bit) == 0;
    };
    if (param.name == "server_no_context_takeover" && !param.has_value && once(1)) {
      offer.server_no_context_takeover = true;
    } else if (param.name == "client_no_context_takeover" && !param.has_value && once(2)) {
      // Valid, and not needed: the answer may ask for it either way (see below).
    } else if (param.name == "server_max_window_bits" && once(4)) {
      if (!parse_window_bits(param, offer.server_max_window_bits)) return false;
    } else if (param.name == "client_max_window_bits" && once(8)) {
      offer.client_max_window_bits = true;
      if (param.has_value && !parse_window_bits(param, offer.client_window_hint)) return false;
    } else {
      return false;
    }
  }
  return offer.server_max_window_bits != 8;
}

}  // namespace

std::optional<protocol::DeflateParams> answer_deflate_offers(
    std::string_view offers, const std::vector<DeflateRequest>& accepts, std::string& answer) {
  answer.clear();
  protocol::ParsedExtensions parsed;
  if (protocol::parse_extension_header(offers, parsed) != protocol::ExtensionHeaderError::none) {
    return std::nullopt;
  }
  std::vector<ClientOffer> candidates;
  for (const protocol::Extension& extension : parsed.extensions()) {
    ClientOffer offer;
    if (protocol::iequals(extension.name, "permessage-deflate") && read_offer(extension, offer)) {
      candidates.push_back(offer);
    }
  }
  for (const DeflateRequest& accept : accepts) {
    for (const ClientOffer& offer : candidates) {
      // client_no_context_takeover needs no offer: RFC 7692 7.1.1.2 lets a server include it in
      // any response (as the official suite does), so 13.2, 13.5 and 13.6 test every client.
      if (accept.request_max_window_bits != 0 && !offer.client_max_window_bits) continue;
      protocol::DeflateParams params;
      answer = "permessage-deflate";
      if (offer.server_no_context_takeover) {
        params.server_no_context_takeover = true;
        answer += "; server_no_context_takeover";
      }
      if (offer.server_max_window_bits != 0) {
        params.server_max_window_bits = static_cast<std::uint8_t>(offer.server_max_window_bits);
        answer += "; server_max_window_bits=" + std::to_string(offer.server_max_window_bits);
      }
      if (accept.request_no_context_takeover) {
        params.client_no_context_takeover = true;
        answer += "; client_no_context_takeover";
      }
      params.client_max_window_bits = static_cast<std::uint8_t>(offer.client_window_hint);
      if (accept.request_max_window_bits != 0) {
        // RFC 7692 7.1.2.2: no larger than a value the client offered.
        const unsigned bits = std::min(accept.request_max_window_bits, offer.client_window_hint);
        params.client_max_window_bits = static_cast<std::uint8_t>(bits);
        answer += "; client_max_window_bits=" + std::to_string(bits);
      }
      return params;
    }
  }
  return std::nullopt;
}

OwnCompression own_compression(const protocol::DeflateParams& params, PeerRole role) {
  if (role == PeerRole::client) {
    return {params.client_max_window_bits, params.client_no_context_takeover};
  }
  return {params.server_max_window_bits, params.server_no_context_takeover};
}

OwnDeflater::OwnDeflater(const OwnCompression& own)
    : deflater_(own.window_bits, own.no_context_takeover, our_compression_level, our_memory_level) {
}

bool OwnDeflater::compress(std::string_view message, std::string& out) {
  scratch_.clear();
  if (!deflater_.compress(byte_span(message), true, scratch_)) return false;
  out.clear();
  append(out, scratch_);
  return true;
}

MessageDeflate::MessageDeflate(const protocol::DeflateParams& params, PeerRole role)
    : params_(params),
      own_(own_compression(params, role)),
      deflater_(own_),
      inflater_(
          role == PeerRole::client ? params.server_max_window_bits : params.client_max_window_bits,
          role == PeerRole::client ? params.server_no_context_takeover
                                   : params.client_no_context_takeover) {}

protocol::Inflater::Status MessageDeflate::decompress(std::string_view frame_payload,
                                                      bool end_of_message, std::string& out,
                                                      std::size_t max) {
  scratch_.clear();
  const std::size_t room = max > out.size() ? max - out.size() : 0;
  const auto status =
      inflater_.decompress(byte_span(frame_payload), end_of_message, scratch_, room);
  if (status == protocol::Inflater::Status::ok) append(out, scratch_);
  return status;
}

}  // namespace fastws::conformance
