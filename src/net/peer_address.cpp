#include "net/peer_address.hpp"

#include <cstring>

namespace fastws::detail {

PeerAddress::PeerAddress(const net::SocketAddress& address) noexcept : PeerAddress() {
  if (address.family() == AF_INET) {
    std::memcpy(&storage_.v4, address.get(), sizeof(sockaddr_in));
  } else if (address.family() == AF_INET6) {
    std::memcpy(&storage_.v6, address.get(), sizeof(sockaddr_in6));
  } else {
    storage_.family = static_cast<sa_family_t>(address.family());
  }
}

std::string PeerAddress::to_string() const {
  if (storage_.family == AF_UNIX) return "unix";
  net::SocketAddress full;
  const socklen_t size = storage_.family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (storage_.family == AF_INET || storage_.family == AF_INET6) {
    std::memcpy(full.storage(), &storage_, size);
    full.set_size(size);
  }
  return full.to_string();
}

}  // namespace fastws::detail
