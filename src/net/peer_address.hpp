// A socket address kept in every connection: 28 bytes instead of the 128 of a
// net::SocketAddress, printed only when someone asks ("127.0.0.1:80", "[::1]:80").
#pragma once

#include <netinet/in.h>

#include <string>

#include "net/socket_address.hpp"

namespace fastws::detail {

class PeerAddress {
 public:
  PeerAddress() noexcept { storage_.family = AF_UNSPEC; }
  // Keeps IPv4 and IPv6 addresses whole; of other families (Unix sockets) only the family.
  explicit PeerAddress(const net::SocketAddress& address) noexcept;

  sa_family_t family() const noexcept { return storage_.family; }
  std::string to_string() const;

 private:
  union {
    sa_family_t family;
    sockaddr_in v4;
    sockaddr_in6 v6;
  } storage_;
};

}  // namespace fastws::detail
