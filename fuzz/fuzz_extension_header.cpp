// libFuzzer target: Sec-WebSocket-Extensions parsing and permessage-deflate negotiation.
// Input: two bytes for the server's DeflateConfig, two for the client's, then the header text.
//  1. The parser: names and values are tokens, and a canonical rendering parses to the same list.
//  2. The server on the text: its answer is the answer to the first permessage-deflate offer it
//     accepts on its own (offers are tried in order), and a client whose config equals that offer
//     accepts the answer and agrees on the parameters.
//  3. The client on the text (as a response): never crashes; a refusal always says why.
//  4. The text as a script of offers, each a client config's make_deflate_offer or one of the
//     known-invalid offers: invalid ones are declined, and property 2 holds with exact configs.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/extension_header.hpp"
#include "protocol/http_parser.hpp"
#include "protocol/permessage_deflate.hpp"

namespace {

using namespace fastws::protocol;

void require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz_extension_header: %s\n", what);
  std::abort();
}

DeflateConfig config_from(std::uint8_t flags, std::uint8_t windows) {
  DeflateConfig config;
  config.server_no_context_takeover = (flags & 1) != 0;
  config.client_no_context_takeover = (flags & 2) != 0;
  config.server_max_window_bits = static_cast<std::uint8_t>(8 + (windows & 7));
  config.client_max_window_bits = static_cast<std::uint8_t>(8 + ((windows >> 3) & 7));
  return config;
}

std::string render(const Extension& extension) {
  std::string text(extension.name);
  for (const ExtensionParam& param : extension.params) {
    text.append("; ").append(param.name);
    if (param.has_value) text.append("=").append(param.value);
  }
  return text;
}

void check_parser(std::string_view text) {
  ParsedExtensions parsed;
  if (parse_extension_header(text, parsed) != ExtensionHeaderError::none) {
    require(parsed.extensions().empty(), "a failed parse left extensions behind");
    return;
  }
  require(!parsed.extensions().empty(), "a successful parse found no extension");
  std::string canonical;
  for (const Extension& extension : parsed.extensions()) {
    require(is_token(extension.name), "extension name is not a token");
    for (const ExtensionParam& param : extension.params) {
      require(is_token(param.name), "parameter name is not a token");
      require(param.has_value ? is_token(param.value) : param.value.empty(),
              "parameter value is not a token");
    }
    if (!canonical.empty()) canonical += ", ";
    canonical += render(extension);
  }
  ParsedExtensions again;
  require(parse_extension_header(canonical, again) == ExtensionHeaderError::none,
          "the canonical rendering does not parse");
  require(again.extensions().size() == parsed.extensions().size(), "rendering changed the count");
  for (std::size_t i = 0; i < again.extensions().size(); ++i) {
    require(render(again.extensions()[i]) == render(parsed.extensions()[i]),
            "rendering changed an extension");
  }
}

// The client config whose make_deflate_offer asks for what `offer` asks for (parameters absent
// or without a value mean 15, as they do in the RFC).
DeflateConfig config_equal_to(const Extension& offer) {
  DeflateConfig config;
  for (const ExtensionParam& param : offer.params) {
    const auto bits =
        static_cast<std::uint8_t>(param.value.empty() ? 15 : std::stoi(std::string(param.value)));
    if (iequals(param.name, "server_no_context_takeover")) config.server_no_context_takeover = true;
    if (iequals(param.name, "client_no_context_takeover")) config.client_no_context_takeover = true;
    if (iequals(param.name, "server_max_window_bits")) config.server_max_window_bits = bits;
    if (iequals(param.name, "client_max_window_bits")) config.client_max_window_bits = bits;
  }
  return config;
}

void check_client_accepts(const std::string& response, const DeflateParams& agreed,
                          const DeflateConfig& client) {
  std::string error;
  const auto confirmed = accept_deflate_response(response, client, error);
  if (!confirmed) std::fprintf(stderr, "response '%s': %s\n", response.c_str(), error.c_str());
  require(confirmed.has_value(), "the client refused the server's answer to its own offer");
  require(confirmed->server_no_context_takeover == agreed.server_no_context_takeover &&
              confirmed->client_no_context_takeover == agreed.client_no_context_takeover &&
              confirmed->server_max_window_bits == agreed.server_max_window_bits,
          "client and server disagree");
  // A client offering client_max_window_bits=8 promises 8; our client config rounds 8 up to 9.
  require(
      confirmed->client_max_window_bits == std::max<std::uint8_t>(agreed.client_max_window_bits, 9),
      "client and server disagree on the client window");
}

void check_server(std::string_view text, const DeflateConfig& server) {
  std::string response;
  const auto agreed = negotiate_deflate_offer(text, server, response);
  if (!agreed) {
    require(response.empty(), "a decline answered something");
    return;
  }
  // 8 only when asked for (the server then sends uncompressed): our own window is 9..15.
  require(agreed->server_max_window_bits >= 8 && agreed->server_max_window_bits <= 15,
          "the server agreed to a window outside 8..15");
  ParsedExtensions parsed;
  require(parse_extension_header(text, parsed) == ExtensionHeaderError::none,
          "accepted an unparsable header");
  for (const Extension& offer : parsed.extensions()) {
    if (!iequals(offer.name, "permessage-deflate")) continue;
    std::string alone_response;
    const auto alone = negotiate_deflate_offer(render(offer), server, alone_response);
    if (!alone) continue;
    require(alone == agreed && alone_response == response, "not the first acceptable offer");
    check_client_accepts(response, *agreed, config_equal_to(offer));
    return;
  }
  require(false, "accepted, but no single offer is acceptable");
}

void check_client(std::string_view text, const DeflateConfig& client) {
  std::string error;
  const auto params = accept_deflate_response(text, client, error);
  require(params.has_value() == error.empty(), "an answer is either accepted or refused with why");
  // 8 may be agreed to (the client then sends uncompressed), never less.
  if (params) require(params->client_max_window_bits >= 8, "agreed to a window under 8 bits");
}

// Offers the server must decline (RFC 7692 7.1, ANCHORS item 9).
constexpr std::array<std::string_view, 9> invalid_offers = {
    "permessage-deflate; client_max_window_bits=7",
    "permessage-deflate; client_max_window_bits=16",
    "permessage-deflate; client_max_window_bits=abc",
    "permessage-deflate; server_max_window_bits",
    "permessage-deflate; server_no_context_takeover=1",
    "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    "permessage-deflate; client_max_window_bits; client_max_window_bits=9",
    "permessage-deflate; x=\"1\"",
    "permessage-deflate; client_max_window_bits=\"0010\"",
};

void check_scripted_offers(const std::uint8_t* script, std::size_t size,
                           const DeflateConfig& server) {
  struct Offer {
    std::string text;
    std::optional<DeflateConfig> config;  // unset for an invalid offer
  };
  std::vector<Offer> offers;
  for (std::size_t i = 0; i + 1 < size && offers.size() < 16; i += 2) {
    if ((script[i] & 0x80) != 0) {
      offers.push_back({std::string(invalid_offers[script[i + 1] % invalid_offers.size()]), {}});
    } else {
      const DeflateConfig config = config_from(script[i], script[i + 1]);
      offers.push_back({make_deflate_offer(config), config});
    }
  }
  if (offers.empty()) return;
  std::string header;
  for (const Offer& offer : offers) header += (header.empty() ? "" : ", ") + offer.text;
  std::string response;
  const auto agreed = negotiate_deflate_offer(header, server, response);
  for (const Offer& offer : offers) {
    std::string alone_response;
    const auto alone = negotiate_deflate_offer(offer.text, server, alone_response);
    if (!offer.config) {
      require(!alone, "an invalid offer was accepted");
      continue;
    }
    require(alone.has_value(), "our own client's offer was declined");
    require(alone == agreed && alone_response == response, "not the first acceptable offer");
    std::string error;
    const auto confirmed = accept_deflate_response(response, *offer.config, error);
    require(confirmed == agreed, "our client refused or misread our server's answer");
    return;
  }
  require(!agreed, "accepted although every offer is invalid");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const DeflateConfig server = config_from(data[0], data[1]);
  const DeflateConfig client = config_from(data[2], data[3]);
  const std::string_view text(reinterpret_cast<const char*>(data + 4), size - 4);
  check_parser(text);
  check_server(text, server);
  check_client(text, client);
  check_scripted_offers(data + 4, size - 4, server);
  return 0;
}
