// fastws::Frame: factories and serialize() as exact bytes (RFC 6455 section 5.7 examples), close
// payload accessors, and a round trip of random frames through serialize -> parse -> unmask.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "fastws/frame.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/mask.hpp"
#include "unit/frame_parse_support.hpp"

namespace fastws {
namespace {

using protocol::testing::bytes;
using protocol::testing::concat;
using protocol::testing::text_bytes;

constexpr MaskKey rfc_key{std::byte{0x37}, std::byte{0xfa}, std::byte{0x21}, std::byte{0x3d}};

TEST(Frame, TextSerializesLikeRfc6455Examples) {
  EXPECT_EQ(Frame::text("Hello").serialize(), bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  Frame masked = Frame::text("Hello");
  masked.mask = rfc_key;
  EXPECT_EQ(masked.serialize(),
            bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
  EXPECT_EQ(masked.payload, text_bytes("Hello")) << "the stored payload stays unmasked";
}

TEST(Frame, FragmentsSerializeLikeRfc6455Example) {
  const Frame first = Frame::text("Hel", false);
  EXPECT_FALSE(first.fin);
  EXPECT_EQ(first.serialize(), bytes({0x01, 0x03, 0x48, 0x65, 0x6c}));
  const Frame last = Frame::continuation(text_bytes("lo"), true);
  EXPECT_EQ(last.opcode, Opcode::continuation);
  EXPECT_EQ(last.serialize(), bytes({0x80, 0x02, 0x6c, 0x6f}));
  EXPECT_EQ(Frame::continuation({}, false).serialize(), bytes({0x00, 0x00}));
}

TEST(Frame, PingAndPongSerializeLikeRfc6455Examples) {
  EXPECT_EQ(Frame::ping(text_bytes("Hello")).serialize(),
            bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  Frame pong = Frame::pong(text_bytes("Hello"));
  pong.mask = rfc_key;
  EXPECT_EQ(pong.serialize(),
            bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
  EXPECT_EQ(Frame::ping().serialize(), bytes({0x89, 0x00}));
  EXPECT_EQ(Frame::pong().serialize(), bytes({0x8a, 0x00}));
}

TEST(Frame, OversizedPingIsCraftedAsAsked) {
  // A low-level API for testing peers: 200 bytes are kept, with a 16-bit length on the wire.
  const std::vector<std::byte> payload(200, std::byte{0x55});
  const Frame ping = Frame::ping(payload);
  EXPECT_EQ(ping.payload.size(), 200U);
  EXPECT_EQ(ping.serialize(), concat(bytes({0x89, 0x7E, 0x00, 0xC8}), payload));
  EXPECT_EQ(Frame::pong(payload).payload.size(), 200U);
}

TEST(Frame, BinarySerializesLikeRfc6455Examples) {
  std::vector<std::byte> payload(256);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::byte>(i);
  EXPECT_EQ(Frame::binary(payload).serialize(), concat(bytes({0x82, 0x7E, 0x01, 0x00}), payload));

  const std::vector<std::byte> big(65536, std::byte{0x42});
  EXPECT_EQ(Frame::binary(big).serialize(),
            concat(bytes({0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00}), big));
}

TEST(Frame, CloseCarriesCodeAndReason) {
  const Frame close = Frame::close(1000, "bye");
  EXPECT_EQ(close.serialize(), bytes({0x88, 0x05, 0x03, 0xe8, 0x62, 0x79, 0x65}));
  EXPECT_EQ(close.close_code(), 1000);
  EXPECT_EQ(close.close_reason(), "bye");

  const Frame code_only = Frame::close(4000);
  EXPECT_EQ(code_only.serialize(), bytes({0x88, 0x02, 0x0f, 0xa0}));
  EXPECT_EQ(code_only.close_code(), 4000);
  EXPECT_EQ(code_only.close_reason(), "");
}

TEST(Frame, CloseReasonIsCutToFitAControlFrame) {
  const Frame close = Frame::close(1001, std::string(300, 'x'));
  EXPECT_EQ(close.payload.size(), protocol::max_control_payload);
  EXPECT_EQ(close.close_reason(), std::string(123, 'x'));
}

TEST(Frame, CloseEmptyHasNoPayload) {
  const Frame close = Frame::close_empty();
  EXPECT_EQ(close.serialize(), bytes({0x88, 0x00}));
  EXPECT_EQ(close.close_code(), std::nullopt);
  EXPECT_EQ(close.close_reason(), "");
}

TEST(Frame, CloseAccessorsReadCraftedPayloadsAsSent) {
  Frame crafted = Frame::close_empty();
  crafted.payload = bytes({0x03, 0xED, 'o', 'k'});  // 1005 must never be sent; shown anyway
  EXPECT_EQ(crafted.close_code(), 1005);
  EXPECT_EQ(crafted.close_reason(), "ok");
  crafted.payload = bytes({0x03});  // one byte: no code
  EXPECT_EQ(crafted.close_code(), std::nullopt);
  EXPECT_EQ(crafted.close_reason(), "");
}

TEST(Frame, CloseAccessorsIgnoreOtherOpcodes) {
  const Frame text = Frame::text("\x03\xe8 looks like a close payload");
  EXPECT_EQ(text.close_code(), std::nullopt);
  EXPECT_EQ(text.close_reason(), "");
}

TEST(Frame, SerializeWritesRsvBitsAndReservedOpcodes) {
  Frame frame;
  frame.fin = false;
  frame.rsv1 = true;
  frame.rsv2 = true;
  frame.rsv3 = true;
  frame.opcode = static_cast<Opcode>(0x3);
  frame.payload = bytes({0xAB});
  EXPECT_EQ(frame.serialize(), bytes({0x73, 0x01, 0xAB}));
}

// serialize -> parse header (in two pieces) -> unmask payload gives the frame back.
TEST(Frame, RandomFramesRoundTripThroughTheParser) {
  std::mt19937_64 rng(20240601);
  const std::vector<std::size_t> boundaries = {0,     1,     125,   126,   127,
                                               65535, 65536, 65537, 70000, 100000};
  const Opcode data_opcodes[] = {Opcode::continuation, Opcode::text, Opcode::binary};
  const Opcode control_opcodes[] = {Opcode::close, Opcode::ping, Opcode::pong};
  for (int i = 0; i < 2000; ++i) {
    Frame frame;
    const bool control = rng() % 4 == 0;
    frame.opcode = control ? control_opcodes[rng() % 3] : data_opcodes[rng() % 3];
    frame.fin = control || rng() % 2 == 0;  // control frames are never fragmented (5.5)
    frame.rsv1 = rng() % 2 == 0;
    frame.rsv2 = rng() % 2 == 0;
    frame.rsv3 = rng() % 2 == 0;
    std::size_t length;
    if (control) {
      length = rng() % 4 == 0 ? 125 : rng() % 126;
    } else if (rng() % 3 == 0) {
      length = boundaries[rng() % boundaries.size()];
    } else {
      length = rng() % 300;
    }
    frame.payload.resize(length);
    for (auto& b : frame.payload) b = static_cast<std::byte>(rng());
    if (rng() % 2 == 0) {
      MaskKey key;
      for (auto& b : key) b = static_cast<std::byte>(rng());
      frame.mask = key;
    }

    const std::vector<std::byte> wire = frame.serialize();
    const protocol::FrameHeaderRules rules{
        frame.mask ? protocol::Role::server : protocol::Role::client, 0x7, UINT64_MAX};
    protocol::FrameHeaderParser parser;
    const std::size_t split = rng() % 15;
    std::size_t header_size = 0;
    std::size_t used = 0;
    auto status = parser.parse(wire.data(), std::min(split, wire.size()), used, rules);
    header_size += used;
    if (status == protocol::FrameHeaderParser::Status::need_more) {
      status = parser.parse(wire.data() + used, wire.size() - used, used, rules);
      header_size += used;
    }
    ASSERT_EQ(status, protocol::FrameHeaderParser::Status::done) << "frame " << i;
    const protocol::FrameHeader& header = parser.header();
    ASSERT_EQ(header_size, protocol::frame_header_size(length, frame.mask.has_value()));
    ASSERT_EQ(header_size + length, wire.size());
    EXPECT_EQ(header.fin, frame.fin);
    EXPECT_EQ(header.rsv1, frame.rsv1);
    EXPECT_EQ(header.rsv2, frame.rsv2);
    EXPECT_EQ(header.rsv3, frame.rsv3);
    EXPECT_EQ(header.opcode, frame.opcode);
    EXPECT_EQ(header.masked, frame.mask.has_value());
    if (frame.mask) {
      EXPECT_EQ(header.mask, *frame.mask);
    }
    ASSERT_EQ(header.payload_length, length);

    std::vector<std::byte> payload(wire.begin() + static_cast<std::ptrdiff_t>(header_size),
                                   wire.end());
    if (header.masked) {
      // On the wire: byte j XOR key[j % 4] (RFC 6455 5.3).
      for (std::size_t j = 0; j < length; ++j) {
        ASSERT_EQ(payload[j], frame.payload[j] ^ header.mask[j % 4]) << "frame " << i;
      }
      protocol::apply_mask(payload.data(), payload.size(), header.mask);
    }
    ASSERT_EQ(payload, frame.payload) << "frame " << i;
  }
}

}  // namespace
}  // namespace fastws
