// permessage-deflate (RFC 7692): negotiation on both sides, the RFC's byte examples (7.2.3),
// context takeover, empty messages, window sizes, compression bombs and a random round trip.
#include "protocol/permessage_deflate.hpp"

#include <gtest/gtest.h>
#include <malloc.h>
#include <zlib.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace fastws::protocol {
namespace {

using Bytes = std::vector<std::byte>;
using Status = Inflater::Status;

Bytes bytes(std::initializer_list<int> values) {
  Bytes out;
  for (int value : values) out.push_back(static_cast<std::byte>(value));
  return out;
}

Bytes text(std::string_view chars) {
  Bytes out;
  for (char c : chars) out.push_back(static_cast<std::byte>(c));
  return out;
}

Bytes compress(Deflater& deflater, const Bytes& message) {
  Bytes out;
  EXPECT_TRUE(deflater.compress(message, true, out));
  return out;
}

struct Inflated {
  Status status;
  Bytes message;
};

Inflated inflate(Inflater& inflater, const Bytes& payload, std::size_t max_output = 1 << 24) {
  Inflated result{Status::ok, {}};
  result.status = inflater.decompress(payload, true, result.message, max_output);
  return result;
}

const Bytes hello = text("Hello");

// ---------------------------------------------------------------- server negotiation

struct Negotiated {
  std::optional<DeflateParams> params;
  std::string response;
};

Negotiated negotiate(std::string_view header, const DeflateConfig& config = {}) {
  Negotiated result;
  result.response = "left over from before";
  result.params = negotiate_deflate_offer(header, config, result.response);
  if (!result.params) {
    EXPECT_EQ(result.response, "") << "a decline must not answer anything";
  }
  return result;
}

DeflateParams params(bool server_nct, bool client_nct, int server_bits, int client_bits) {
  return {server_nct, client_nct, static_cast<std::uint8_t>(server_bits),
          static_cast<std::uint8_t>(client_bits)};
}

TEST(NegotiateDeflate, PlainOfferGetsAPlainAnswer) {
  const Negotiated result = negotiate("permessage-deflate");
  EXPECT_EQ(result.response, "permessage-deflate");
  EXPECT_EQ(result.params, params(false, false, 15, 15));
}

// Browsers offer client_max_window_bits without a value; with the default config there is no
// reason to limit the client.
TEST(NegotiateDeflate, BrowserOffer) {
  const Negotiated result = negotiate("permessage-deflate; client_max_window_bits");
  EXPECT_EQ(result.response, "permessage-deflate");
  EXPECT_EQ(result.params, params(false, false, 15, 15));
}

// RFC 7692 7.1.2.2: the server may limit the client's window only when the offer has the
// parameter, and not above its value.
TEST(NegotiateDeflate, ClientWindowLimitedOnlyWhenOffered) {
  DeflateConfig config;
  config.client_max_window_bits = 10;
  Negotiated result = negotiate("permessage-deflate; client_max_window_bits", config);
  EXPECT_EQ(result.response, "permessage-deflate; client_max_window_bits=10");
  EXPECT_EQ(result.params, params(false, false, 15, 10));

  result = negotiate("permessage-deflate; client_max_window_bits=12", config);
  EXPECT_EQ(result.response, "permessage-deflate; client_max_window_bits=10");

  // The client already promised a smaller window: nothing to add.
  result = negotiate("permessage-deflate; client_max_window_bits=9", config);
  EXPECT_EQ(result.response, "permessage-deflate");
  EXPECT_EQ(result.params, params(false, false, 15, 9));

  result = negotiate("permessage-deflate", config);
  EXPECT_EQ(result.response, "permessage-deflate");
  EXPECT_EQ(result.params, params(false, false, 15, 15));
}

// We never ask a peer for an 8-bit window: zlib (most peers) cannot compress with one.
TEST(NegotiateDeflate, NeverAsksTheClientForAnEightBitWindow) {
  DeflateConfig config;
  config.client_max_window_bits = 8;
  const Negotiated result = negotiate("permessage-deflate; client_max_window_bits", config);
  EXPECT_EQ(result.response, "permessage-deflate; client_max_window_bits=9");
  EXPECT_EQ(result.params, params(false, false, 15, 9));
}

// RFC 7692 7.1.2.1: a requested server window is answered with it or a smaller value.
TEST(NegotiateDeflate, ServerWindowAnsweredWithinRequestAndConfig) {
  Negotiated result = negotiate("permessage-deflate; server_max_window_bits=10");
  EXPECT_EQ(result.response, "permessage-deflate; server_max_window_bits=10");
  EXPECT_EQ(result.params, params(false, false, 10, 15));

  DeflateConfig config;
  config.server_max_window_bits = 12;
  result = negotiate("permessage-deflate; server_max_window_bits=10", config);
  EXPECT_EQ(result.response, "permessage-deflate; server_max_window_bits=10");
  result = negotiate("permessage-deflate; server_max_window_bits=15", config);
  EXPECT_EQ(result.response, "permessage-deflate; server_max_window_bits=12");
  EXPECT_EQ(result.params, params(false, false, 12, 15));
  // Unasked, the server may still announce that it uses a smaller window.
  result = negotiate("permessage-deflate", config);
  EXPECT_EQ(result.response, "permessage-deflate; server_max_window_bits=12");
}

// The answer may not exceed the request, so an offer asking for 8 gets 8; zlib cannot compress
// with an 8-bit window, so the server then sends uncompressed (Session::compresses_outgoing).
TEST(NegotiateDeflate, ServerWindowEightIsAgreedTo) {
  const Negotiated result = negotiate("permessage-deflate; server_max_window_bits=8");
  EXPECT_EQ(result.response, "permessage-deflate; server_max_window_bits=8");
  EXPECT_EQ(result.params, params(false, false, 8, 15));
}

// A config of 8 for our own window is raised to 9, the smallest zlib can write; a client may
// still ask for 8.
TEST(NegotiateDeflate, OwnWindowEightMeansNine) {
  DeflateConfig config;
  config.server_max_window_bits = 8;
  const Negotiated result = negotiate("permessage-deflate", config);
  EXPECT_EQ(result.response, "permessage-deflate; server_max_window_bits=9");
  EXPECT_EQ(negotiate("permessage-deflate; server_max_window_bits=8", config).params,
            params(false, false, 8, 15));
}

TEST(NegotiateDeflate, ServerNoContextTakeoverRequestedOrConfigured) {
  Negotiated result = negotiate("permessage-deflate; server_no_context_takeover");
  EXPECT_EQ(result.response, "permessage-deflate; server_no_context_takeover");
  EXPECT_EQ(result.params, params(true, false, 15, 15));

  DeflateConfig config;
  config.server_no_context_takeover = true;
  result = negotiate("permessage-deflate", config);
  EXPECT_EQ(result.response, "permessage-deflate; server_no_context_takeover");
  EXPECT_EQ(result.params, params(true, false, 15, 15));
}

TEST(NegotiateDeflate, ClientNoContextTakeoverOfferedOrConfigured) {
  // Offered: echoed, so that the client drops its context for sure. Node's ws keeps it unless the
  // response names the parameter, and we reset our inflater (1007 "invalid compressed data" on
  // its second message, before this was echoed).
  Negotiated result = negotiate("permessage-deflate; client_no_context_takeover");
  EXPECT_EQ(result.response, "permessage-deflate; client_no_context_takeover");
  EXPECT_EQ(result.params, params(false, true, 15, 15));

  DeflateConfig config;
  config.client_no_context_takeover = true;
  result = negotiate("permessage-deflate", config);
  EXPECT_EQ(result.response, "permessage-deflate; client_no_context_takeover");
  EXPECT_EQ(result.params, params(false, true, 15, 15));
}

TEST(NegotiateDeflate, EverythingAtOnce) {
  DeflateConfig config;
  config.client_no_context_takeover = true;
  config.server_max_window_bits = 11;
  config.client_max_window_bits = 10;
  const Negotiated result = negotiate(
      "permessage-deflate; server_no_context_takeover; server_max_window_bits=13; "
      "client_max_window_bits=12",
      config);
  EXPECT_EQ(result.response,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            "server_max_window_bits=11; client_max_window_bits=10");
  EXPECT_EQ(result.params, params(true, true, 11, 10));
}

TEST(NegotiateDeflate, QuotedValuesCount) {
  const Negotiated result = negotiate(R"(permessage-deflate; server_max_window_bits="1\0")");
  EXPECT_EQ(result.response, "permessage-deflate; server_max_window_bits=10");
}

TEST(NegotiateDeflate, NamesAreCaseInsensitive) {
  const Negotiated result = negotiate("PerMessage-Deflate; Server_No_Context_Takeover");
  EXPECT_EQ(result.response, "permessage-deflate; server_no_context_takeover");
}

TEST(NegotiateDeflate, OtherExtensionsAreSkipped) {
  Negotiated result =
      negotiate("x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=10");
  EXPECT_EQ(result.response, "permessage-deflate; server_max_window_bits=10");
  EXPECT_FALSE(negotiate("x-webkit-deflate-frame; max_window_bits=10").params);
}

TEST(NegotiateDeflate, FirstAcceptableOfferWins) {
  const Negotiated result =
      negotiate("permessage-deflate; server_max_window_bits=10, permessage-deflate");
  EXPECT_EQ(result.response, "permessage-deflate; server_max_window_bits=10");
}

TEST(NegotiateDeflate, MalformedHeaderDeclinesEverything) {
  EXPECT_FALSE(
      negotiate("permessage-deflate, permessage-deflate; server_max_window_bits=\"10").params);
  EXPECT_FALSE(negotiate("permessage-deflate;").params);
  EXPECT_FALSE(negotiate("").params);
}

// ANCHORS item 9 and RFC 7692 7.1: each of these makes its offer unacceptable. Alone, it is
// declined; followed by a good offer, the good one is taken.
TEST(NegotiateDeflate, InvalidParametersDeclineTheOfferAndTheNextIsTried) {
  const std::string huge_quoted = "client_max_window_bits=\"" + std::string(10 * 1024, '1') + "\"";
  const std::vector<std::string> invalid = {
      "client_max_window_bits=7",
      "client_max_window_bits=16",
      "client_max_window_bits=abc",
      "client_max_window_bits=08",
      "client_max_window_bits=\"16\"",
      "client_max_window_bits=-9",
      "server_max_window_bits",  // must have a value (7.1.2.1)
      "server_max_window_bits=7",
      "server_max_window_bits=16",
      "server_max_window_bits=1e1",
      "server_no_context_takeover=1",  // takes no value (7.1.1.1)
      "client_no_context_takeover=\"true\"",
      "unknown_parameter",
      "server_no_context_takeover; server_no_context_takeover",
      "client_no_context_takeover; client_no_context_takeover",
      "server_max_window_bits=10; server_max_window_bits=10",
      "client_max_window_bits; client_max_window_bits=10",
      "client_max_window_bits; CLIENT_MAX_WINDOW_BITS",
      huge_quoted,
  };
  for (const std::string& param : invalid) {
    SCOPED_TRACE(param.substr(0, 60));
    EXPECT_FALSE(negotiate("permessage-deflate; " + param).params);
    const Negotiated fallback = negotiate("permessage-deflate; " + param +
                                          ", permessage-deflate; server_no_context_takeover");
    EXPECT_EQ(fallback.response, "permessage-deflate; server_no_context_takeover");
    EXPECT_EQ(fallback.params, params(true, false, 15, 15));
  }
}

TEST(NegotiateDeflate, ManyBadOffersAreDeclinedInLinearTime) {
  const auto started = std::chrono::steady_clock::now();
  std::string header;
  const std::string bad = "permessage-deflate; client_max_window_bits=\"" +
                          std::string(10 * 1024, '9') + "\"; server_max_window_bits=16";
  for (int i = 0; i < 200; ++i) header += bad + ", ";
  header += "permessage-deflate; client_max_window_bits";
  for (int i = 0; i < 100'000; ++i) header += "; client_max_window_bits";  // duplicates
  const Negotiated result = negotiate(header);
  EXPECT_FALSE(result.params);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

// ---------------------------------------------------------------- client side

TEST(MakeDeflateOffer, DefaultsLetTheServerLimitOurWindow) {
  EXPECT_EQ(make_deflate_offer({}), "permessage-deflate; client_max_window_bits");
}

TEST(MakeDeflateOffer, EveryParameter) {
  DeflateConfig config;
  config.server_no_context_takeover = true;
  config.client_no_context_takeover = true;
  config.server_max_window_bits = 10;
  config.client_max_window_bits = 11;
  EXPECT_EQ(make_deflate_offer(config),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            "server_max_window_bits=10; client_max_window_bits=11");
}

// An 8-bit window is neither used by our compressor nor asked of the server (zlib cannot).
TEST(MakeDeflateOffer, WindowEightIsOfferedAsNine) {
  DeflateConfig config;
  config.server_max_window_bits = 8;
  config.client_max_window_bits = 8;
  EXPECT_EQ(make_deflate_offer(config),
            "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9");
}

struct Accepted {
  std::optional<DeflateParams> params;
  std::string error;
};

Accepted accept(std::string_view response, const DeflateConfig& offered = {}) {
  Accepted result;
  result.params = accept_deflate_response(response, offered, result.error);
  if (result.params) {
    EXPECT_EQ(result.error, "");
  }
  return result;
}

TEST(AcceptDeflateResponse, PlainAnswer) {
  const Accepted result = accept("permessage-deflate");
  EXPECT_EQ(result.params, params(false, false, 15, 15));
}

// The server may limit our window to 8 bits (RFC 7692 7.1.2.2); zlib cannot compress with it,
// so the client then sends uncompressed (Session::compresses_outgoing).
TEST(AcceptDeflateResponse, ClientWindowEightIsAgreedTo) {
  const Accepted result = accept("permessage-deflate; client_max_window_bits=8");
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.params, params(false, false, 15, 8));
}

TEST(AcceptDeflateResponse, EveryParameterWithinTheOffer) {
  DeflateConfig offered;
  offered.server_max_window_bits = 12;
  offered.client_max_window_bits = 11;
  const Accepted result = accept(
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
      "server_max_window_bits=10; client_max_window_bits=9",
      offered);
  EXPECT_EQ(result.params, params(true, true, 10, 9));
}

// RFC 7692 7.1.1.1, 7.1.1.2, 7.1.2.1: these may come back unasked.
TEST(AcceptDeflateResponse, UnaskedButAllowed) {
  EXPECT_EQ(accept("permessage-deflate; server_no_context_takeover").params,
            params(true, false, 15, 15));
  EXPECT_EQ(accept("permessage-deflate; client_no_context_takeover").params,
            params(false, true, 15, 15));
  EXPECT_EQ(accept("permessage-deflate; server_max_window_bits=12").params,
            params(false, false, 12, 15));
}

TEST(AcceptDeflateResponse, OurOwnLimitsHoldWithoutAnAnswer) {
  DeflateConfig offered;
  offered.client_no_context_takeover = true;
  offered.client_max_window_bits = 10;
  EXPECT_EQ(accept("permessage-deflate", offered).params, params(false, true, 15, 10));
}

TEST(AcceptDeflateResponse, RefusalsSayWhy) {
  DeflateConfig limits;
  limits.server_max_window_bits = 10;
  limits.client_max_window_bits = 10;
  DeflateConfig wants_no_takeover;
  wants_no_takeover.server_no_context_takeover = true;
  struct Case {
    std::string response;
    DeflateConfig offered;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"x-foo", {}, "extension not offered: x-foo"},
      {"permessage-deflate, x-foo", {}, "extension not offered: x-foo"},
      {"permessage-deflate, permessage-deflate", {}, "permessage-deflate accepted more than once"},
      {"permessage-deflate; foo", {}, "unknown parameter: foo"},
      {"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
       {},
       "duplicate parameter: server_no_context_takeover"},
      {"permessage-deflate; server_max_window_bits=16",
       {},
       "window bits value not in 8..15: server_max_window_bits"},
      {"permessage-deflate; client_max_window_bits=abc",
       {},
       "window bits value not in 8..15: client_max_window_bits"},
      {"permessage-deflate; server_max_window_bits",
       {},
       "parameter needs a value: server_max_window_bits"},
      {"permessage-deflate; client_no_context_takeover=1",
       {},
       "parameter takes no value: client_no_context_takeover"},
      {"permessage-deflate; client_max_window_bits",
       {},
       "client_max_window_bits without a value in the response"},
      {"permessage-deflate; server_max_window_bits=\"10",
       {},
       "malformed Sec-WebSocket-Extensions: quoted-string without its closing quote"},
      {"", {}, "malformed Sec-WebSocket-Extensions: no extension in the list"},
      {"permessage-deflate; server_max_window_bits=11", limits,
       "server_max_window_bits above what was offered"},
      {"permessage-deflate", limits, "server_max_window_bits was requested but not granted"},
      {"permessage-deflate; server_max_window_bits=10; client_max_window_bits=11", limits,
       "client_max_window_bits above what was offered"},
      {"permessage-deflate", wants_no_takeover,
       "server_no_context_takeover was requested but not granted"},
  };
  for (const Case& c : cases) {
    const Accepted result = accept(c.response, c.offered);
    EXPECT_FALSE(result.params) << c.response;
    EXPECT_EQ(result.error, c.error) << c.response;
  }
}

// Our client against our server over a grid of settings: every offer is accepted, the answer is
// accepted by the client, and both sides agree on the parameters.
TEST(DeflateNegotiation, ClientAndServerAgreeOverAGridOfSettings) {
  const std::uint8_t windows[] = {8, 9, 12, 15};
  for (int flags = 0; flags < 16; ++flags) {
    for (std::uint8_t client_server_bits : windows) {
      for (std::uint8_t client_client_bits : windows) {
        for (std::uint8_t server_server_bits : windows) {
          for (std::uint8_t server_client_bits : windows) {
            DeflateConfig client{(flags & 1) != 0, (flags & 2) != 0, client_server_bits,
                                 client_client_bits};
            DeflateConfig server{(flags & 4) != 0, (flags & 8) != 0, server_server_bits,
                                 server_client_bits};
            const std::string offer = make_deflate_offer(client);
            std::string response;
            const auto agreed = negotiate_deflate_offer(offer, server, response);
            SCOPED_TRACE(offer + " -> " + response);
            ASSERT_TRUE(agreed);
            std::string error;
            const auto confirmed = accept_deflate_response(response, client, error);
            ASSERT_TRUE(confirmed) << error;
            EXPECT_EQ(*confirmed, *agreed);
            EXPECT_GE(agreed->server_max_window_bits, 9);
            EXPECT_GE(agreed->client_max_window_bits, 9);
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------- RFC 7692 7.2.3 byte examples

const Bytes hello_compressed = bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00});
const Bytes hello_again = bytes({0xf2, 0x00, 0x11, 0x00, 0x00});  // refers to the first Hello

TEST(Deflater, HelloAsInRfc7692Section7231) {
  Deflater deflater(15, false, 6, 8);
  EXPECT_EQ(compress(deflater, hello), hello_compressed);
}

TEST(Deflater, ContextTakeoverAsInSection7232) {
  Deflater deflater(15, false, 6, 8);
  EXPECT_EQ(compress(deflater, hello), hello_compressed);
  EXPECT_EQ(compress(deflater, hello), hello_again);
}

TEST(Deflater, NoContextTakeoverRepeatsTheSameBytes) {
  Deflater deflater(15, true, 6, 8);
  EXPECT_EQ(compress(deflater, hello), hello_compressed);
  EXPECT_EQ(compress(deflater, hello), hello_compressed);
}

TEST(Deflater, MessageInPiecesKeepsOnlyTheFinalTailOff) {
  Deflater deflater(15, false, 6, 8);
  Bytes out;
  ASSERT_TRUE(deflater.compress(text("Hel"), false, out));
  // A piece before the end is flushed whole: it ends with the sync marker, which stays.
  ASSERT_GE(out.size(), 4u);
  EXPECT_EQ(Bytes(out.end() - 4, out.end()), bytes({0x00, 0x00, 0xff, 0xff}));
  ASSERT_TRUE(deflater.compress(text("lo"), true, out));
  Inflater inflater(15, false);
  EXPECT_EQ(inflate(inflater, out).message, hello);
}

// zlib's deflateInit2 refuses a raw stream with an 8-bit window; negotiation never agrees to it.
TEST(Deflater, EightBitWindowCannotCompress) {
  Deflater deflater(8, false, 6, 8);
  Bytes out;
  EXPECT_FALSE(deflater.compress(hello, true, out));
}

TEST(Inflater, HelloAsInSection7231) {
  Inflater inflater(15, false);
  const Inflated result = inflate(inflater, hello_compressed);
  EXPECT_EQ(result.status, Status::ok);
  EXPECT_EQ(result.message, hello);
}

TEST(Inflater, FragmentedHelloAsInSection7231) {
  Inflater inflater(15, false);
  Bytes message;
  EXPECT_EQ(inflater.decompress(bytes({0xf2, 0x48, 0xcd}), false, message, 100), Status::ok);
  EXPECT_EQ(inflater.decompress(bytes({0xc9, 0xc9, 0x07, 0x00}), true, message, 100), Status::ok);
  EXPECT_EQ(message, hello);
}

TEST(Inflater, ContextTakeoverAsInSection7232) {
  Inflater inflater(15, false);
  EXPECT_EQ(inflate(inflater, hello_compressed).message, hello);
  const Inflated second = inflate(inflater, hello_again);
  EXPECT_EQ(second.status, Status::ok);
  EXPECT_EQ(second.message, hello);
}

// With no context takeover the window is reset after each message, so a payload that refers to
// the previous message is invalid.
TEST(Inflater, NoContextTakeoverForgetsThePreviousMessage) {
  Inflater inflater(15, true);
  EXPECT_EQ(inflate(inflater, hello_compressed).message, hello);
  const Inflated second = inflate(inflater, hello_again);
  EXPECT_EQ(second.status, Status::error);
  EXPECT_STREQ(inflater.last_error(), "invalid distance too far back");
}

// The stored block ends byte-aligned at a block boundary: no tail is appended there, so with
// context takeover the next message may refer to the Hello.
TEST(Inflater, StoredBlockAsInSection7233) {
  Inflater inflater(15, false);
  const Inflated result =
      inflate(inflater, bytes({0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  EXPECT_EQ(result.status, Status::ok);
  EXPECT_EQ(result.message, hello);
  const Inflated next = inflate(inflater, hello_again);
  EXPECT_EQ(next.status, Status::ok);
  EXPECT_EQ(next.message, hello);
}

// Section 7.2.3.4: a sender that ends with a BFINAL block, with the extra 00 byte the RFC shows
// and without it (the 00 00 ff ff tail is then all that follows the final block). With context
// takeover the next message may still refer to this one.
TEST(Inflater, FinalBlockAsInSection7234) {
  for (const Bytes& payload : {bytes({0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}),
                               bytes({0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00})}) {
    Inflater inflater(15, false);
    const Inflated first = inflate(inflater, payload);
    EXPECT_EQ(first.status, Status::ok);
    EXPECT_EQ(first.message, hello);
    const Inflated second = inflate(inflater, hello_again);
    EXPECT_EQ(second.status, Status::ok);
    EXPECT_EQ(second.message, hello);
    const Inflated third = inflate(inflater, hello_compressed);
    EXPECT_EQ(third.message, hello);
  }
}

TEST(Inflater, TwoBlocksAsInSection7235) {
  Inflater inflater(15, false);
  const Inflated result = inflate(inflater, bytes({0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff,
                                                   0xca, 0xc9, 0xc9, 0x07, 0x00}));
  EXPECT_EQ(result.status, Status::ok);
  EXPECT_EQ(result.message, hello);
}

TEST(Inflater, GarbageIsAnErrorWithZlibsReason) {
  Inflater inflater(15, false);
  const Inflated result = inflate(inflater, bytes({0xff, 0xff, 0xff}));
  EXPECT_EQ(result.status, Status::error);
  EXPECT_STREQ(inflater.last_error(), "invalid block type");
}

// ---------------------------------------------------------------- empty messages (ANCHORS 10)

TEST(Deflater, EmptyMessageIsASingleZeroByte) {
  for (bool no_context_takeover : {false, true}) {
    Deflater deflater(15, no_context_takeover, 6, 8);
    EXPECT_EQ(compress(deflater, {}), bytes({0x00}));
    EXPECT_EQ(compress(deflater, hello), hello_compressed);
    // Right after a flushed message zlib has nothing to write; the 00 is still needed.
    EXPECT_EQ(compress(deflater, {}), bytes({0x00}));
    EXPECT_EQ(compress(deflater, {}), bytes({0x00}));
  }
}

TEST(Inflater, EmptyPayloadAndZeroByteAreEmptyMessages) {
  Inflater inflater(15, false);
  for (const Bytes& payload : {Bytes{}, bytes({0x00}), Bytes{}, bytes({0x00})}) {
    const Inflated result = inflate(inflater, payload);
    EXPECT_EQ(result.status, Status::ok);
    EXPECT_TRUE(result.message.empty());
  }
  // The stream is intact: Hello, two empty messages, and a reference to the Hello.
  EXPECT_EQ(inflate(inflater, hello_compressed).message, hello);
  EXPECT_TRUE(inflate(inflater, {}).message.empty());
  EXPECT_TRUE(inflate(inflater, bytes({0x00})).message.empty());
  EXPECT_EQ(inflate(inflater, hello_again).message, hello);
}

TEST(PermessageDeflate, EmptyAndNonEmptyMessagesRoundTrip) {
  const std::vector<Bytes> messages = {
      {}, hello, {}, {}, hello, text(std::string(5000, 'a')), {}, text("Hello, world"),
      {}, hello, {}};
  for (bool no_context_takeover : {false, true}) {
    Deflater deflater(15, no_context_takeover, 6, 8);
    Inflater inflater(15, no_context_takeover);
    for (const Bytes& message : messages) {
      const Inflated result = inflate(inflater, compress(deflater, message));
      ASSERT_EQ(result.status, Status::ok);
      ASSERT_EQ(result.message, message);
    }
  }
}

// An empty final piece after a flushed one (a streamed message ended by finish()).
TEST(PermessageDeflate, EmptyFinalPieceRoundTrips) {
  Deflater deflater(15, false, 6, 8);
  Inflater inflater(15, false);
  for (int round = 0; round < 3; ++round) {
    Bytes first;
    Bytes last;
    ASSERT_TRUE(deflater.compress(hello, false, first));
    ASSERT_TRUE(deflater.compress({}, true, last));
    EXPECT_EQ(last, bytes({0x00}));
    Bytes message;
    ASSERT_EQ(inflater.decompress(first, false, message, 100), Status::ok);
    ASSERT_EQ(inflater.decompress(last, true, message, 100), Status::ok);
    EXPECT_EQ(message, hello);
  }
}

// ---------------------------------------------------------------- context takeover, windows

std::string sentence(std::mt19937& random) {
  static const char* const words[] = {"the",   "socket", "frame",   "message", "server", "client",
                                      "sends", "reads",  "quickly", "binary",  "text",   "close"};
  std::string out;
  const int count = 3 + static_cast<int>(random() % 12);
  for (int i = 0; i < count; ++i) {
    out += words[random() % std::size(words)];
    out += ' ';
  }
  return out;
}

TEST(PermessageDeflate, ContextTakeoverAcrossManyMessages) {
  std::mt19937 random(7);
  std::vector<Bytes> messages;
  for (int i = 0; i < 2000; ++i) messages.push_back(text(sentence(random)));
  std::size_t sizes[2] = {0, 0};
  for (bool no_context_takeover : {false, true}) {
    Deflater deflater(15, no_context_takeover, 6, 8);
    Inflater inflater(15, no_context_takeover);
    for (const Bytes& message : messages) {
      const Bytes payload = compress(deflater, message);
      sizes[no_context_takeover ? 1 : 0] += payload.size();
      const Inflated result = inflate(inflater, payload);
      ASSERT_EQ(result.status, Status::ok);
      ASSERT_EQ(result.message, message);
    }
  }
  // Takeover lets later messages refer to earlier ones: clearly smaller in total.
  EXPECT_LT(sizes[0] * 2, sizes[1]);
}

// Every window our compressor may use, decoded by the 15-bit inflater; the text repeats at
// distances beyond the smaller windows, so the window really limits the encoder.
TEST(PermessageDeflate, EveryCompressWindowRoundTrips) {
  std::mt19937 random(11);
  std::string long_text;
  while (long_text.size() < 100'000) long_text += sentence(random);
  const Bytes message = text(long_text);
  std::size_t payload_sizes[16] = {};
  for (int bits = 9; bits <= 15; ++bits) {
    Deflater deflater(bits, false, 9, 9);
    Inflater inflater(bits, false);
    const Bytes payload = compress(deflater, message);
    const Inflated result = inflate(inflater, payload);
    ASSERT_EQ(result.status, Status::ok) << bits;
    ASSERT_EQ(result.message, message) << bits;
    payload_sizes[bits] = payload.size();
  }
  EXPECT_GT(payload_sizes[9], payload_sizes[15]);
}

// ---------------------------------------------------------------- senders that keep a tail

// Another endpoint's sender: zlib itself, raw deflate with a 15-bit window, flushing as told.
class ZlibSender {
 public:
  ZlibSender() { deflateInit2(&stream_, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY); }
  ~ZlibSender() { deflateEnd(&stream_); }
  ZlibSender(const ZlibSender&) = delete;
  ZlibSender& operator=(const ZlibSender&) = delete;

  // Deflates `in` and flushes; zlib writes nothing for a sync flush with nothing new to flush.
  Bytes flush(const Bytes& in, int flush_mode) {
    Bytes out(deflateBound(&stream_, in.size()) + 64);
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
    stream_.avail_in = static_cast<uInt>(in.size());
    stream_.next_out = reinterpret_cast<Bytef*>(out.data());
    stream_.avail_out = static_cast<uInt>(out.size());
    const int result = deflate(&stream_, flush_mode);
    EXPECT_TRUE(result == Z_OK || result == Z_BUF_ERROR) << result;
    EXPECT_TRUE(stream_.avail_in == 0 && stream_.avail_out != 0);
    out.resize(out.size() - stream_.avail_out);
    return out;
  }

 private:
  z_stream stream_{};
};

// What a sender strips from the bytes one flush wrote: 00 00 ff ff if they end with it.
Bytes strip_tail(Bytes flushed) {
  if (flushed.size() >= 4 && Bytes(flushed.end() - 4, flushed.end()) == bytes({0, 0, 0xff, 0xff})) {
    flushed.resize(flushed.size() - 4);
  }
  return flushed;
}

// A sender that keeps the 00 00 ff ff (against RFC 7692 7.2.1) leaves the stream at a block
// boundary; the tail the inflater appends must not start a block there, or the next message
// fails. Three kept tails, two stripped, and so on, under context takeover; the first message
// is empty (zlib writes an empty stored block for it, 00 00 00 ff ff), and one fills the
// inflater's 16 KiB output step exactly, so that zlib is called once more with nothing to do.
TEST(Inflater, MessagesThatKeepTheTailDecode) {
  std::mt19937 random(5);
  ZlibSender sender;
  Inflater inflater(15, false);
  for (int i = 0; i < 40; ++i) {
    Bytes message;
    if (i == 6) message = text(std::string(16 * 1024, 'x'));
    if (i != 0 && i != 6) message = text(sentence(random));
    const Bytes flushed = sender.flush(message, Z_SYNC_FLUSH);
    const bool keep_tail = i % 5 < 3;
    const Inflated result = inflate(inflater, keep_tail ? flushed : strip_tail(flushed));
    ASSERT_EQ(result.status, Status::ok) << i;
    ASSERT_EQ(result.message, message) << i;
  }
}

// A sender that flushes twice and strips the tail of what the last flush wrote. zlib writes
// nothing for a second sync flush, so the message keeps the first flush's tail: in one frame, or
// as a last fragment that is empty. A full flush does write an empty stored block; stripped of
// its tail, the message ends inside that block like a compliant one and still needs the tail.
TEST(Inflater, MessagesFlushedTwiceDecode) {
  ZlibSender sender;
  Inflater inflater(15, false);
  for (int second_flush : {Z_SYNC_FLUSH, Z_FULL_FLUSH}) {
    for (bool fragmented : {false, true}) {
      SCOPED_TRACE(testing::Message()
                   << "second flush " << second_flush << " fragmented " << fragmented);
      Bytes first = sender.flush(hello, Z_SYNC_FLUSH);
      const Bytes last = strip_tail(sender.flush({}, second_flush));
      EXPECT_EQ(last.empty(), second_flush == Z_SYNC_FLUSH);
      Bytes message;
      if (fragmented) {
        ASSERT_EQ(inflater.decompress(first, false, message, 100), Status::ok);
      } else {
        first.insert(first.end(), last.begin(), last.end());
      }
      ASSERT_EQ(inflater.decompress(fragmented ? last : first, true, message, 100), Status::ok);
      EXPECT_EQ(message, hello);
      // The next message, a normal one (after the sync flushes it refers to the Hello).
      const Inflated next = inflate(inflater, strip_tail(sender.flush(hello, Z_SYNC_FLUSH)));
      ASSERT_EQ(next.status, Status::ok);
      EXPECT_EQ(next.message, hello);
    }
  }
}

// ---------------------------------------------------------------- bombs and limits (ANCHORS 1)

// 100 MiB of zeros, compressed in 1 MiB pieces to about 100 KiB (built once, it takes a while).
const Bytes& zero_bomb() {
  static const Bytes bomb = [] {
    Deflater deflater(15, false, 6, 9);
    const Bytes zeros(1 << 20);
    Bytes payload;
    for (int i = 0; i < 100; ++i) EXPECT_TRUE(deflater.compress(zeros, i == 99, payload));
    return payload;
  }();
  return bomb;
}

TEST(Inflater, CompressionBombIsRefusedWithinTheLimit) {
  const Bytes& bomb = zero_bomb();
  EXPECT_LT(bomb.size(), 200u * 1024);
  constexpr std::size_t limit = 1 << 20;
  Inflater inflater(15, false);
  Bytes out;
  EXPECT_EQ(inflater.decompress(bomb, true, out, limit), Status::too_big);
  EXPECT_LE(out.size(), limit + 1);
  EXPECT_LT(out.capacity(), 2 * limit);
}

// As the session feeds it: frame by frame, each call with what is left of the message budget,
// behind bytes already in the buffer.
TEST(Inflater, CompressionBombInFramesIsRefusedWithinTheLimit) {
  const Bytes& bomb = zero_bomb();
  constexpr std::size_t limit = 1 << 20;
  constexpr std::size_t frame = 4096;
  Inflater inflater(15, false);
  Bytes out(100, std::byte{1});
  std::size_t delivered = 0;
  Status status = Status::ok;
  for (std::size_t at = 0; at < bomb.size() && status == Status::ok; at += frame) {
    const std::size_t before = out.size();
    const std::span<const std::byte> piece(bomb.data() + at, std::min(frame, bomb.size() - at));
    status = inflater.decompress(piece, at + frame >= bomb.size(), out, limit - delivered);
    ASSERT_LE(out.size() - before, limit - delivered + 1);
    delivered += out.size() - before;
  }
  EXPECT_EQ(status, Status::too_big);
  EXPECT_LT(out.capacity(), 2 * limit);
}

// A caller that bounds each call's work (a session's inflate_per_receive): each call stops after
// its share with input left, the rest fed again, and the message comes out the same.
TEST(Inflater, PausedAfterEachShareTheMessageComesOutTheSame) {
  const Bytes& bomb = zero_bomb();
  constexpr std::size_t limit = 8 << 20;
  constexpr std::size_t share = 20'000;  // not a multiple of the 16 KiB steps
  Inflater whole(15, false), in_shares(15, false);
  Bytes expected;
  ASSERT_EQ(whole.decompress(bomb, false, expected, limit), Status::too_big);
  Bytes out;
  std::span<const std::byte> rest(bomb);
  std::size_t calls = 0;
  Status status = Status::paused;
  while (status == Status::paused) {
    ++calls;
    const std::size_t before = out.size();
    std::size_t consumed = 0;
    status =
        in_shares.decompress(rest, false, out, limit - before, {.after_output = share}, consumed);
    if (status != Status::paused) break;
    ASSERT_LT(consumed, rest.size());
    ASSERT_GE(out.size() - before, share);
    ASSERT_LT(out.size() - before, share + 16 * 1024);
    rest = rest.subspan(consumed);
  }
  EXPECT_EQ(status, Status::too_big);
  EXPECT_GE(calls, limit / (share + 16 * 1024));
  ASSERT_EQ(out.size(), expected.size());
  EXPECT_EQ(out, expected);
}

// `out` full at its bound with input left: paused, `out` never grown past it; the caller gives
// a new buffer and the message goes on where it stopped.
TEST(Inflater, PausedWhenOutIsFullAtItsCapacityBound) {
  Deflater deflater(15, false, 6, 8);
  const Bytes message = text(std::string(300'000, 'y'));
  const Bytes payload = compress(deflater, message);
  constexpr std::size_t block = 64 * 1024;
  Inflater inflater(15, false);
  std::vector<Bytes> blocks(1);
  std::span<const std::byte> rest(payload);
  Status status = Status::paused;
  while (status == Status::paused) {
    if (blocks.back().size() == block) blocks.emplace_back();
    std::size_t consumed = 0;
    status =
        inflater.decompress(rest, true, blocks.back(), 1 << 20, {.at_capacity = block}, consumed);
    ASSERT_LE(blocks.back().capacity(), block);
    if (status == Status::paused) {
      ASSERT_EQ(blocks.back().size(), block);
    }
    rest = rest.subspan(consumed);
  }
  ASSERT_EQ(status, Status::ok);
  EXPECT_EQ(blocks.size(), message.size() / block + 1);
  Bytes joined;
  for (const Bytes& piece : blocks) joined.insert(joined.end(), piece.begin(), piece.end());
  EXPECT_EQ(joined, message);
}

TEST(Inflater, LimitIsInclusive) {
  Deflater deflater(15, false, 6, 8);
  const Bytes message = text(std::string(100'000, 'x'));
  const Bytes payload = compress(deflater, message);
  Inflater exact(15, false);
  const Inflated fits = inflate(exact, payload, message.size());
  EXPECT_EQ(fits.status, Status::ok);
  EXPECT_EQ(fits.message, message);
  Inflater short_by_one(15, false);
  EXPECT_EQ(inflate(short_by_one, payload, message.size() - 1).status, Status::too_big);
  Inflater nothing_allowed(15, false);
  EXPECT_EQ(inflate(nothing_allowed, bytes({0x00}), 0).status, Status::ok);
  EXPECT_EQ(inflate(nothing_allowed, hello_compressed, 0).status, Status::too_big);
}

// ---------------------------------------------------------------- random round trip

Bytes random_message(std::mt19937& random) {
  const std::size_t size = random() % 4 == 0 ? 0 : random() % 70'000;
  Bytes out;
  switch (random() % 3) {
    case 0:  // incompressible
      for (std::size_t i = 0; i < size; ++i) out.push_back(static_cast<std::byte>(random()));
      break;
    case 1: {  // text
      std::string chars;
      while (chars.size() < size) chars += sentence(random);
      out = text(chars.substr(0, size));
      break;
    }
    default:  // long runs
      while (out.size() < size)
        out.insert(out.end(), random() % 300, static_cast<std::byte>(random() % 4));
      out.resize(size);
  }
  return out;
}

// Splits `data` into 1..4 pieces at random points (some may be empty).
std::vector<std::span<const std::byte>> random_pieces(const Bytes& data, std::mt19937& random) {
  std::vector<std::span<const std::byte>> pieces;
  const std::size_t count = 1 + random() % 4;
  std::size_t at = 0;
  for (std::size_t i = 0; i + 1 < count; ++i) {
    const std::size_t length = random() % (data.size() - at + 1);
    pieces.emplace_back(data.data() + at, length);
    at += length;
  }
  pieces.emplace_back(data.data() + at, data.size() - at);
  return pieces;
}

TEST(PermessageDeflate, RandomMessagesAndSettingsRoundTrip) {
  std::mt19937 random(2024);
  for (int setting = 0; setting < 24; ++setting) {
    const int bits = 9 + static_cast<int>(random() % 7);
    const bool no_context_takeover = random() % 2 == 0;
    const int level = static_cast<int>(random() % 11) - 1;  // -1 (default) .. 9
    const int mem_level = 1 + static_cast<int>(random() % 9);
    SCOPED_TRACE(testing::Message() << "bits " << bits << " nct " << no_context_takeover
                                    << " level " << level << " mem " << mem_level);
    Deflater deflater(bits, no_context_takeover, level, mem_level);
    Inflater inflater(bits, no_context_takeover);
    for (int i = 0; i < 30; ++i) {
      const Bytes message = random_message(random);
      Bytes payload;
      const auto sent = random_pieces(message, random);
      for (std::size_t k = 0; k < sent.size(); ++k) {
        ASSERT_TRUE(deflater.compress(sent[k], k + 1 == sent.size(), payload));
      }
      Bytes received;
      const auto arrived = random_pieces(payload, random);
      for (std::size_t k = 0; k < arrived.size(); ++k) {
        ASSERT_EQ(inflater.decompress(arrived[k], k + 1 == arrived.size(), received,
                                      message.size() - std::min(received.size(), message.size())),
                  Status::ok);
      }
      ASSERT_EQ(received, message);
    }
  }
}

// ---------------------------------------------------------------- memory

#if defined(__SANITIZE_ADDRESS__)
constexpr bool heap_observable = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool heap_observable = false;
#else
constexpr bool heap_observable = true;
#endif
#else
constexpr bool heap_observable = true;
#endif

std::size_t heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

// zlib's state is taken on first use: an idle connection with compression agreed costs only
// the two small objects.
TEST(PermessageDeflate, ZlibStateIsAllocatedOnFirstUse) {
  if (!heap_observable) GTEST_SKIP() << "the sanitizer's allocator hides heap statistics";
  constexpr std::size_t count = 32;
  const std::size_t before = heap_in_use();
  std::vector<std::unique_ptr<Deflater>> deflaters;
  std::vector<std::unique_ptr<Inflater>> inflaters;
  for (std::size_t i = 0; i < count; ++i) {
    deflaters.push_back(std::make_unique<Deflater>(15, false, 6, 8));
    inflaters.push_back(std::make_unique<Inflater>(15, false));
  }
  EXPECT_LT(heap_in_use() - before, count * 256);
  for (std::size_t i = 0; i < count; ++i) {
    EXPECT_EQ(compress(*deflaters[i], hello), hello_compressed);
    EXPECT_EQ(inflate(*inflaters[i], hello_compressed).message, hello);
  }
  // Deflate window 15 / memLevel 8 is about 256 KiB; inflate about 7 KiB plus its 32 KiB window.
  EXPECT_GT(heap_in_use() - before, count * (256 + 32) * 1024);
}

// A small window gets a hash table to match: zlib slides the whole table every window's worth of
// input, so memLevel 8 (a 64 KiB table and 64 KiB of pending buffer) with a 512-byte window
// spent most of its time sliding. memLevel is held at window_bits - 4 there: about 25 KiB of
// state for 9 bits instead of about 136 KiB.
TEST(PermessageDeflate, SmallWindowsUseASmallerHashTable) {
  if (!heap_observable) GTEST_SKIP() << "the sanitizer's allocator hides heap statistics";
  constexpr std::size_t count = 32;
  const std::size_t before = heap_in_use();
  std::vector<std::unique_ptr<Deflater>> deflaters;
  for (std::size_t i = 0; i < count; ++i) {
    deflaters.push_back(std::make_unique<Deflater>(9, false, 1, 8));
    EXPECT_EQ(compress(*deflaters.back(), hello), hello_compressed);
  }
  EXPECT_LT(heap_in_use() - before, count * 48 * 1024);
}

}  // namespace
}  // namespace fastws::protocol
