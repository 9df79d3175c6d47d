// A connection's local address in 4 bytes instead of a PeerAddress's 24: the host part (family,
// address, scope) is an index into a process-wide table of the distinct ones seen, the port is
// kept apart. A machine has few local addresses (a server's listeners, a client's source
// addresses), so the table stays small, while every connection would otherwise hold a copy.
#pragma once

#include <cstdint>

#include "net/peer_address.hpp"

namespace fastws::detail {

class InternedAddress {
 public:
  InternedAddress() noexcept = default;  // unknown: get() gives an address of no family
  // Any thread. Past 65,535 distinct hosts (not a real machine) the address is kept unknown.
  explicit InternedAddress(const PeerAddress& address);

  // Any thread.
  PeerAddress get() const;

 private:
  std::uint16_t host_ = 0;  // 0: unknown; else the table's entry host_ - 1
  std::uint16_t port_ = 0;  // network byte order
};
static_assert(sizeof(InternedAddress) == 4);

}  // namespace fastws::detail
