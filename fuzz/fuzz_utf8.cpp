// libFuzzer target: UTF-8 validation, three ways that must agree. Input: one byte seeding the
// split sizes, then the text.
//  1. Utf8Validator fed the text in pseudo-random pieces: each piece must pass exactly when it does
//     not contain the first invalid byte, and the end must be a boundary exactly when it is valid;
//  2. Utf8Validator fed one byte at a time: feed must first return false at that same byte;
//  3. is_valid_utf8 on the whole text.
// The expectation comes from a plain decoder written here, independent of the automaton.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "protocol/utf8.hpp"

namespace {

void require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz_utf8: %s\n", what);
  std::abort();
}

// True when [low, high] holds a Unicode scalar value, i.e. a code point that is not a surrogate.
bool holds_scalar_value(std::uint32_t low, std::uint32_t high) {
  if (low > high) return false;
  return low < 0xD800 || high > 0xDFFF;
}

struct Verdict {
  std::optional<std::size_t> fails_at;  // the first byte after which no valid text can follow
  bool valid = false;
};

// Decodes code point by code point (RFC 3629 section 3). After each byte of a sequence it asks
// which code points the sequence can still become: the bits read so far followed by any bits
// still missing, clipped to the range of this sequence length (shorter forms are overlong). If
// that range holds no scalar value, this byte is the first invalid one.
Verdict decode(const std::uint8_t* text, std::size_t size) {
  static constexpr std::uint32_t lowest[] = {0, 0, 0x80, 0x800, 0x10000};
  static constexpr std::uint32_t highest[] = {0, 0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
  std::size_t start = 0;
  while (start < size) {
    const std::uint8_t lead = text[start];
    const unsigned length = lead < 0x80   ? 1
                            : lead < 0xC0 ? 0  // a continuation byte cannot start a sequence
                            : lead < 0xE0 ? 2
                            : lead < 0xF0 ? 3
                            : lead < 0xF8 ? 4
                                          : 0;
    if (length == 0) return {start, false};
    std::uint32_t value = length == 1 ? lead : lead & (0x7Fu >> length);
    for (unsigned k = 0; k < length; ++k) {
      const std::size_t at = start + k;
      if (k > 0) {
        if (at == size) return {std::nullopt, false};  // the text ends inside the sequence
        if ((text[at] & 0xC0) != 0x80) return {at, false};
        value = (value << 6) | (text[at] & 0x3Fu);
      }
      const unsigned missing_bits = 6 * (length - 1 - k);
      const std::uint32_t low = value << missing_bits;
      const std::uint32_t high = low | ((1u << missing_bits) - 1);
      const std::uint32_t clipped_low = low > lowest[length] ? low : lowest[length];
      const std::uint32_t clipped_high = high < highest[length] ? high : highest[length];
      if (!holds_scalar_value(clipped_low, clipped_high)) return {at, false};
    }
    start += length;
  }
  return {std::nullopt, true};
}

// A tiny generator for the split sizes, so that a crash reproduces from its input alone.
class SplitSizes {
 public:
  explicit SplitSizes(std::uint8_t seed) : state_(seed * 2654435761u + 1) {}
  std::size_t next() {
    state_ = state_ * 1103515245u + 12345u;
    const std::uint32_t bits = state_ >> 16;
    // Mostly short pieces (sequences split everywhere), sometimes long ones (the fast paths).
    return (bits & 7) == 0 ? (bits >> 3) % 200 : (bits >> 3) % 6;
  }

 private:
  std::uint32_t state_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  SplitSizes split_sizes(data[0]);
  const auto* text = reinterpret_cast<const std::byte*>(data + 1);
  const std::size_t text_size = size - 1;
  const Verdict expected = decode(data + 1, text_size);
  auto contains_failure = [&](std::size_t end) {
    return expected.fails_at && *expected.fails_at < end;
  };

  require(fastws::protocol::is_valid_utf8(text, text_size) == expected.valid,
          "is_valid_utf8 disagrees with the decoder");

  fastws::protocol::Utf8Validator pieces;
  for (std::size_t begin = 0; begin < text_size;) {
    const std::size_t end = begin + std::min(split_sizes.next(), text_size - begin);
    require(pieces.feed(text + begin, end - begin) == !contains_failure(end),
            "a piece passed or failed wrongly");
    begin = end;
  }
  require(pieces.at_boundary() == expected.valid, "wrong boundary at the end (pieces)");

  fastws::protocol::Utf8Validator byte_by_byte;
  for (std::size_t i = 0; i < text_size; ++i) {
    require(byte_by_byte.feed(text + i, 1) == !contains_failure(i + 1),
            "feed failed at another byte than the first invalid one");
  }
  require(byte_by_byte.at_boundary() == expected.valid, "wrong boundary at the end (bytes)");
  return 0;
}
