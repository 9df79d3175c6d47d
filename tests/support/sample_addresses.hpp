// Peer addresses for the tests of the compact forms a connection keeps them in (InternedAddress,
// CompactAddress): resolved IPv4 and IPv6, a link-local IPv6 with a scope, Unix sockets.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "net/peer_address.hpp"
#include "net/socket_address.hpp"

namespace fastws::testing {

inline detail::PeerAddress address_of(const char* host, std::uint16_t port) {
  std::vector<net::SocketAddress> resolved;
  EXPECT_FALSE(net::resolve(host, port, resolved));
  EXPECT_FALSE(resolved.empty());
  return resolved.empty() ? detail::PeerAddress() : detail::PeerAddress(resolved.front());
}

// fe80::1 with the given scope id.
inline detail::PeerAddress ipv6_with_scope(std::uint32_t scope, std::uint16_t port) {
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_port = htons(port);
  v6.sin6_scope_id = scope;
  v6.sin6_addr.s6_addr[0] = 0xfe;
  v6.sin6_addr.s6_addr[1] = 0x80;
  v6.sin6_addr.s6_addr[15] = 1;
  net::SocketAddress address;
  std::memcpy(address.storage(), &v6, sizeof v6);
  address.set_size(sizeof v6);
  return detail::PeerAddress(address);
}

}  // namespace fastws::testing
