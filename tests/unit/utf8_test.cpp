// UTF-8 validation (RFC 3629 section 4) and its fail-fast rule (RFC 6455 section 8.1): samples fed
// whole, at every split point and byte by byte; the exact byte at which validation fails; and a
// randomized comparison with a reference built from the definition (a concatenation of encoded
// Unicode scalar values).
#include "protocol/utf8.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace fastws::protocol {
namespace {

using Bytes = std::vector<std::byte>;

Bytes to_bytes(std::string_view text) {
  Bytes out;
  for (char c : text) out.push_back(static_cast<std::byte>(c));
  return out;
}

std::string to_hex(const Bytes& bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::byte b : bytes) {
    const auto value = std::to_integer<unsigned>(b);
    out += digits[value >> 4];
    out += digits[value & 0xF];
    out += ' ';
  }
  return out;
}

// Feeds `bytes` one at a time; returns the index of the byte at which feed first returned false.
std::optional<std::size_t> failing_byte(const Bytes& bytes) {
  Utf8Validator validator;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (!validator.feed(&bytes[i], 1)) return i;
  }
  return std::nullopt;
}

// Checks feeding `bytes` in the pieces that end at `cuts` (then the rest): each piece must pass
// exactly when it does not contain `fails_at`, and the end must be a boundary only when `valid`.
void expect_pieces(const Bytes& bytes, const std::vector<std::size_t>& cuts,
                   std::optional<std::size_t> fails_at, bool valid) {
  Utf8Validator validator;
  std::size_t begin = 0;
  auto feed_until = [&](std::size_t end) {
    const bool expected = !fails_at || *fails_at >= end;
    EXPECT_EQ(validator.feed(bytes.data() + begin, end - begin), expected)
        << "piece [" << begin << ", " << end << ")";
    begin = end;
  };
  for (std::size_t cut : cuts) feed_until(cut);
  feed_until(bytes.size());
  EXPECT_EQ(validator.at_boundary(), valid);
}

// Whole, at every single split point, and one byte at a time.
void expect_every_split(const Bytes& bytes, std::optional<std::size_t> fails_at, bool valid) {
  SCOPED_TRACE(to_hex(bytes));
  EXPECT_EQ(is_valid_utf8(bytes.data(), bytes.size()), valid);
  expect_pieces(bytes, {}, fails_at, valid);
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut)
    expect_pieces(bytes, {cut}, fails_at, valid);
  std::vector<std::size_t> every_byte(bytes.size());
  for (std::size_t i = 0; i < bytes.size(); ++i) every_byte[i] = i;
  expect_pieces(bytes, every_byte, fails_at, valid);
  EXPECT_EQ(failing_byte(bytes), fails_at);
}

const std::vector<std::string> valid_samples = {
    "",
    "Hello, world",
    std::string("\x00\x7f", 2),                      // U+0000, U+007F
    "\xc2\x80",                                      // U+0080, smallest 2-byte form
    "\xdf\xbf",                                      // U+07FF
    "\xe0\xa0\x80",                                  // U+0800, smallest 3-byte form
    "\xed\x9f\xbf",                                  // U+D7FF, just below the surrogates
    "\xee\x80\x80",                                  // U+E000, just above them
    "\xef\xbf\xbf",                                  // U+FFFF
    "\xf0\x90\x80\x80",                              // U+10000, smallest 4-byte form
    "\xf4\x8f\xbf\xbf",                              // U+10FFFF, the largest code point
    "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",  // "κόσμε" (Autobahn case 6.2)
    "\xf0\x9f\x98\x80 \xe4\xb8\xad\xe6\x96\x87 \xce\xb1\xce\xb2",  // emoji, CJK, Greek
    // A long ASCII run with multi-byte text on both sides, across the 16- and 64-byte blocks.
    "\xe2\x82\xac" + std::string(70, 'a') + "\xf0\x9f\x98\x80" + std::string(40, 'b') + "\xc3\xa9",
};

TEST(Utf8Validator, ValidSamplesPassWholeSplitAndByteByByte) {
  for (const std::string& sample : valid_samples) {
    expect_every_split(to_bytes(sample), std::nullopt, true);
  }
}

struct InvalidCase {
  const char* what;
  std::string text;
  std::optional<std::size_t> fails_at;  // nullopt: every byte is fine, but the text ends mid-way
};

std::vector<InvalidCase> invalid_cases() {
  std::vector<InvalidCase> cases = {
      {"overlong 2-byte NUL", "\xc0\x80", 0},
      {"overlong 2-byte C1", "\xc1\xbf", 0},
      {"overlong 3-byte NUL", "\xe0\x80\x80", 1},
      {"overlong 3-byte U+07FF", "\xe0\x9f\xbf", 1},
      {"overlong 4-byte NUL", "\xf0\x80\x80\x80", 1},
      {"overlong 4-byte U+FFFF", "\xf0\x8f\xbf\xbf", 1},
      {"surrogate U+D800", "\xed\xa0\x80", 1},
      {"surrogate U+DFFF", "\xed\xbf\xbf", 1},
      {"surrogate pair", "\xed\xa0\x80\xed\xb0\x80", 1},
      {"above U+10FFFF", "\xf4\x90\x80\x80", 1},
      {"lone continuation 80", "\x80", 0},
      {"lone continuation BF", "\xbf", 0},
      {"continuation after a complete 2-byte", "\xc3\xa9\x80", 2},
      {"ASCII instead of continuation", "\xc2\x41", 1},
      {"lead instead of continuation", "a\xc2\xc2\x80", 2},
      {"third byte not a continuation", "\xe1\x80\x41", 2},
      {"fourth byte not a continuation", "\xf0\x90\x80\xc0", 3},
      {"five-byte form", "\xf8\x88\x80\x80\x80", 0},
      {"invalid after valid Greek", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80", 12},
      {"invalid after a long ASCII run", std::string(100, 'x') + "\xff", 100},
      {"truncated 2-byte", "\xc2", std::nullopt},
      {"truncated 3-byte", "\xe2\x82", std::nullopt},
      {"truncated 4-byte", "ok \xf0\x9f\x98", std::nullopt},
      {"truncated after a long ASCII run", std::string(90, 'y') + "\xf4\x8f", std::nullopt},
  };
  // F5..FF could only start sequences above U+10FFFF or longer than 4 bytes (RFC 3629 section 3).
  for (unsigned lead = 0xF5; lead <= 0xFF; ++lead) {
    cases.push_back({"byte F5..FF", std::string(1, static_cast<char>(lead)) + "\x80\x80\x80", 0});
  }
  return cases;
}

TEST(Utf8Validator, InvalidSamplesFailAtTheFirstInvalidByte) {
  for (const InvalidCase& c : invalid_cases()) {
    SCOPED_TRACE(c.what);
    expect_every_split(to_bytes(c.text), c.fails_at, false);
  }
}

TEST(Utf8Validator, FailureIsStickyUntilReset) {
  Utf8Validator validator;
  const Bytes bad = to_bytes("\xc0");
  const Bytes good = to_bytes("plain ASCII that would pass on its own, longer than 16 bytes");
  EXPECT_FALSE(validator.feed(bad));
  EXPECT_FALSE(validator.feed(good));
  EXPECT_FALSE(validator.feed(Bytes{}));
  EXPECT_FALSE(validator.at_boundary());
  validator.reset();
  EXPECT_TRUE(validator.at_boundary());
  EXPECT_TRUE(validator.feed(good));
  EXPECT_TRUE(validator.at_boundary());
}

TEST(Utf8Validator, AtBoundaryOnlyBetweenCodePoints) {
  Utf8Validator validator;
  EXPECT_TRUE(validator.at_boundary());
  const Bytes euro_sign = to_bytes("\xe2\x82\xac");
  EXPECT_TRUE(validator.feed(&euro_sign[0], 1));
  EXPECT_FALSE(validator.at_boundary());
  EXPECT_TRUE(validator.feed(&euro_sign[1], 1));
  EXPECT_FALSE(validator.at_boundary());
  EXPECT_TRUE(validator.feed(Bytes{}));
  EXPECT_FALSE(validator.at_boundary());
  EXPECT_TRUE(validator.feed(&euro_sign[2], 1));
  EXPECT_TRUE(validator.at_boundary());
  // reset() also drops a pending sequence: the continuation that would finish it is now lone.
  EXPECT_TRUE(validator.feed(&euro_sign[0], 2));
  validator.reset();
  EXPECT_TRUE(validator.at_boundary());
  EXPECT_FALSE(validator.feed(&euro_sign[2], 1));
}

// The fast path skips ASCII a block at a time: a non-ASCII byte must be found wherever it sits
// relative to the blocks, and a sequence split across a block edge must still be checked.
TEST(Utf8Validator, NonAsciiAtEveryOffsetOfALongBuffer) {
  for (std::size_t at = 0; at < 200; ++at) {
    SCOPED_TRACE(at);
    Bytes text = to_bytes(std::string(200, 'a'));
    text[at] = std::byte{0xFF};
    EXPECT_EQ(failing_byte(text), at);
    EXPECT_FALSE(is_valid_utf8(text.data(), text.size()));

    Bytes with_euro = to_bytes(std::string(at, 'a') + "\xe2\x82\xac" + std::string(60, 'a'));
    EXPECT_TRUE(is_valid_utf8(with_euro.data(), with_euro.size()));
    with_euro[at + 1] = std::byte{'a'};  // the continuation replaced by ASCII
    Utf8Validator validator;
    EXPECT_FALSE(validator.feed(with_euro));
    EXPECT_EQ(failing_byte(with_euro), at + 1);
  }
}

// Long multi-byte runs are checked in pieces, each as two interleaved halves: whatever the offset
// of a code point relative to those pieces, valid text must pass and a damaged one must fail.
// The pieces start at the first non-ASCII byte, so 0 to 3 three-byte code points in front shift
// the longer ones by every amount modulo 4.
TEST(Utf8Validator, MultiByteTextAtEveryOffset) {
  for (std::string_view code_point : {"\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80"}) {
    std::string run;
    for (int i = 0; i < 60; ++i) run += code_point;
    for (std::size_t offset = 0; offset < 140; ++offset) {
      std::string shift;
      for (std::size_t i = 0; i < offset % 4; ++i) shift += "\xe4\xb8\xad";
      SCOPED_TRACE(std::to_string(code_point.size()) + "-byte code points after " +
                   std::to_string(offset) + " ASCII bytes");
      Bytes text = to_bytes(std::string(offset, 'a') + shift + run);
      Utf8Validator validator;
      EXPECT_TRUE(validator.feed(text));
      EXPECT_TRUE(validator.at_boundary());
      // Damage the last continuation byte of the 30th code point of the run.
      const std::size_t damaged = offset + shift.size() + 30 * code_point.size() - 1;
      text[damaged] = std::byte{'a'};
      validator.reset();
      EXPECT_FALSE(validator.feed(text));
      EXPECT_EQ(failing_byte(text), damaged);
    }
  }
}

// The reference: a byte string is valid UTF-8 when it is a concatenation of encodings of Unicode
// scalar values (U+0000..U+10FFFF without the surrogates), and the first invalid byte is the first
// one after which the pending bytes are no longer a prefix of any such encoding. Encoding is simple
// enough to trust, so the table of all encodings and their prefixes is built from it.
class Reference {
 public:
  Reference() {
    for (std::uint32_t code_point = 0; code_point <= 0x10FFFF; ++code_point) {
      if (code_point >= 0xD800 && code_point <= 0xDFFF) continue;
      const Bytes encoded = encode(code_point);
      complete_.push_back(key(encoded));
      for (std::size_t length = 1; length < encoded.size(); ++length) {
        incomplete_.push_back(
            key(Bytes(encoded.begin(), encoded.begin() + static_cast<std::ptrdiff_t>(length))));
      }
    }
    std::sort(complete_.begin(), complete_.end());
    std::sort(incomplete_.begin(), incomplete_.end());
    incomplete_.erase(std::unique(incomplete_.begin(), incomplete_.end()), incomplete_.end());
  }

  static Bytes encode(std::uint32_t code_point) {
    auto byte = [](std::uint32_t value) { return static_cast<std::byte>(value); };
    auto continuation = [&](unsigned shift) { return byte(0x80 | ((code_point >> shift) & 0x3F)); };
    if (code_point < 0x80) return {byte(code_point)};
    if (code_point < 0x800) return {byte(0xC0 | (code_point >> 6)), continuation(0)};
    if (code_point < 0x10000) {
      return {byte(0xE0 | (code_point >> 12)), continuation(6), continuation(0)};
    }
    return {byte(0xF0 | (code_point >> 18)), continuation(12), continuation(6), continuation(0)};
  }

  struct Verdict {
    std::optional<std::size_t> fails_at;
    bool valid = false;
  };

  Verdict check(const Bytes& bytes) const {
    Bytes pending;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      pending.push_back(bytes[i]);
      const std::uint64_t k = key(pending);
      if (std::binary_search(complete_.begin(), complete_.end(), k)) {
        pending.clear();
      } else if (!std::binary_search(incomplete_.begin(), incomplete_.end(), k)) {
        return {i, false};
      }
    }
    return {std::nullopt, pending.empty()};
  }

 private:
  // At most 4 bytes, so the bytes and the length fit one integer.
  static std::uint64_t key(const Bytes& bytes) {
    std::uint64_t packed = bytes.size();
    for (std::byte b : bytes) packed = (packed << 8) | std::to_integer<std::uint64_t>(b);
    return packed;
  }

  std::vector<std::uint64_t> complete_;
  std::vector<std::uint64_t> incomplete_;
};

const Reference& reference() {
  static const Reference instance;
  return instance;
}

TEST(Utf8Validator, EveryScalarValueIsValidAndEverySurrogateIsNot) {
  for (std::uint32_t code_point = 0; code_point <= 0x10FFFF; ++code_point) {
    const Bytes encoded = Reference::encode(code_point);
    const bool surrogate = code_point >= 0xD800 && code_point <= 0xDFFF;
    ASSERT_EQ(is_valid_utf8(encoded.data(), encoded.size()), !surrogate) << code_point;
    if (surrogate) {
      ASSERT_EQ(failing_byte(encoded), 1u) << code_point;
    }
  }
}

TEST(Utf8Validator, EveryTwoByteStringAgreesWithTheReference) {
  for (unsigned first = 0; first < 256; ++first) {
    for (unsigned second = 0; second < 256; ++second) {
      const Bytes text = {static_cast<std::byte>(first), static_cast<std::byte>(second)};
      const Reference::Verdict expected = reference().check(text);
      ASSERT_EQ(failing_byte(text), expected.fails_at) << to_hex(text);
      ASSERT_EQ(is_valid_utf8(text.data(), text.size()), expected.valid) << to_hex(text);
    }
  }
}

// Random text that is mostly valid, with ASCII runs long enough for the fast path, boundary code
// points, bytes that are often near an error, and some random damage.
class TextGenerator {
 public:
  explicit TextGenerator(std::uint32_t seed) : random_(seed) {}

  Bytes next() {
    Bytes text;
    const std::size_t pieces = pick(0, 24);
    const bool damaged = pick(0, 2) != 0;  // a third of the strings stay valid by construction
    for (std::size_t i = 0; i < pieces; ++i) append_piece(text, damaged);
    if (damaged && !text.empty() && pick(0, 3) == 0) text.resize(pick(0, text.size() - 1));
    return text;
  }

  std::size_t pick(std::size_t low, std::size_t high) {
    return std::uniform_int_distribution<std::size_t>(low, high)(random_);
  }

 private:
  void append_piece(Bytes& text, bool damaged) {
    static constexpr std::uint32_t edges[] = {0x0,    0x7F,   0x80,   0x7FF,   0x800,   0xD7FF,
                                              0xE000, 0xFFFD, 0xFFFF, 0x10000, 0x10FFFF};
    static constexpr std::uint8_t near_errors[] = {0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
                                                   0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xED,
                                                   0xEF, 0xF0, 0xF4, 0xF5, 0xFF};
    const std::size_t kind = pick(0, damaged ? 9 : 6);
    if (kind <= 2) {
      text.insert(text.end(), pick(1, 80), std::byte{'a'});
    } else if (kind <= 4) {
      append(text, Reference::encode(random_scalar_value()));
    } else if (kind <= 6) {
      append(text, Reference::encode(edges[pick(0, std::size(edges) - 1)]));
    } else if (kind <= 8) {
      text.push_back(std::byte{near_errors[pick(0, std::size(near_errors) - 1)]});
    } else {
      text.push_back(static_cast<std::byte>(pick(0, 255)));
    }
  }

  std::uint32_t random_scalar_value() {
    static constexpr std::uint32_t length_limits[] = {0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
    while (true) {
      const auto value = static_cast<std::uint32_t>(pick(0, length_limits[pick(0, 3)]));
      if (value < 0xD800 || value > 0xDFFF) return value;
    }
  }

  static void append(Bytes& text, const Bytes& more) {
    text.insert(text.end(), more.begin(), more.end());
  }

  std::mt19937 random_;
};

TEST(Utf8Validator, RandomTextAgreesWithTheReferenceInAnySplit) {
  TextGenerator generator(20240601);
  std::size_t valid_count = 0;
  for (int round = 0; round < 30000; ++round) {
    const Bytes text = generator.next();
    const Reference::Verdict expected = reference().check(text);
    valid_count += expected.valid ? 1 : 0;
    SCOPED_TRACE(to_hex(text));
    ASSERT_EQ(is_valid_utf8(text.data(), text.size()), expected.valid);
    ASSERT_EQ(failing_byte(text), expected.fails_at);
    std::vector<std::size_t> cuts(generator.pick(0, 4));
    for (std::size_t& cut : cuts) cut = generator.pick(0, text.size());
    std::sort(cuts.begin(), cuts.end());
    expect_pieces(text, cuts, expected.fails_at, expected.valid);
    if (HasFailure()) return;
  }
  // Both outcomes must be common, or the comparison says little.
  EXPECT_GT(valid_count, 10000u);
  EXPECT_LT(valid_count, 25000u);
}

}  // namespace
}  // namespace fastws::protocol
