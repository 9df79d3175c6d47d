#include "net/peer_address.hpp"

#include <cstring>
#include <mutex>
#include <unordered_set>

namespace fastws::detail {

namespace {

// The paths of Unix sockets, each kept once for the life of the process: a connection keeps 8
// bytes for its path, and a process uses few socket paths. Never destroyed, so that a Conn kept
// until exit can still print its address.
const std::string* interned_path(std::string path) {
  static std::mutex mutex;
  static auto* const paths = new std::unordered_set<std::string>;
  std::lock_guard lock(mutex);
  return &*paths->insert(std::move(path)).first;  // elements never move
}

}  // namespace

PeerAddress::PeerAddress(const net::SocketAddress& address) {
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
  } else if (address.family() == AF_UNIX) {
    std::string path = address.unix_path();
    if (path.empty()) return;  // unnamed: the client end of a connection
    const std::string* interned = interned_path(std::move(path));
    std::memcpy(address_, &interned, sizeof interned);
  }
}

PeerAddress PeerAddress::of_peer(const net::SocketAddress& peer, const net::SocketAddress& local) {
  PeerAddress address(peer);
  if (address.family_ == AF_UNIX && address.unix_path() == nullptr) return PeerAddress(local);
  return address;
}

const std::string* PeerAddress::unix_path() const noexcept {
  const std::string* path = nullptr;
  if (family_ == AF_UNIX) std::memcpy(&path, address_, sizeof path);
  return path;
}

std::string PeerAddress::to_string() const {
  if (family_ == AF_UNIX) {
    const std::string* path = unix_path();
    return path != nullptr ? "unix:" + *path : "unix";
  }
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
