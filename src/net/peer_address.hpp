// A socket address kept in every connection: 24 bytes instead of the 128 of a
// net::SocketAddress, printed only when someone asks ("127.0.0.1:80", "[::1]:80").
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <string>

#include "net/socket_address.hpp"

namespace fastws::detail {

class PeerAddress {
 public:
  PeerAddress() noexcept = default;
  // Keeps IPv4 and IPv6 addresses whole; of other families (Unix sockets) only the family.
  explicit PeerAddress(const net::SocketAddress& address) noexcept;

  sa_family_t family() const noexcept { return family_; }
  std::string to_string() const;

  // The port (network byte order) and the rest (the host: family, address, scope), apart, for
  // InternedAddress.
  std::uint16_t port() const noexcept { return port_; }
  PeerAddress with_port(std::uint16_t port) const noexcept {
    PeerAddress copy = *this;
    copy.port_ = port;
    return copy;
  }
  bool operator==(const PeerAddress&) const noexcept = default;

 private:
  // The parts of a sockaddr_in or sockaddr_in6 that name an endpoint, without the padding and
  // flow label: 24 bytes instead of 28, and every connection holds two.
  std::uint8_t address_[16]{};  // IPv4: the first 4 bytes
  std::uint32_t scope_id_ = 0;  // IPv6 only
  std::uint16_t port_ = 0;      // network byte order
  std::uint8_t family_ = AF_UNSPEC;
};
static_assert(sizeof(PeerAddress) == 24);

}  // namespace fastws::detail
