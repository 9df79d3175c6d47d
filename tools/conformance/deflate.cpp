#include "conformance/deflate.hpp"

#include <cstring>

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

std::string deflate_offer_header(const std::vector<DeflateOffer>& offers) {
  std::string header;
  for (const DeflateOffer& offer : offers) {
    if (!header.empty()) header += ", ";
    header += "permessage-deflate; client_no_context_takeover; client_max_window_bits";
    if (offer.request_no_context_takeover) header += "; server_no_context_takeover";
    if (offer.request_max_window_bits != 0) {
      header += "; server_max_window_bits=" + std::to_string(offer.request_max_window_bits);
    }
  }
  return header;
}

std::optional<protocol::DeflateParams> check_deflate_answer(std::string_view answer,
                                                            const std::vector<DeflateOffer>& offers,
                                                            std::string& error) {
  std::string first_error;
  for (const DeflateOffer& offer : offers) {
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

MessageDeflate::MessageDeflate(const protocol::DeflateParams& params, PeerRole role)
    : params_(params),
      deflater_(
          role == PeerRole::client ? params.client_max_window_bits : params.server_max_window_bits,
          role == PeerRole::client ? params.client_no_context_takeover
                                   : params.server_no_context_takeover,
          our_compression_level, our_memory_level),
      inflater_(
          role == PeerRole::client ? params.server_max_window_bits : params.client_max_window_bits,
          role == PeerRole::client ? params.server_no_context_takeover
                                   : params.client_no_context_takeover) {}

bool MessageDeflate::compress(std::string_view message, std::string& out) {
  scratch_.clear();
  if (!deflater_.compress(byte_span(message), true, scratch_)) return false;
  out.clear();
  append(out, scratch_);
  return true;
}

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
