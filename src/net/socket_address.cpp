#include "net/socket_address.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

namespace fastws::net {

namespace {

// The sockaddr structs are read and written through memcpy: casting sockaddr_storage to them
// would trip the alignment and aliasing rules the warnings enforce.
template <typename Sockaddr>
Sockaddr read_as(const sockaddr* address) noexcept {
  Sockaddr result;
  std::memcpy(&result, address, sizeof result);
  return result;
}

class ResolveCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "resolve"; }
  std::string message(int code) const override { return ::gai_strerror(code); }
};

// The bytes of sun_path the address uses (no terminating NUL); empty for an unnamed address.
std::string raw_unix_path(const sockaddr* address, socklen_t size) {
  constexpr std::size_t path_offset = offsetof(sockaddr_un, sun_path);
  if (size <= path_offset) return {};
  const auto un = read_as<sockaddr_un>(address);
  const std::size_t length = std::min<std::size_t>(size - path_offset, sizeof un.sun_path);
  // Abstract addresses start with NUL and are not NUL-terminated; paths are.
  if (un.sun_path[0] == '\0') return std::string(un.sun_path, length);
  return std::string(un.sun_path, ::strnlen(un.sun_path, length));
}

std::error_code query_address(int (*query)(int, sockaddr*, socklen_t*), int fd,
                              SocketAddress& out) {
  socklen_t size = SocketAddress::capacity();
  if (query(fd, out.storage(), &size) != 0) return {errno, std::system_category()};
  out.set_size(size);
  return {};
}

}  // namespace

const std::error_category& resolve_category() noexcept {
  static const ResolveCategory category;
  return category;
}

std::error_code SocketAddress::from_unix_path(std::string_view path, SocketAddress& out) {
  sockaddr_un un{};
  // sun_path must keep a terminating NUL; an empty path would mean "unnamed".
  if (path.empty() || path.size() >= sizeof un.sun_path) {
    return std::make_error_code(path.empty() ? std::errc::invalid_argument
                                             : std::errc::filename_too_long);
  }
  un.sun_family = AF_UNIX;
  std::memcpy(un.sun_path, path.data(), path.size());
  out = SocketAddress{};
  std::memcpy(out.storage(), &un, sizeof un);
  out.set_size(static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1));
  return {};
}

std::uint16_t SocketAddress::port() const noexcept {
  switch (family()) {
    case AF_INET:
      return ntohs(read_as<sockaddr_in>(get()).sin_port);
    case AF_INET6:
      return ntohs(read_as<sockaddr_in6>(get()).sin6_port);
    default:
      return 0;
  }
}

std::string SocketAddress::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  switch (family()) {
    case AF_INET: {
      const auto in = read_as<sockaddr_in>(get());
      ::inet_ntop(AF_INET, &in.sin_addr, text, sizeof text);
      return std::string(text) + ':' + std::to_string(port());
    }
    case AF_INET6: {
      const auto in6 = read_as<sockaddr_in6>(get());
      ::inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
      std::string result = '[' + std::string(text);
      // Link-local addresses mean nothing without their interface.
      if (in6.sin6_scope_id != 0) result += '%' + std::to_string(in6.sin6_scope_id);
      return result + "]:" + std::to_string(port());
    }
    case AF_UNIX: {
      std::string path = raw_unix_path(get(), size_);
      // Linux abstract namespace, shown with '@' as ss(8) does.
      if (!path.empty() && path.front() == '\0') path.front() = '@';
      return "unix:" + path;  // "unix:" alone: unnamed, e.g. the client end of a connection
    }
    default:
      return {};
  }
}

std::string SocketAddress::unix_path() const {
  if (family() != AF_UNIX) return {};
  std::string path = raw_unix_path(get(), size_);
  if (!path.empty() && path.front() == '\0') return {};
  return path;
}

namespace {

std::error_code run_getaddrinfo(std::string_view host, std::uint16_t port, int family, int flags,
                                std::vector<SocketAddress>& out) {
  out.clear();
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string host_string(host);
  const std::string port_string = std::to_string(port);

  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | flags;
  addrinfo* results = nullptr;
  const int status = ::getaddrinfo(host_string.c_str(), port_string.c_str(), &hints, &results);
  if (status == EAI_SYSTEM) return {errno, std::system_category()};
  if (status != 0) return {status, resolve_category()};
  for (const addrinfo* entry = results; entry != nullptr; entry = entry->ai_next) {
    if (entry->ai_addrlen > SocketAddress::capacity()) continue;
    SocketAddress& address = out.emplace_back();
    std::memcpy(address.storage(), entry->ai_addr, entry->ai_addrlen);
    address.set_size(entry->ai_addrlen);
  }
  ::freeaddrinfo(results);
  return {};
}

}  // namespace

std::error_code resolve(std::string_view host, std::uint16_t port,
                        std::vector<SocketAddress>& out) {
  // "localhost" comes from /etc/hosts; anything else must be a literal, never a DNS query.
  const bool literal_only = host != "localhost";
  return run_getaddrinfo(host, port, AF_UNSPEC, literal_only ? AI_NUMERICHOST : 0, out);
}

std::error_code resolve_name(std::string_view host, std::uint16_t port, AddressFamily family,
                             std::vector<SocketAddress>& out) {
  const int ai_family = family == AddressFamily::ipv4   ? AF_INET
                        : family == AddressFamily::ipv6 ? AF_INET6
                                                        : AF_UNSPEC;
  return run_getaddrinfo(host, port, ai_family, 0, out);
}

std::error_code local_address(int fd, SocketAddress& out) {
  return query_address(::getsockname, fd, out);
}

std::error_code remote_address(int fd, SocketAddress& out) {
  return query_address(::getpeername, fd, out);
}

}  // namespace fastws::net
