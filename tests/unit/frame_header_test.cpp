// Frame header parsing and writing (RFC 6455 section 5.2) with exact byte vectors: the section
// 5.7 examples, each rule the parser enforces, the length encoding boundaries. Every input is
// parsed in one piece, at every split point and one byte at a time, with the same outcome.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "fastws/close_code.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/mask.hpp"
#include "unit/frame_parse_support.hpp"

namespace fastws::protocol {
namespace {

using testing::bytes;
using testing::concat;
using testing::describe;
using testing::parse_one_byte_at_a_time;
using testing::parse_pieces;
using testing::ParseOutcome;
using testing::text_bytes;
using Status = FrameHeaderParser::Status;

constexpr FrameHeaderRules server_rules{Role::server, 0, UINT64_MAX};
constexpr FrameHeaderRules client_rules{Role::client, 0, UINT64_MAX};
constexpr MaskKey rfc_key{std::byte{0x37}, std::byte{0xfa}, std::byte{0x21}, std::byte{0x3d}};

// Parses `input` in one piece, then checks that every two-piece split and one byte at a time
// give exactly the same outcome (status, bytes consumed, header or error).
ParseOutcome parse_every_way(const std::vector<std::byte>& input, const FrameHeaderRules& rules) {
  const ParseOutcome whole = parse_pieces(input, rules);
  for (std::size_t split = 0; split <= input.size(); ++split) {
    EXPECT_EQ(parse_pieces(input, rules, {split}), whole) << "split at " << split;
  }
  EXPECT_EQ(parse_one_byte_at_a_time(input, rules), whole) << "one byte at a time";
  return whole;
}

FrameHeader parse_header(const std::vector<std::byte>& input, const FrameHeaderRules& rules) {
  FrameHeaderParser parser;
  std::size_t used = 0;
  EXPECT_EQ(parser.parse(input.data(), input.size(), used, rules), Status::done);
  return parser.header();
}

std::vector<std::byte> written(const FrameHeader& header) {
  std::array<std::byte, max_frame_header_size> out;
  const std::size_t size = write_frame_header(out.data(), header);
  EXPECT_EQ(size, frame_header_size(header.payload_length, header.masked));
  return {out.begin(), out.begin() + static_cast<std::ptrdiff_t>(size)};
}

void expect_error(const std::vector<std::byte>& input, const FrameHeaderRules& rules,
                  std::uint16_t code, std::string_view reason, std::size_t consumed) {
  const ParseOutcome outcome = parse_every_way(input, rules);
  EXPECT_EQ(outcome.status, Status::error);
  EXPECT_EQ(outcome.close_code, code);
  EXPECT_EQ(outcome.reason, reason);
  EXPECT_EQ(outcome.consumed, consumed) << "the error is decided at this byte";
}

void expect_done(const std::vector<std::byte>& input, const FrameHeaderRules& rules) {
  EXPECT_EQ(parse_every_way(input, rules).status, Status::done);
}

// --- RFC 6455 section 5.7 examples -------------------------------------------------------------

struct Rfc6455Example {
  const char* name;
  std::vector<std::byte> wire;  // header and payload
  FrameHeaderRules rules;       // the receiving side
  std::size_t header_size;
  bool fin;
  Opcode opcode;
  bool masked;
  std::uint64_t length;
};

std::vector<Rfc6455Example> rfc6455_examples() {
  const auto hello = text_bytes("Hello");
  const auto masked_hello = bytes({0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  return {
      {"unmasked text", concat(bytes({0x81, 0x05}), hello), client_rules, 2, true, Opcode::text,
       false, 5},
      {"masked text", concat(bytes({0x81, 0x85}), masked_hello), server_rules, 6, true,
       Opcode::text, true, 5},
      {"first fragment", bytes({0x01, 0x03, 0x48, 0x65, 0x6c}), client_rules, 2, false,
       Opcode::text, false, 3},
      {"last fragment", bytes({0x80, 0x02, 0x6c, 0x6f}), client_rules, 2, true,
       Opcode::continuation, false, 2},
      {"unmasked ping", concat(bytes({0x89, 0x05}), hello), client_rules, 2, true, Opcode::ping,
       false, 5},
      {"masked pong", concat(bytes({0x8a, 0x85}), masked_hello), server_rules, 6, true,
       Opcode::pong, true, 5},
      {"256 bytes binary", concat(bytes({0x82, 0x7E, 0x01, 0x00}), std::vector<std::byte>(256)),
       client_rules, 4, true, Opcode::binary, false, 256},
      {"64 KiB binary",
       concat(bytes({0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00}),
              std::vector<std::byte>(65536)),
       client_rules, 10, true, Opcode::binary, false, 65536},
  };
}

TEST(FrameHeader, Rfc6455ExamplesParseTheSameWayAtEverySplit) {
  for (const auto& example : rfc6455_examples()) {
    SCOPED_TRACE(example.name);
    // Splits inside a 64 KiB payload say nothing new; the header plus a few bytes is enough.
    const std::vector<std::byte> input(
        example.wire.begin(),
        example.wire.begin() + static_cast<std::ptrdiff_t>(example.header_size + 2));
    const ParseOutcome outcome = parse_every_way(input, example.rules);
    ASSERT_EQ(outcome.status, Status::done);
    EXPECT_EQ(outcome.consumed, example.header_size) << "stops at the end of the header";

    const FrameHeader header = parse_header(example.wire, example.rules);
    EXPECT_EQ(header.fin, example.fin);
    EXPECT_FALSE(header.rsv1 || header.rsv2 || header.rsv3);
    EXPECT_EQ(header.opcode, example.opcode);
    EXPECT_EQ(header.masked, example.masked);
    if (example.masked) {
      EXPECT_EQ(header.mask, rfc_key);
    }
    EXPECT_EQ(header.payload_length, example.length);
    EXPECT_EQ(example.wire.size(), example.header_size + example.length);
    // Writing the parsed header gives back the exact bytes.
    EXPECT_EQ(written(header),
              std::vector<std::byte>(
                  example.wire.begin(),
                  example.wire.begin() + static_cast<std::ptrdiff_t>(example.header_size)));
  }
}

TEST(FrameHeader, MaskedHelloUnmasksToHello) {
  auto wire = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  const FrameHeader header = parse_header(wire, server_rules);
  apply_mask(wire.data() + 6, 5, header.mask);
  EXPECT_EQ(std::vector<std::byte>(wire.begin() + 6, wire.end()), text_bytes("Hello"));
}

TEST(FrameHeader, ConsecutiveFramesInOneBufferWithReset) {
  // The fragmented "Hello" of 5.7: header, payload, header, payload.
  const auto wire = bytes({0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f});
  FrameHeaderParser parser;
  std::size_t used = 0;
  ASSERT_EQ(parser.parse(wire.data(), wire.size(), used, client_rules), Status::done);
  EXPECT_EQ(used, 2U);
  EXPECT_EQ(parser.header().payload_length, 3U);
  parser.reset();
  ASSERT_EQ(parser.parse(wire.data() + 5, wire.size() - 5, used, client_rules), Status::done);
  EXPECT_EQ(used, 2U);
  EXPECT_EQ(parser.header().opcode, Opcode::continuation);
  EXPECT_TRUE(parser.header().fin);
  EXPECT_EQ(parser.header().payload_length, 2U);
}

// --- Parser state -----------------------------------------------------------------------------

TEST(FrameHeader, EmptyInputNeedsMoreAndConsumesNothing) {
  FrameHeaderParser parser;
  std::size_t used = 99;
  EXPECT_EQ(parser.parse(nullptr, 0, used, server_rules), Status::need_more);
  EXPECT_EQ(used, 0U);
}

TEST(FrameHeader, DoneAndErrorStayUntilReset) {
  const auto ping = bytes({0x89, 0x00, 0x81, 0x00});
  FrameHeaderParser parser;
  std::size_t used = 0;
  ASSERT_EQ(parser.parse(ping.data(), ping.size(), used, client_rules), Status::done);
  EXPECT_EQ(used, 2U);
  EXPECT_EQ(parser.parse(ping.data() + 2, 2, used, client_rules), Status::done);
  EXPECT_EQ(used, 0U) << "a finished header takes no more bytes";
  EXPECT_EQ(parser.header().opcode, Opcode::ping);

  const auto reserved = bytes({0x83, 0x00});
  parser.reset();
  ASSERT_EQ(parser.parse(reserved.data(), reserved.size(), used, client_rules), Status::error);
  EXPECT_EQ(parser.parse(ping.data(), ping.size(), used, client_rules), Status::error);
  EXPECT_EQ(used, 0U);
  EXPECT_EQ(parser.error().close_code, close_code::protocol_error);

  parser.reset();
  EXPECT_FALSE(parser.error());
  EXPECT_EQ(parser.parse(ping.data(), ping.size(), used, client_rules), Status::done);
}

TEST(FrameHeader, ResetInTheMiddleOfAHeaderDropsTheBufferedBytes) {
  const auto first = bytes({0x82, 0x7E, 0x01});  // incomplete 16-bit length
  const auto next = bytes({0x81, 0x05});
  FrameHeaderParser parser;
  std::size_t used = 0;
  ASSERT_EQ(parser.parse(first.data(), first.size(), used, client_rules), Status::need_more);
  parser.reset();
  ASSERT_EQ(parser.parse(next.data(), next.size(), used, client_rules), Status::done);
  EXPECT_EQ(parser.header().opcode, Opcode::text);
  EXPECT_EQ(parser.header().payload_length, 5U);
}

// --- One test per rule: each fails if its rule is removed --------------------------------------

TEST(FrameHeaderRule, ReservedOpcodesAreRefusedAtTheFirstByte) {
  for (int opcode : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    SCOPED_TRACE(opcode);
    expect_error(bytes({0x80 | opcode, 0x00}), client_rules, close_code::protocol_error,
                 "reserved opcode", 1);
  }
  for (int opcode : {0, 1, 2, 8, 9, 0xA}) expect_done(bytes({0x80 | opcode, 0x00}), client_rules);
}

TEST(FrameHeaderRule, RsvBitsNeedANegotiatedExtension) {
  constexpr const char* reason = "reserved bit set without an extension";
  for (int rsv : {0x40, 0x20, 0x10, 0x70}) {
    SCOPED_TRACE(rsv);
    expect_error(bytes({0x81 | rsv, 0x00}), client_rules, close_code::protocol_error, reason, 1);
  }
  FrameHeaderRules deflate = client_rules;
  deflate.allowed_rsv_bits = 0x4;  // RSV1, as permessage-deflate negotiates
  expect_done(bytes({0xC1, 0x00}), deflate);
  EXPECT_TRUE(parse_header(bytes({0xC1, 0x00}), deflate).rsv1);
  expect_error(bytes({0xA1, 0x00}), deflate, close_code::protocol_error, reason, 1);
  expect_error(bytes({0x91, 0x00}), deflate, close_code::protocol_error, reason, 1);

  FrameHeaderRules all = client_rules;
  all.allowed_rsv_bits = 0x7;
  const FrameHeader header = parse_header(bytes({0xF1, 0x00}), all);
  EXPECT_TRUE(header.rsv1 && header.rsv2 && header.rsv3);
}

TEST(FrameHeaderRule, ControlFramesMustBeFinal) {
  for (int opcode : {0x8, 0x9, 0xA}) {
    SCOPED_TRACE(opcode);
    expect_error(bytes({opcode, 0x00}), client_rules, close_code::protocol_error,
                 "fragmented control frame", 1);
  }
  expect_done(bytes({0x01, 0x00}), client_rules);  // a data frame may be a fragment
}

TEST(FrameHeaderRule, ControlFramesCarryAtMost125Bytes) {
  for (int opcode : {0x88, 0x89, 0x8A}) {
    SCOPED_TRACE(opcode);
    expect_done(bytes({opcode, 0x7D}), client_rules);
    expect_error(bytes({opcode, 0x7E, 0x00, 0x7E}), client_rules, close_code::protocol_error,
                 "control frame too long", 2);
    expect_error(bytes({opcode, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0x7E}), client_rules,
                 close_code::protocol_error, "control frame too long", 2);
  }
  expect_done(bytes({0x82, 0x7E, 0x00, 0x7E}), client_rules);  // data frames may be longer
}

TEST(FrameHeaderRule, ServerRefusesUnmaskedFrames) {
  expect_error(bytes({0x81, 0x05}), server_rules, close_code::protocol_error,
               "unmasked frame from client", 2);
  expect_error(bytes({0x89, 0x00}), server_rules, close_code::protocol_error,
               "unmasked frame from client", 2);
  expect_done(bytes({0x81, 0x85, 1, 2, 3, 4}), server_rules);
}

TEST(FrameHeaderRule, ClientRefusesMaskedFrames) {
  expect_error(bytes({0x81, 0x85, 1, 2, 3, 4}), client_rules, close_code::protocol_error,
               "masked frame from server", 2);
  expect_error(bytes({0x8A, 0x80, 1, 2, 3, 4}), client_rules, close_code::protocol_error,
               "masked frame from server", 2);
  expect_done(bytes({0x81, 0x05}), client_rules);
}

TEST(FrameHeaderRule, SixtyFourBitLengthWithTheTopBitSetIsAProtocolError) {
  // The limit is UINT64_MAX, so only the top-bit rule can refuse these.
  expect_error(bytes({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}), server_rules,
               close_code::protocol_error, "payload length with the top bit set", 10);
  expect_error(bytes({0x82, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}), client_rules,
               close_code::protocol_error, "payload length with the top bit set", 10);
  const auto largest = bytes({0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF});
  expect_done(largest, client_rules);
  EXPECT_EQ(parse_header(largest, client_rules).payload_length, 0x7FFF'FFFF'FFFF'FFFFU);
}

TEST(FrameHeaderRule, FourGiBDeclaredLengthIsRefusedWith1009BeforeTheMaskKey) {
  FrameHeaderRules rules = server_rules;
  rules.max_payload_length = 16U << 20;
  // Only the ten length bytes: the mask key has not arrived and no payload ever will.
  const auto four_gib = bytes({0x82, 0xFF, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00});
  expect_error(four_gib, rules, close_code::message_too_big, "frame too big", 10);
}

TEST(FrameHeaderRule, DeclaredLengthOverTheLimitIsRefusedInEveryEncoding) {
  FrameHeaderRules rules = client_rules;
  rules.max_payload_length = 5;
  expect_done(bytes({0x81, 0x05}), rules);
  expect_error(bytes({0x81, 0x06}), rules, close_code::message_too_big, "frame too big", 2);
  expect_error(bytes({0x89, 0x06}), rules, close_code::message_too_big, "frame too big", 2);

  rules.max_payload_length = 65535;
  expect_done(bytes({0x82, 0x7E, 0xFF, 0xFF}), rules);
  expect_error(bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}), rules, close_code::message_too_big,
               "frame too big", 10);

  rules.max_payload_length = 200;
  expect_error(bytes({0x82, 0x7E, 0x00, 0xC9}), rules, close_code::message_too_big, "frame too big",
               4);
}

TEST(FrameHeaderRule, ErrorsAreReportedInWireOrder) {
  // Reserved opcode and unmasked in a server: the first byte decides.
  expect_error(bytes({0x83, 0x05}), server_rules, close_code::protocol_error, "reserved opcode", 1);
  // Masked in a client and too long for a control frame: the mask bit is checked first.
  expect_error(bytes({0x89, 0xFE, 0, 0}), client_rules, close_code::protocol_error,
               "masked frame from server", 2);
}

// --- Length encoding boundaries (RFC 6455 5.2) ----------------------------------------------

TEST(FrameHeader, LengthEncodingBoundaries) {
  struct Case {
    std::uint64_t length;
    std::vector<std::byte> header;
  };
  const std::vector<Case> cases = {
      {0, bytes({0x82, 0x00})},
      {125, bytes({0x82, 0x7D})},
      {126, bytes({0x82, 0x7E, 0x00, 0x7E})},
      {65535, bytes({0x82, 0x7E, 0xFF, 0xFF})},
      {65536, bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00})},
      {0x0123'4567'89AB'CDEF, bytes({0x82, 0x7F, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF})},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.length);
    FrameHeader header;
    header.fin = true;
    header.opcode = Opcode::binary;
    header.payload_length = c.length;
    EXPECT_EQ(written(header), c.header);
    const ParseOutcome outcome = parse_every_way(c.header, client_rules);
    ASSERT_EQ(outcome.status, Status::done);
    EXPECT_EQ(outcome.header, describe(header));

    // The same with a mask key, as a server receives it.
    header.masked = true;
    header.mask = rfc_key;
    auto masked = c.header;
    masked[1] |= std::byte{0x80};
    masked.insert(masked.end(), rfc_key.begin(), rfc_key.end());
    EXPECT_EQ(written(header), masked);
    EXPECT_EQ(parse_every_way(masked, server_rules).header, describe(header));
  }
}

TEST(FrameHeader, WriteEncodesEveryHeaderBit) {
  FrameHeader header;
  header.fin = false;
  header.rsv1 = true;
  header.rsv3 = true;
  header.opcode = static_cast<Opcode>(0xB);  // reserved values can be crafted
  EXPECT_EQ(written(header), bytes({0x5B, 0x00}));
  header.fin = true;
  header.rsv1 = false;
  header.rsv2 = true;
  header.rsv3 = false;
  header.opcode = Opcode::pong;
  EXPECT_EQ(written(header), bytes({0xAA, 0x00}));
}

}  // namespace
}  // namespace fastws::protocol
