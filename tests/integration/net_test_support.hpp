// Helpers shared by the socket and listener tests: loopback addresses, blocking clients, a
// temporary directory for Unix sockets.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "net/socket.hpp"
#include "net/socket_address.hpp"
#include "net/unique_fd.hpp"

namespace fastws::net::test {

inline SocketAddress address_of(std::string_view host, std::uint16_t port) {
  std::vector<SocketAddress> found;
  const std::error_code error = resolve(host, port, found);
  EXPECT_FALSE(error) << host << ": " << error.message();
  return found.empty() ? SocketAddress{} : found.front();
}

// True when this machine can bind ::1 (IPv6 may be disabled in containers).
inline bool ipv6_loopback_available() {
  UniqueFd probe(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe) return false;
  const SocketAddress any_port = address_of("::1", 0);
  return ::bind(probe.get(), any_port.get(), any_port.size()) == 0;
}

// The address a listening socket actually got (port 0 means "any free port").
inline SocketAddress bound_address(int fd) {
  SocketAddress address;
  EXPECT_FALSE(local_address(fd, address));
  return address;
}

// A plain blocking client socket connected to `address` (the kernel completes the handshake
// from the backlog, so no accept is needed for connect() to return).
inline UniqueFd connect_blocking(const SocketAddress& address) {
  UniqueFd client(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(client);
  EXPECT_EQ(::connect(client.get(), address.get(), address.size()), 0) << address.to_string();
  return client;
}

// Waits up to two seconds for `fd` to report `events`.
inline bool wait_for(int fd, short events) {
  pollfd entry{fd, events, 0};
  return ::poll(&entry, 1, 2000) == 1;
}

// A directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "fastws-net-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
    EXPECT_FALSE(path_.empty());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

inline SocketAddress unix_address(const std::string& path) {
  SocketAddress address;
  EXPECT_FALSE(SocketAddress::from_unix_path(path, address));
  return address;
}

}  // namespace fastws::net::test
