#include "client/proxy_url.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <stdexcept>

#include "protocol/handshake_client.hpp"
#include "protocol/http_parser.hpp"
#include "protocol/percent_decode.hpp"

namespace fastws::detail {

namespace {

std::string lowercase(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return lower;
}

bool is_ip_literal(const std::string& host) {
  in6_addr address;  // large enough for either family
  return ::inet_pton(AF_INET, host.c_str(), &address) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), &address) == 1;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || text.size() > 5 || ec != std::errc() || end != text.data() + text.size() ||
      value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

// "host", "host:port", "[v6]" or "[v6]:port". The port is 0 when none is named.
struct HostPort {
  std::string_view host;
  std::string_view port;
  bool bracketed = false;
};

std::optional<HostPort> split_host_port(std::string_view text) {
  HostPort split;
  if (text.starts_with('[')) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    split.host = text.substr(1, close - 1);
    split.bracketed = true;
    const std::string_view after = text.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) return std::nullopt;
    if (!after.empty()) split.port = after.substr(1);
    if (!after.empty() && split.port.empty()) return std::nullopt;
    return split;
  }
  const std::size_t colon = text.find(':');
  split.host = text.substr(0, colon);
  if (colon != std::string_view::npos) {
    split.port = text.substr(colon + 1);
    if (split.port.empty()) return std::nullopt;
  }
  return split;
}

bool is_visible_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// The first of `names` set to a non-empty value, and which one it was.
struct Variable {
  const char* name = nullptr;
  std::string_view value;
};

Variable first_set(const ProxyConfig::Environment& environment,
                   std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const char* value = environment(name);
    if (value != nullptr && *value != '\0') return {name, value};
  }
  return {};
}

ProxyChoice choice_from(const ProxyConfig::Environment& environment,
                        std::initializer_list<const char*> names) {
  ProxyChoice choice;
  const Variable variable = first_set(environment, names);
  if (variable.name == nullptr) return choice;
  std::string error;
  choice.proxy = parse_proxy_url(protocol::trim_ows(variable.value), error);
  if (!choice.proxy) choice.error = std::string(variable.name) + ": " + error;
  return choice;
}

}  // namespace

std::string ProxyUrl::describe() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  std::string text = kind == ProxyKind::http ? "HTTP proxy " : "SOCKS5 proxy ";
  text.append(ipv6 ? "[" : "").append(host).append(ipv6 ? "]" : "");
  return text + ":" + std::to_string(port);
}

std::optional<ProxyUrl> parse_proxy_url(std::string_view text, std::string& error) {
  const auto refuse = [&](std::string why) -> std::optional<ProxyUrl> {
    error = std::move(why);
    return std::nullopt;
  };
  if (!is_visible_ascii(text))
    return refuse("proxy URL contains a space, control or non-ASCII byte");
  ProxyUrl url;
  std::string_view rest = text;
  if (const std::size_t scheme_end = text.find("://"); scheme_end != std::string_view::npos) {
    const std::string scheme = lowercase(text.substr(0, scheme_end));
    if (scheme == "socks5" || scheme == "socks5h") {
      url.kind = ProxyKind::socks5;
    } else if (scheme != "http") {
      return refuse("unsupported proxy scheme '" + scheme +
                    "' (http://, socks5:// or socks5h:// are supported)");
    }
    rest = text.substr(scheme_end + 3);
  }
  const std::size_t authority_end = rest.find_first_of("/?#");
  if (authority_end != std::string_view::npos && rest.substr(authority_end) != "/") {
    return refuse("a proxy URL has no path, query or fragment");
  }
  std::string_view authority = rest.substr(0, authority_end);

  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view user_info = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    const std::size_t colon = user_info.find(':');
    if (!protocol::percent_decode(user_info.substr(0, colon), url.username) ||
        (colon != std::string_view::npos &&
         !protocol::percent_decode(user_info.substr(colon + 1), url.password))) {
      return refuse("bad percent escape in the proxy URL's user info");
    }
    url.has_credentials = true;
    if (url.kind == ProxyKind::http && url.username.find(':') != std::string::npos) {
      return refuse("an HTTP proxy user name cannot contain ':' (RFC 7617)");
    }
    if (url.kind == ProxyKind::socks5 &&
        (url.username.empty() || url.username.size() > 255 || url.password.size() > 255)) {
      return refuse("SOCKS5 user name must be 1..255 bytes, password at most 255 (RFC 1929)");
    }
  }
  const std::optional<HostPort> host_port = split_host_port(authority);
  if (!host_port || !protocol::is_valid_host(host_port->host) ||
      (host_port->host.find(':') != std::string_view::npos) != host_port->bracketed) {
    return refuse("invalid proxy host");
  }
  url.host = std::string(host_port->host);
  url.port = url.kind == ProxyKind::http ? 80 : 1080;
  if (!host_port->port.empty()) {
    const std::optional<std::uint16_t> port = parse_port(host_port->port);
    if (!port) return refuse("invalid proxy port (1..65535)");
    url.port = *port;
  }
  return url;
}

NoProxyList::NoProxyList(std::string_view list) {
  protocol::for_each_list_element(list, [this](std::string_view element) {
    if (element == "*") {
      everything_ = true;
      return true;
    }
    if (element.starts_with("*.")) element.remove_prefix(1);
    const std::optional<HostPort> split = split_host_port(element);
    // A bare IPv6 address has several colons and no brackets: all of it is the host.
    const bool bare_ipv6 =
        !element.starts_with('[') && std::count(element.begin(), element.end(), ':') > 1;
    Entry entry;
    std::string_view host = bare_ipv6 ? element : (split ? split->host : std::string_view{});
    if (!bare_ipv6 && split && !split->port.empty()) {
      const std::optional<std::uint16_t> port = parse_port(split->port);
      if (!port) return true;  // unreadable: ignored
      entry.port = *port;
    }
    while (host.starts_with('.')) host.remove_prefix(1);
    while (host.ends_with('.')) host.remove_suffix(1);
    if (host.empty()) return true;
    entry.host = lowercase(host);
    entries_.push_back(std::move(entry));
    return true;
  });
}

bool NoProxyList::bypasses(std::string_view host_text, std::uint16_t port) const {
  if (everything_) return true;
  while (host_text.ends_with('.')) host_text.remove_suffix(1);
  const std::string host = lowercase(host_text);
  const bool literal = is_ip_literal(host);
  return std::any_of(entries_.begin(), entries_.end(), [&](const Entry& entry) {
    if (entry.port != 0 && entry.port != port) return false;
    if (host == entry.host) return true;
    // A name matches its domain's entries; an address only itself ("0.1" is no suffix of it).
    return !literal && host.size() > entry.host.size() && host.ends_with(entry.host) &&
           host[host.size() - entry.host.size() - 1] == '.';
  });
}

std::optional<ProxyConfig> ProxyConfig::make(std::string_view option,
                                             const Environment& environment, std::string& error) {
  ProxyConfig config;
  if (option.empty() || option == "direct") return config;
  if (option == "env") {
    config.secure_ =
        choice_from(environment, {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"});
    config.plain_ =
        choice_from(environment, {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"});
    config.bypass_ = NoProxyList(first_set(environment, {"no_proxy", "NO_PROXY"}).value);
    return config;
  }
  std::optional<ProxyUrl> url = parse_proxy_url(option, error);
  if (!url) return std::nullopt;
  config.plain_.proxy = url;
  config.secure_.proxy = std::move(url);
  return config;
}

std::optional<ProxyConfig> ProxyConfig::make(std::string_view option, std::string& error) {
  return make(
      option, [](const char* name) { return std::getenv(name); }, error);
}

ProxyConfig ProxyConfig::from_option(std::string_view option) {
  std::string error;
  std::optional<ProxyConfig> config = make(option, error);
  if (!config) throw std::invalid_argument("fastws: proxy: " + error);
  return std::move(*config);
}

const ProxyChoice& ProxyConfig::choose(bool secure, std::string_view host,
                                       std::uint16_t port) const {
  static const ProxyChoice direct;
  const ProxyChoice& choice = secure ? secure_ : plain_;
  if (!choice.proxy && choice.error.empty()) return direct;
  return bypass_.bypasses(host, port) ? direct : choice;
}

}  // namespace fastws::detail
