// A socket address kept in every connection: 24 bytes instead of the 128 of a
// net::SocketAddress, printed only when someone asks ("127.0.0.1:80", "[::1]:80",
// "unix:/run/app.sock", "unix" for an unnamed Unix socket).
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <string>

#include "net/socket_address.hpp"

namespace fastws::detail {

class PeerAddress {
 public:
  PeerAddress() noexcept = default;
  // Keeps IPv4 and IPv6 addresses whole, and the path of a named Unix socket (kept once per
  // process: few paths are ever used); of other families only the family.
  explicit PeerAddress(const net::SocketAddress& address);
  // The remote address of an accepted connection: `peer`, or for a Unix socket's peer, which has
  // no name unless it bound one, the path of the socket it came through (`local`).
  static PeerAddress of_peer(const net::SocketAddress& peer, const net::SocketAddress& local);

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
  friend class CompactAddress;  // packs the fields into 8 bytes

  const std::string* unix_path() const noexcept;  // null: not a named Unix socket

  // The parts of a sockaddr_in or sockaddr_in6 that name an endpoint, without the padding and
  // flow label: 24 bytes instead of 28 (a connection keeps its remote address as a
  // CompactAddress and its local one as an InternedAddress).
  std::uint8_t address_[16]{};  // IPv4: the first 4 bytes; Unix: the interned path's pointer
  std::uint32_t scope_id_ = 0;  // IPv6 only
  std::uint16_t port_ = 0;      // network byte order
  std::uint8_t family_ = AF_UNSPEC;
};
static_assert(sizeof(PeerAddress) == 24);

}  // namespace fastws::detail
