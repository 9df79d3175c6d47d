// A connection's remote address in 8 bytes instead of a PeerAddress's 24. An IPv4 address and
// port, and a Unix socket (its interned path, or none), fit in one word; an IPv6 address does
// not and is kept in a PeerAddress of its own on the heap. Remote hosts are many, so unlike the
// local address (InternedAddress) they are not shared in a table.
//
// Threading: the word is atomic, so any thread may read it while the loop thread sets it (a
// client's connection learns its remote address when its socket connects, after the Conn handle
// was handed out). It is set at most once after construction.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "net/peer_address.hpp"

namespace fastws::detail {

class CompactAddress {
 public:
  CompactAddress() noexcept = default;  // unknown: get() gives an address of no family
  explicit CompactAddress(const PeerAddress& address) { set(address); }
  ~CompactAddress();
  CompactAddress(const CompactAddress&) = delete;
  CompactAddress& operator=(const CompactAddress&) = delete;

  // The owner's thread, once (from unknown).
  void set(const PeerAddress& address);
  // Any thread.
  PeerAddress get() const;

 private:
  // The word's low two bits say what the rest holds: 0 (and not 0): a PeerAddress on the heap;
  // ipv4: the address in bits 16-47, the port (network byte order) in bits 48-63; unix: the
  // interned path's pointer (null for an unnamed socket) in the other bits. 0: unknown.
  static constexpr std::uint64_t tag_bits = 3;
  static constexpr std::uint64_t ipv4_tag = 1;
  static constexpr std::uint64_t unix_tag = 2;
  static bool on_heap(std::uint64_t word) noexcept { return word != 0 && (word & tag_bits) == 0; }

  std::atomic<std::uint64_t> word_{0};
};
static_assert(sizeof(CompactAddress) == 8);

}  // namespace fastws::detail
