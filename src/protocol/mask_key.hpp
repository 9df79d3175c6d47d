// Mask keys for client frames (RFC 6455 section 5.3: "derived from a strong source of entropy").
#pragma once

#include <array>
#include <cstddef>
#include <cstring>

#include "fastws/frame.hpp"

namespace fastws::protocol {

namespace mask_keys {

// The keys ready for this thread, drawn from OpenSSL's CSPRNG in blocks (mask_key.cpp).
// Constant-initialized, so taking a key costs no guard check.
struct Pool {
  std::array<std::byte, 8192> bytes;  // 2,048 keys
  std::size_t next;
};
extern thread_local constinit Pool pool;

// Fills `keys` (this thread's pool) afresh. Out of line: inlined, its register saves would burden
// every key.
[[gnu::cold]] void refill(Pool& keys) noexcept;

}  // namespace mask_keys

// A fresh unpredictable key: a few instructions, not a system call. Inline, since a call would
// double them, once per client frame.
inline MaskKey random_mask_key() noexcept {
  // The pool's address is found once and kept: in position-independent code each access to a
  // thread_local is a call sequence (which the linker relaxes), around which the compiler saves
  // and restores registers; it would redo that at every use rather than keep the address.
  mask_keys::Pool* pool = &mask_keys::pool;
  asm("" : "+r"(pool));
  if (pool->next + 4 > pool->bytes.size()) [[unlikely]]
    mask_keys::refill(*pool);
  MaskKey key;
  std::memcpy(key.data(), pool->bytes.data() + pool->next, 4);
  pool->next += 4;
  return key;
}

}  // namespace fastws::protocol
