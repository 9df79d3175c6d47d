// Mask keys for client frames (RFC 6455 section 5.3: "derived from a strong source of entropy").
#pragma once

#include <array>
#include <cstddef>
#include <cstring>

#include "fastws/frame.hpp"

namespace fastws::protocol {

namespace mask_keys {

// Keys ready for a thread, drawn from OpenSSL's CSPRNG in blocks (mask_key.cpp).
struct Pool {
  std::array<std::byte, 8192> bytes;  // 2,048 keys
  std::size_t next;
};

// This thread's pool; until its first refill a spent one (shared, never written), so that taking
// a key tests nothing more. A pointer in initial-exec TLS, read with one instruction: in
// position-independent code the default model is a call sequence (which the linker relaxes)
// around which the compiler saves and restores registers, on every client frame's path; and the
// pool itself (8 KiB) is far more static TLS than glibc reserves for a library loaded with
// dlopen. Constant-initialized, so reading it costs no guard check.
[[gnu::tls_model("initial-exec")]] extern thread_local constinit Pool* pool;

// Fills this thread's own pool afresh and points `pool` at it. Out of line: inlined, its register
// saves would burden every key.
[[gnu::cold]] void refill() noexcept;

}  // namespace mask_keys

// A key from this thread's pool, false when the pool is spent: random_mask_key() without the
// refill, for a path that must make no call (it leaves the message to one that takes
// random_mask_key()). Inline, since a call would double its instructions, once per client frame.
inline bool take_pooled_mask_key(MaskKey& key) noexcept {
  mask_keys::Pool* pool = mask_keys::pool;
  if (pool->next + 4 > pool->bytes.size()) [[unlikely]]
    return false;
  std::memcpy(key.data(), pool->bytes.data() + pool->next, 4);
  pool->next += 4;
  return true;
}

// A fresh unpredictable key: a few instructions, not a system call.
inline MaskKey random_mask_key() noexcept {
  MaskKey key{};
  if (!take_pooled_mask_key(key)) [[unlikely]] {
    mask_keys::refill();
    take_pooled_mask_key(key);  // a full pool now
  }
  return key;
}

}  // namespace fastws::protocol
