#include "redis_url.hpp"

#include <charconv>

#include "protocol/percent_decode.hpp"

namespace fastws::redis::detail {

namespace {

bool parse_port(std::string_view text, std::uint16_t& port) {
  unsigned value = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || stop != end || value == 0 || value > 65535) {
    return false;
  }
  port = static_cast<std::uint16_t>(value);
  return true;
}

bool all_digits(std::string_view text) {
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::string RedisUrl::describe() const {
  const bool v6 = host.find(':') != std::string::npos;
  return std::string(tls ? "rediss://" : "redis://") + (v6 ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

std::optional<RedisUrl> parse_redis_url(std::string_view text, std::string& error) {
  RedisUrl url;
  if (text.starts_with("redis://")) {
    text.remove_prefix(8);
  } else if (text.starts_with("rediss://")) {
    text.remove_prefix(9);
    url.tls = true;
  } else {
    error = "a Redis URL starts with redis:// or rediss://";
    return std::nullopt;
  }
  if (text.find_first_of("?#") != std::string_view::npos) {
    error = "a Redis URL has no query or fragment";
    return std::nullopt;
  }
  // The database, if any: "/" or "/<number>".
  if (const auto slash = text.find('/'); slash != std::string_view::npos) {
    if (!all_digits(text.substr(slash + 1))) {
      error = "the path of a Redis URL is a database number";
      return std::nullopt;
    }
    text = text.substr(0, slash);
  }
  if (const auto at = text.rfind('@'); at != std::string_view::npos) {
    const std::string_view credentials = text.substr(0, at);
    text.remove_prefix(at + 1);
    const auto colon = credentials.find(':');
    const std::string_view user = credentials.substr(0, colon);
    const std::string_view password =
        colon == std::string_view::npos ? std::string_view() : credentials.substr(colon + 1);
    // "redis://secret@host" is read as a password alone, as redis-cli reads it.
    const bool password_only = colon == std::string_view::npos;
    if (!protocol::percent_decode(password_only ? user : password, url.password) ||
        !protocol::percent_decode(password_only ? std::string_view() : user, url.user)) {
      error = "bad percent-escape in the credentials of the Redis URL";
      return std::nullopt;
    }
    url.has_password = true;
  }
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      error = "unclosed '[' in the host of the Redis URL";
      return std::nullopt;
    }
    url.host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) {
      error = "unexpected characters after the host of the Redis URL";
      return std::nullopt;
    }
    if (!rest.empty()) port = rest.substr(1);
  } else {
    const auto colon = text.rfind(':');
    url.host = text.substr(0, colon);
    if (colon != std::string_view::npos) port = text.substr(colon + 1);
    if (url.host.find(':') != std::string::npos) {
      error = "an IPv6 host in a Redis URL goes in brackets";
      return std::nullopt;
    }
  }
  if (url.host.empty()) {
    error = "the Redis URL names no host";
    return std::nullopt;
  }
  if (!port.empty() || text.ends_with(':')) {
    if (!parse_port(port, url.port)) {
      error = "bad port in the Redis URL";
      return std::nullopt;
    }
  }
  return url;
}

}  // namespace fastws::redis::detail
