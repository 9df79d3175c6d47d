#include "server/origin_policy.hpp"

#include <algorithm>

#include "protocol/http_parser.hpp"

namespace fastws::detail {

namespace {

struct Authority {
  std::string_view host;
  std::string_view port;
};

// Splits "host[:port]" or "[v6]:port"; the port is "" when absent.
Authority split_authority(std::string_view text) {
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return {text, {}};
    std::string_view rest = text.substr(close + 1);
    return {text.substr(0, close + 1), rest.starts_with(':') ? rest.substr(1) : std::string_view()};
  }
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return {text, {}};
  return {text.substr(0, colon), text.substr(colon + 1)};
}

bool same_origin(std::string_view origin, std::string_view host) {
  // origin = scheme "://" host [ ":" port ] (RFC 6454 6.2); anything else ("null", a path) fails.
  const auto scheme_end = origin.find("://");
  if (scheme_end == std::string_view::npos) return false;
  const std::string_view scheme = origin.substr(0, scheme_end);
  const std::string_view authority = origin.substr(scheme_end + 3);
  if (authority.empty() || authority.find_first_of("/?#@") != std::string_view::npos) return false;
  const bool secure = protocol::iequals(scheme, "https") || protocol::iequals(scheme, "wss");
  if (!secure && !protocol::iequals(scheme, "http") && !protocol::iequals(scheme, "ws")) {
    return false;
  }
  const std::string_view default_port = secure ? "443" : "80";
  Authority from = split_authority(authority);
  Authority to = split_authority(host);
  if (from.port.empty()) from.port = default_port;
  if (to.port.empty()) to.port = default_port;
  return protocol::iequals(from.host, to.host) && from.port == to.port;
}

}  // namespace

bool origin_allowed(const OriginPolicy& policy, std::string_view origin, std::string_view host) {
  switch (policy.mode) {
    case OriginPolicy::Mode::any:
      return true;
    case OriginPolicy::Mode::same_origin:
      return same_origin(origin, host);
    case OriginPolicy::Mode::allow_list:
      // Whole-string comparison: "https://app.example.com.evil.com" is not a prefix match.
      return std::any_of(
          policy.allowed.begin(), policy.allowed.end(),
          [&](const std::string& allowed) { return protocol::iequals(allowed, origin); });
    case OriginPolicy::Mode::custom:
      return policy.check && policy.check(origin, host);
  }
  return false;
}

}  // namespace fastws::detail
