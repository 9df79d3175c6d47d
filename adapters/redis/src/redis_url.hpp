// Where a node finds Redis and how it proves who it is, from a URL:
//   redis://[[user]:password@]host[:port][/db]     rediss://... for TLS
// as redis-cli, hiredis and most clients read it. The port defaults to 6379; an IPv6 host is
// bracketed ("redis://[::1]:6379"); user and password are percent-decoded ("p%40ss" -> "p@ss").
// The database number is accepted and ignored: pub/sub channels do not belong to a database.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fastws::redis::detail {

struct RedisUrl {
  bool tls = false;  // rediss://
  std::string host;  // a name, or an IP address without brackets
  std::uint16_t port = 6379;
  // AUTH: `AUTH password` when there is a password and no user, `AUTH user password` with both.
  std::string user;
  std::string password;
  bool has_password = false;

  // For messages: "redis://127.0.0.1:6379" (never the credentials).
  std::string describe() const;
};

// The URL, or nullopt with `error` saying what is wrong with it.
std::optional<RedisUrl> parse_redis_url(std::string_view text, std::string& error);

}  // namespace fastws::redis::detail
