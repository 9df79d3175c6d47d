// Masking (RFC 6455 section 5.3): byte i of the payload is XORed with key byte (i % 4). The key
// is rotated once by the starting offset and repeated to the register width, so the body is plain
// wide XOR; every register width is a multiple of 4, so the key phase never changes in the body.
// Loads and stores are unaligned: correct for any alignment of src and dst (which may differ),
// and as fast as aligned ones on current x86 cores when the data happens to be aligned.
#include "protocol/mask.hpp"

#include <bit>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace fastws::protocol {
namespace {

// The four key bytes starting at `key_offset`, as they lie in memory over the next four bytes.
std::uint32_t rotated_key(const MaskKey& key, std::size_t key_offset) noexcept {
  std::uint32_t word;
  std::memcpy(&word, key.data(), sizeof word);
  const auto shift = static_cast<int>(8 * key_offset);
  if constexpr (std::endian::native == std::endian::little) return std::rotr(word, shift);
  return std::rotl(word, shift);
}

#if defined(__SSE2__)
// The library is built for baseline x86-64, which promises SSE2 only; 32-byte registers, where
// the CPU has them, double the bytes per store. Masks whole 64-byte blocks, returns how many bytes.
__attribute__((target("avx2"))) std::size_t mask_blocks_avx2(std::byte* dst, const std::byte* src,
                                                             std::size_t size,
                                                             std::uint32_t key32) noexcept {
  const __m256i key256 = _mm256_set1_epi32(static_cast<int>(key32));
  std::size_t i = 0;
  for (; i + 64 <= size; i += 64) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i_u*>(src + i));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i_u*>(src + i + 32));
    _mm256_storeu_si256(reinterpret_cast<__m256i_u*>(dst + i), _mm256_xor_si256(a, key256));
    _mm256_storeu_si256(reinterpret_cast<__m256i_u*>(dst + i + 32), _mm256_xor_si256(b, key256));
  }
  return i;
}
#endif

}  // namespace

std::size_t copy_masked_any(std::byte* dst, const std::byte* src, std::size_t size,
                            const MaskKey& key, std::size_t key_offset) noexcept {
  key_offset &= 3;
  const std::uint32_t key32 = rotated_key(key, key_offset);
  std::size_t i = 0;

#if defined(__SSE2__)
  if (size >= 64 && __builtin_cpu_supports("avx2")) i = mask_blocks_avx2(dst, src, size, key32);
  const __m128i key128 = _mm_set1_epi32(static_cast<int>(key32));
  for (; i + 16 <= size; i += 16) {
    const __m128i in = _mm_loadu_si128(reinterpret_cast<const __m128i_u*>(src + i));
    _mm_storeu_si128(reinterpret_cast<__m128i_u*>(dst + i), _mm_xor_si128(in, key128));
  }
#endif

  // The whole body where SSE2 is missing, otherwise the tail of fewer than 16 bytes: at most one
  // word (a loop here would be vectorized again, with checks that cost more than a short tail).
  const std::uint64_t key64 = (std::uint64_t{key32} << 32) | key32;
  auto mask_word = [&] {
    std::uint64_t word;
    std::memcpy(&word, src + i, sizeof word);
    word ^= key64;
    std::memcpy(dst + i, &word, sizeof word);
    i += 8;
  };
#if defined(__SSE2__)
  if (i + 8 <= size) mask_word();
#else
  while (i + 8 <= size) mask_word();
#endif
  for (; i < size; ++i) dst[i] = src[i] ^ key[(key_offset + i) & 3];
  return (key_offset + size) & 3;
}

}  // namespace fastws::protocol
