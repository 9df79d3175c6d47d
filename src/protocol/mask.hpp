// Masking and unmasking of payload bytes (RFC 6455 section 5.3).
#pragma once

#include <cstddef>

#include "fastws/frame.hpp"

namespace fastws::protocol {

// XORs `size` bytes at `data` with `key`, starting at key byte `key_offset` (0..3), and returns
// the key offset for the byte after the last one, so a payload can be unmasked in pieces as it
// arrives. Correct for any alignment of `data` and any size; word-at-a-time / SIMD inside.
std::size_t apply_mask(std::byte* data, std::size_t size, const MaskKey& key,
                       std::size_t key_offset = 0) noexcept;

// The same, reading from `src` and writing to `dst` (which may equal `src`), so a payload can be
// masked while it is copied into an output buffer.
std::size_t copy_masked(std::byte* dst, const std::byte* src, std::size_t size, const MaskKey& key,
                        std::size_t key_offset = 0) noexcept;

}  // namespace fastws::protocol
