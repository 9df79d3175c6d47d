// Masking (RFC 6455 section 5.3) against a byte-by-byte reference: every pointer alignment,
// length and starting key offset, and unmasking in pieces.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "protocol/mask.hpp"
#include "unit/frame_parse_support.hpp"

namespace fastws::protocol {
namespace {

using testing::bytes;
using testing::text_bytes;

constexpr MaskKey key{std::byte{0x37}, std::byte{0xfa}, std::byte{0x21}, std::byte{0x3d}};
constexpr std::size_t max_length = 300;
constexpr std::size_t guard = 32;  // bytes around the masked range that must stay untouched

// RFC 6455 5.3: "octet i of the transformed data is the XOR of octet i of the original data with
// octet at index i modulo 4 of the masking key".
std::vector<std::byte> reference_mask(const std::byte* data, std::size_t size,
                                      std::size_t key_offset) {
  std::vector<std::byte> out(data, data + size);
  for (std::size_t i = 0; i < size; ++i) out[i] ^= key[(key_offset + i) % 4];
  return out;
}

std::vector<std::byte> pattern(std::size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> out(size);
  for (auto& b : out) b = static_cast<std::byte>(rng());
  return out;
}

TEST(Mask, Rfc6455HelloExample) {
  auto data = text_bytes("Hello");
  EXPECT_EQ(apply_mask(data.data(), data.size(), key), 1U);
  EXPECT_EQ(data, bytes({0x7f, 0x9f, 0x4d, 0x51, 0x58}));
}

TEST(Mask, ApplyMaskMatchesReferenceAtEveryAlignmentLengthAndOffset) {
  const auto original = pattern(16 + max_length + 2 * guard, 1);
  alignas(64) std::byte buffer[16 + max_length + 2 * guard];
  for (std::size_t align = 0; align < 16; ++align) {
    for (std::size_t length = 0; length <= max_length; ++length) {
      for (std::size_t offset = 0; offset < 4; ++offset) {
        std::memcpy(buffer, original.data(), original.size());
        std::byte* data = buffer + guard + align;
        const auto expected = reference_mask(data, length, offset);
        ASSERT_EQ(apply_mask(data, length, key, offset), (offset + length) % 4);
        ASSERT_EQ(std::vector<std::byte>(data, data + length), expected)
            << "align " << align << " length " << length << " offset " << offset;
        ASSERT_EQ(std::memcmp(buffer, original.data(), guard + align), 0) << "wrote before";
        const std::size_t end = guard + align + length;
        ASSERT_EQ(std::memcmp(buffer + end, original.data() + end, original.size() - end), 0)
            << "wrote after, align " << align << " length " << length;
      }
    }
  }
}

TEST(Mask, CopyMaskedMatchesReferenceForDifferentSourceAndDestinationAlignments) {
  const auto source = pattern(16 + max_length, 2);
  alignas(64) std::byte src[16 + max_length];
  alignas(64) std::byte dst[16 + max_length + 2 * guard];
  std::memcpy(src, source.data(), source.size());
  const std::vector<std::byte> untouched(sizeof dst, std::byte{0xAA});
  for (std::size_t src_align = 0; src_align < 16; ++src_align) {
    for (std::size_t dst_align : {0U, 3U, 8U, 13U}) {
      for (std::size_t length = 0; length <= max_length; ++length) {
        for (std::size_t offset = 0; offset < 4; ++offset) {
          std::memset(dst, 0xAA, sizeof dst);
          std::byte* out = dst + guard + dst_align;
          ASSERT_EQ(copy_masked(out, src + src_align, length, key, offset), (offset + length) % 4);
          ASSERT_EQ(std::vector<std::byte>(out, out + length),
                    reference_mask(src + src_align, length, offset))
              << "src " << src_align << " dst " << dst_align << " length " << length;
          ASSERT_EQ(std::memcmp(src, source.data(), source.size()), 0) << "source modified";
          const std::size_t end = guard + dst_align + length;
          ASSERT_EQ(std::memcmp(dst, untouched.data(), guard + dst_align), 0) << "wrote before";
          ASSERT_EQ(std::memcmp(dst + end, untouched.data(), sizeof dst - end), 0)
              << "wrote after, dst " << dst_align << " length " << length;
        }
      }
    }
  }
}

TEST(Mask, UnmaskingInRandomPiecesEqualsUnmaskingAtOnce) {
  const auto original = pattern(5000, 3);
  std::mt19937 rng(4);
  for (int round = 0; round < 200; ++round) {
    const std::size_t start_offset = rng() % 4;
    auto whole = original;
    apply_mask(whole.data(), whole.size(), key, start_offset);

    auto pieces = original;
    std::size_t pos = 0;
    std::size_t offset = start_offset;
    while (pos < pieces.size()) {
      // Mostly short pieces, so that many pieces start at odd positions, some long ones.
      const std::size_t limit = rng() % 4 == 0 ? 700 : 20;
      const std::size_t piece = std::min<std::size_t>(rng() % limit, pieces.size() - pos);
      offset = apply_mask(pieces.data() + pos, piece, key, offset);
      pos += piece;
    }
    ASSERT_EQ(pieces, whole) << "round " << round;
    EXPECT_EQ(offset, (start_offset + original.size()) % 4);
  }
}

TEST(Mask, LargeBufferMatchesReferenceAndMaskingTwiceRestoresIt) {
  const auto original = pattern((1U << 20) + 3, 5);
  auto data = original;
  EXPECT_EQ(apply_mask(data.data() + 1, data.size() - 1, key, 2), (2 + data.size() - 1) % 4);
  EXPECT_EQ(data[0], original[0]);
  EXPECT_EQ(std::vector<std::byte>(data.begin() + 1, data.end()),
            reference_mask(original.data() + 1, original.size() - 1, 2));
  apply_mask(data.data() + 1, data.size() - 1, key, 2);
  EXPECT_EQ(data, original);
}

TEST(Mask, CopyMaskedInPlaceEqualsApplyMask) {
  const auto original = pattern(1000, 6);
  auto in_place = original;
  auto applied = original;
  copy_masked(in_place.data() + 5, in_place.data() + 5, 990, key, 3);
  apply_mask(applied.data() + 5, 990, key, 3);
  EXPECT_EQ(in_place, applied);
  EXPECT_NE(in_place, original);
}

}  // namespace
}  // namespace fastws::protocol
