// Socket addresses (IPv4, IPv6, Unix paths): building, resolving and printing them.
//
// Plain values, no threads involved. Printing gives what users expect in logs:
// "127.0.0.1:8080", "[::1]:8080", "unix:/run/app.sock".
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace fastws::net {

class SocketAddress {
 public:
  SocketAddress() noexcept = default;  // family AF_UNSPEC

  // A filesystem Unix socket path; ENAMETOOLONG when it does not fit sockaddr_un (107 bytes).
  static std::error_code from_unix_path(std::string_view path, SocketAddress& out);

  // AF_INET, AF_INET6, AF_UNIX or AF_UNSPEC.
  int family() const noexcept { return storage_.ss_family; }
  // The TCP port, 0 for other families.
  std::uint16_t port() const noexcept;
  std::string to_string() const;
  // The file of a Unix socket address; empty for other families and for unnamed or abstract
  // Unix addresses.
  std::string unix_path() const;

  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t size() const noexcept { return size_; }

  // For the kernel to fill (accept4, getsockname): pass storage() and a length set to
  // capacity(), then record what it wrote with set_size().
  sockaddr* storage() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
  static constexpr socklen_t capacity() noexcept { return sizeof(sockaddr_storage); }
  void set_size(socklen_t size) noexcept { size_ = size; }

 private:
  sockaddr_storage storage_{};
  socklen_t size_ = 0;
};

// Addresses for `host` and `port`, for a TCP socket. `host` is a numeric IPv4 or IPv6 address
// (brackets allowed: "[::1]") or "localhost"; other names are refused rather than sent to DNS,
// which would block the calling loop. Errors from getaddrinfo use resolve_category().
std::error_code resolve(std::string_view host, std::uint16_t port, std::vector<SocketAddress>& out);

// Which addresses a name may resolve to.
enum class AddressFamily : std::uint8_t { any, ipv4, ipv6 };

// Like resolve(), but any name goes to the system resolver (/etc/hosts, DNS): it may block for
// seconds, so never call it on an event loop (net::Resolver runs it on its own thread).
std::error_code resolve_name(std::string_view host, std::uint16_t port, AddressFamily family,
                             std::vector<SocketAddress>& out);
const std::error_category& resolve_category() noexcept;

// The address a socket is bound to, or the peer it is connected to.
std::error_code local_address(int fd, SocketAddress& out);
std::error_code remote_address(int fd, SocketAddress& out);

}  // namespace fastws::net
