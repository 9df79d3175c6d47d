#include "net/peer_address.hpp"

#include <cstring>

namespace fastws::detail {

PeerAddress::PeerAddress(const net::SocketAddress& address) noexcept {
  family_ = static_cast<std::uint8_t>(address.family());
  if (address.family() == AF_INET) {
    sockaddr_in v4;
    std::memcpy(&v4, address.get(), sizeof v4);
    std::memcpy(address_, &v4.sin_addr, sizeof v4.sin_addr);
    port_ = v4.sin_port;
  } else if (address.family() == AF_INET6) {
    sockaddr_in6 v6;
    std::memcpy(&v6, address.get(), sizeof v6);
    std::memcpy(address_, &v6.sin6_addr, sizeof v6.sin6_addr);
    port_ = v6.sin6_port;
    scope_id_ = v6.sin6_scope_id;
  }
}

std::string PeerAddress::to_string() const {
  if (family_ == AF_UNIX) return "unix";
  net::SocketAddress full;
  if (family_ == AF_INET) {
    sockaddr_in v4{};
    v4.sin_family = AF_INET;
    v4.sin_port = port_;
    std::memcpy(&v4.sin_addr, address_, sizeof v4.sin_addr);
    std::memcpy(full.storage(), &v4, sizeof v4);
    full.set_size(sizeof v4);
  } else if (family_ == AF_INET6) {
    sockaddr_in6 v6{};
    v6.sin6_family = AF_INET6;
    v6.sin6_port = port_;
    v6.sin6_scope_id = scope_id_;
    std::memcpy(&v6.sin6_addr, address_, sizeof v6.sin6_addr);
    std::memcpy(full.storage(), &v6, sizeof v6);
    full.set_size(sizeof v6);
  }
  return full.to_string();
}

}  // namespace fastws::detail
