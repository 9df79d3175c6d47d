// Which proxy a client connection goes through, without I/O: proxy URLs, the proxy variables of
// the environment (http_proxy, https_proxy, all_proxy, no_proxy, in either case) and NO_PROXY
// matching. The conversation with the proxy is proxy_handshake.hpp; the I/O, proxy_tunnel.hpp.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fastws::detail {

enum class ProxyKind : std::uint8_t { http, socks5 };

struct ProxyUrl {
  ProxyKind kind = ProxyKind::http;
  std::string host;        // name, IPv4, or IPv6 literal without brackets
  std::uint16_t port = 0;  // 80 for http, 1080 for socks5 when the URL names none
  // Percent-decoded user info; used when `has_credentials` (an empty password is a password).
  bool has_credentials = false;
  std::string username;
  std::string password;

  // For errors: "HTTP proxy proxy.example:3128", "SOCKS5 proxy [::1]:1080" (never credentials).
  std::string describe() const;
};

// Parses `http://[user:password@]host[:port][/]`, `socks5://...` or `socks5h://...` (the same:
// the proxy always resolves names); no scheme means http, as curl and Go read proxy variables.
// Refused with `error` set: other schemes (https:// proxies, TLS to the proxy, are not
// supported), a path, query or fragment, bad percent escapes, a ':' in an HTTP user name (Basic
// credentials could not tell it from the separator), SOCKS5 user names or passwords over 255
// bytes (RFC 1929), invalid hosts and ports.
std::optional<ProxyUrl> parse_proxy_url(std::string_view text, std::string& error);

// NO_PROXY: comma-separated entries, each a host name matched as a suffix at a dot boundary
// ("example.com" and ".example.com" both match example.com and a.example.com; "*.example.com"
// is read as ".example.com"), an IP address matched exactly, either with an optional ":port"
// ("[::1]:8080" for IPv6), or "*" alone for every host. Case-insensitive, trailing dots ignored.
// Entries it cannot read are ignored. No CIDR ranges, and loopback is not special: list
// "localhost,127.0.0.1,::1" to reach them directly.
class NoProxyList {
 public:
  NoProxyList() = default;
  explicit NoProxyList(std::string_view list);

  // Whether a connection to `host` (as in the URL, IPv6 without brackets) on `port` goes
  // directly.
  bool bypasses(std::string_view host, std::uint16_t port) const;

 private:
  struct Entry {
    std::string host;        // lowercase, without leading or trailing dots
    std::uint16_t port = 0;  // 0: any port
  };
  bool everything_ = false;
  std::vector<Entry> entries_;
};

// The proxy a scheme uses: none (direct), one, or why the configured one cannot be used (a bad
// environment value fails each connection that would use it, with this error).
struct ProxyChoice {
  std::optional<ProxyUrl> proxy;
  std::string error;
};

// ClientOptions::proxy, made into what each connection needs.
class ProxyConfig {
 public:
  // getenv, or a stand-in for tests: the value of a variable, or null when unset.
  using Environment = std::function<const char*(const char* name)>;

  // "" or "direct": no proxy. A proxy URL: every connection goes through it (nullopt and `error`
  // when it is not one). "env": read the environment now, through `environment`: https_proxy for
  // wss://, http_proxy for ws://, all_proxy for both when the scheme's own is unset or empty, each
  // lowercase first (curl's order), then uppercase; no_proxy (then NO_PROXY) lists the hosts
  // reached directly.
  static std::optional<ProxyConfig> make(std::string_view option, const Environment& environment,
                                         std::string& error);
  // make() with getenv.
  static std::optional<ProxyConfig> make(std::string_view option, std::string& error);
  // make() with getenv; throws std::invalid_argument ("fastws: proxy: ...") when the option is
  // neither empty, "env" nor a proxy URL.
  static ProxyConfig from_option(std::string_view option);

  // For a connection to `host`:`port`, ws:// (secure false) or wss://.
  const ProxyChoice& choose(bool secure, std::string_view host, std::uint16_t port) const;

 private:
  ProxyChoice plain_;   // ws://
  ProxyChoice secure_;  // wss://
  NoProxyList bypass_;
};

}  // namespace fastws::detail
