// Close frame payloads (RFC 6455 sections 5.5.1, 7.4): which codes may be on the wire, how a
// payload is parsed and refused, and how one is written.
#include "protocol/close_payload.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace fastws::protocol {
namespace {

using Bytes = std::vector<std::byte>;
using Codes = std::initializer_list<std::uint16_t>;

Bytes payload(std::uint16_t code, std::string_view reason) {
  Bytes out = {static_cast<std::byte>(code >> 8), static_cast<std::byte>(code & 0xFF)};
  for (char c : reason) out.push_back(static_cast<std::byte>(c));
  return out;
}

ClosePayload parse(const Bytes& bytes) {
  return parse_close_payload(bytes.data(), bytes.size());
}

// RFC 6455 section 7.4.1 (1000-1003, 1007-1011) and the IANA registry (1012-1014); 7.4.2:
// 3000-3999 registered, 4000-4999 private use.
bool allowed_by_the_rfc(unsigned code) {
  const bool defined = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
  return defined || (code >= 3000 && code <= 4999);
}

TEST(CloseCode, EveryCodeClassifiedAsTheRfcSays) {
  for (unsigned code = 0; code <= 0xFFFF; ++code) {
    ASSERT_EQ(is_valid_wire_close_code(static_cast<std::uint16_t>(code)), allowed_by_the_rfc(code))
        << code;
  }
}

TEST(CloseCode, NamedValues) {
  for (std::uint16_t code : Codes{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013,
                                  1014, 3000, 3999, 4000, 4999}) {
    EXPECT_TRUE(is_valid_wire_close_code(code)) << code;
  }
  // 1004 reserved; 1005 (no status), 1006 (abnormal) and 1015 (TLS failure) are only reported
  // locally; the rest is unassigned.
  for (std::uint16_t code :
       Codes{0, 1, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535}) {
    EXPECT_FALSE(is_valid_wire_close_code(code)) << code;
  }
}

TEST(ParseClosePayload, EmptyMeansNoStatus) {
  const ClosePayload close = parse_close_payload(nullptr, 0);
  EXPECT_FALSE(close.error);
  EXPECT_EQ(close.code, 1005);
  EXPECT_EQ(close.reason, "");
}

TEST(ParseClosePayload, CodeOnly) {
  const ClosePayload close = parse({std::byte{0x03}, std::byte{0xE8}});
  EXPECT_FALSE(close.error);
  EXPECT_EQ(close.code, 1000);
  EXPECT_EQ(close.reason, "");
}

TEST(ParseClosePayload, CodeIsBigEndianAndReasonFollows) {
  const Bytes bytes = {std::byte{0x0F}, std::byte{0xA0}, std::byte{'b'}, std::byte{'y'},
                       std::byte{'e'}};
  const ClosePayload close = parse(bytes);
  EXPECT_FALSE(close.error);
  EXPECT_EQ(close.code, 4000);
  EXPECT_EQ(close.reason, "bye");
  // The reason is a view into the payload, not a copy.
  EXPECT_EQ(static_cast<const void*>(close.reason.data()), static_cast<const void*>(&bytes[2]));
}

TEST(ParseClosePayload, OneByteIsAProtocolError) {
  const ClosePayload close = parse({std::byte{0x03}});
  EXPECT_EQ(close.error.close_code, 1002);
  EXPECT_STREQ(close.error.reason, "close payload of 1 byte");
}

TEST(ParseClosePayload, CodeNotAllowedOnTheWireIsAProtocolError) {
  for (std::uint16_t code : Codes{0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
    SCOPED_TRACE(code);
    const Bytes bytes = payload(code, "reason");  // the parsed reason points into it
    const ClosePayload close = parse(bytes);
    EXPECT_EQ(close.error.close_code, 1002);
    EXPECT_STREQ(close.error.reason, "invalid close code");
    EXPECT_EQ(close.code, code);  // what the peer sent, for diagnostics
    EXPECT_EQ(close.reason, "");
  }
}

TEST(ParseClosePayload, ValidUtf8Reasons) {
  for (std::string_view reason : {"", "going away", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",
                                  "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf"}) {
    SCOPED_TRACE(reason);
    const Bytes bytes = payload(1001, reason);  // the parsed reason points into it
    const ClosePayload close = parse(bytes);
    EXPECT_FALSE(close.error);
    EXPECT_EQ(close.code, 1001);
    EXPECT_EQ(close.reason, reason);
  }
}

TEST(ParseClosePayload, ReasonNotUtf8IsInvalidData) {
  // A bad byte, a surrogate, an overlong form, and a reason cut inside a code point.
  for (std::string_view reason : {"\xff", "ok\xed\xa0\x80", "\xc0\xaf", "bye \xe2\x82"}) {
    SCOPED_TRACE(reason);
    const Bytes bytes = payload(1000, reason);  // the parsed reason points into it
    const ClosePayload close = parse(bytes);
    EXPECT_EQ(close.error.close_code, 1007);
    EXPECT_STREQ(close.error.reason, "close reason is not UTF-8");
    EXPECT_EQ(close.reason, "");
  }
}

TEST(WriteClosePayload, ExactBytes) {
  std::array<std::byte, 125> out{};
  ASSERT_EQ(write_close_payload(out.data(), 1001, "bye"), 5u);
  const Bytes expected = {std::byte{0x03}, std::byte{0xE9}, std::byte{'b'}, std::byte{'y'},
                          std::byte{'e'}};
  EXPECT_EQ(Bytes(out.begin(), out.begin() + 5), expected);
  ASSERT_EQ(write_close_payload(out.data(), 4999, ""), 2u);
  EXPECT_EQ(Bytes(out.begin(), out.begin() + 2), (Bytes{std::byte{0x13}, std::byte{0x87}}));
}

std::string written_reason(std::uint16_t code, std::string_view reason) {
  std::array<std::byte, 125> out{};
  const std::size_t size = write_close_payload(out.data(), code, reason);
  return std::string(reinterpret_cast<const char*>(out.data()) + 2, size - 2);
}

TEST(WriteClosePayload, ReasonOf123BytesIsKeptWhole) {
  const std::string reason(123, 'r');
  EXPECT_EQ(written_reason(1000, reason), reason);
  EXPECT_EQ(written_reason(1000, reason + "s"), reason);  // 124 bytes: one too many
}

TEST(WriteClosePayload, LongReasonIsCutAtACodePointBoundary) {
  // 41 three-byte code points: 123 bytes fit exactly.
  std::string ideographs;
  for (int i = 0; i < 41; ++i) ideographs += "\xe4\xb8\xad";
  EXPECT_EQ(written_reason(1000, ideographs), ideographs);
  // One more ASCII byte in front: the 41st code point would end at byte 124, so it is dropped.
  std::string prefixed = "x";
  prefixed += ideographs;
  EXPECT_EQ(written_reason(1000, prefixed), prefixed.substr(0, 121));
  // 4-byte code points after 121 ASCII bytes: none fits in the 2 bytes left.
  EXPECT_EQ(written_reason(1000, std::string(121, 'a') + "\xf0\x9f\x98\x80"),
            std::string(121, 'a'));
  // Exactly at the limit, the 4-byte code point ending at byte 123 is kept.
  EXPECT_EQ(written_reason(1000, std::string(119, 'a') + "\xf0\x9f\x98\x80" + "tail"),
            std::string(119, 'a') + "\xf0\x9f\x98\x80");
}

TEST(WriteClosePayload, ReasonThatIsNotUtf8IsCutBeforeTheFirstBadCodePoint) {
  // The peer would fail the connection with 1007 on such a reason (RFC 6455 section 8.1).
  EXPECT_EQ(written_reason(1000,
                           "abc\xff"
                           "def"),
            "abc");
  EXPECT_EQ(written_reason(1000, "ab\xed\xa0\x80"), "ab");
  EXPECT_EQ(written_reason(1000, "ab\xe2\x82"), "ab");  // ends inside a code point
}

TEST(ClosePayload, WriteThenParseRoundTrips) {
  // "x" and 11 words of 11 bytes make 122 bytes; the next code point (2 bytes) would not fit.
  std::string long_greek = "x";
  for (int i = 0; i < 30; ++i) long_greek += "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";
  for (std::uint16_t code : Codes{1000, 1003, 1007, 1014, 3000, 4999}) {
    for (std::string_view reason :
         {std::string_view(""), std::string_view("normal closure"), std::string_view(long_greek)}) {
      std::array<std::byte, 125> out{};
      const std::size_t size = write_close_payload(out.data(), code, reason);
      ASSERT_LE(size, 125u);
      const ClosePayload close = parse_close_payload(out.data(), size);
      EXPECT_FALSE(close.error) << code;
      EXPECT_EQ(close.code, code);
      EXPECT_EQ(close.reason, reason.substr(0, close.reason.size()));
      EXPECT_EQ(close.reason.size(), reason.size() <= 123 ? reason.size() : 122u);
    }
  }
}

}  // namespace
}  // namespace fastws::protocol
