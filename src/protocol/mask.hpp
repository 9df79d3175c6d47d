// Masking and unmasking of payload bytes (RFC 6455 section 5.3).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fastws/frame.hpp"

namespace fastws::protocol {

// copy_masked() for any size and offset (mask.cpp).
std::size_t copy_masked_any(std::byte* dst, const std::byte* src, std::size_t size,
                            const MaskKey& key, std::size_t key_offset) noexcept;

// XORs `size` bytes from `src` with `key`, starting at key byte `key_offset` (0..3), into `dst`
// (which may equal `src`: apply_mask() below), and returns the key offset for the byte after the
// last one, so a payload can be masked in pieces, or while it is copied into an output buffer.
// Correct for any alignment and any size; word-at-a-time / SIMD inside. A whole payload of 8 to
// 16 bytes (the small messages of a busy client or server) is two words, inline: the general
// path's setup and call cost twice the masking itself.
inline std::size_t copy_masked(std::byte* dst, const std::byte* src, std::size_t size,
                               const MaskKey& key, std::size_t key_offset = 0) noexcept {
  if (size < 8 || size > 16 || key_offset != 0) {
    return copy_masked_any(dst, src, size, key, key_offset);
  }
  std::uint32_t key32;
  std::memcpy(&key32, key.data(), sizeof key32);
  const std::uint64_t key64 = (std::uint64_t{key32} << 32) | key32;
  // The last word overlaps the first unless size is 16; its key is rotated to where it starts.
  const std::size_t last = size - 8;
  const int shift = static_cast<int>(8 * (last & 3));
  const std::uint64_t last_key = std::endian::native == std::endian::little
                                     ? std::rotr(key64, shift)
                                     : std::rotl(key64, shift);
  std::uint64_t first_word;
  std::uint64_t last_word;
  // Both loads before either store: right when dst is src, where the words overlap.
  std::memcpy(&first_word, src, sizeof first_word);
  std::memcpy(&last_word, src + last, sizeof last_word);
  first_word ^= key64;
  last_word ^= last_key;
  std::memcpy(dst, &first_word, sizeof first_word);
  std::memcpy(dst + last, &last_word, sizeof last_word);
  return size & 3;
}

// copy_masked() in place: a payload unmasked where it arrived, in pieces as it arrives.
inline std::size_t apply_mask(std::byte* data, std::size_t size, const MaskKey& key,
                              std::size_t key_offset = 0) noexcept {
  return copy_masked(data, data, size, key, key_offset);
}

}  // namespace fastws::protocol
