// Redis URLs of the scale-out (--redis in the examples): the forms redis-cli accepts, the
// credentials percent-decoded and never printed, and clear refusals.
#include "redis_url.hpp"

#include <gtest/gtest.h>

#include <string>

namespace fastws::redis::detail {
namespace {

RedisUrl parsed(std::string_view text) {
  std::string error;
  auto url = parse_redis_url(text, error);
  EXPECT_TRUE(url.has_value()) << text << ": " << error;
  return url.value_or(RedisUrl{});
}

std::string refusal(std::string_view text) {
  std::string error;
  EXPECT_FALSE(parse_redis_url(text, error).has_value()) << text;
  return error;
}

TEST(RedisUrl, HostAndPortWithDefaults) {
  const RedisUrl plain = parsed("redis://10.0.0.5");
  EXPECT_FALSE(plain.tls);
  EXPECT_EQ(plain.host, "10.0.0.5");
  EXPECT_EQ(plain.port, 6379);
  EXPECT_FALSE(plain.has_password);
  const RedisUrl secure = parsed("rediss://cache.example:6380/0");
  EXPECT_TRUE(secure.tls);
  EXPECT_EQ(secure.host, "cache.example");
  EXPECT_EQ(secure.port, 6380);
  const RedisUrl v6 = parsed("redis://[::1]:7000");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 7000);
  EXPECT_EQ(v6.describe(), "redis://[::1]:7000");
}

TEST(RedisUrl, CredentialsForRequirepassAndAcl) {
  const RedisUrl password_only = parsed("redis://:s3cret@127.0.0.1:6379");
  EXPECT_TRUE(password_only.has_password);
  EXPECT_EQ(password_only.user, "");
  EXPECT_EQ(password_only.password, "s3cret");
  const RedisUrl bare_password = parsed("redis://s3cret@127.0.0.1");
  EXPECT_EQ(bare_password.user, "");
  EXPECT_EQ(bare_password.password, "s3cret");
  const RedisUrl acl = parsed("redis://node%2D1:p%40ss%3Aword@127.0.0.1:6379");
  EXPECT_EQ(acl.user, "node-1");
  EXPECT_EQ(acl.password, "p@ss:word");
  EXPECT_EQ(acl.describe(), "redis://127.0.0.1:6379");  // no credentials in messages
  const RedisUrl empty_password = parsed("redis://ann:@h");
  EXPECT_TRUE(empty_password.has_password);
  EXPECT_EQ(empty_password.user, "ann");
  EXPECT_EQ(empty_password.password, "");
}

TEST(RedisUrl, RefusesWhatItCannotUse) {
  EXPECT_EQ(refusal("http://h:6379"), "a Redis URL starts with redis:// or rediss://");
  EXPECT_EQ(refusal("redis://"), "the Redis URL names no host");
  EXPECT_EQ(refusal("redis://h:0"), "bad port in the Redis URL");
  EXPECT_EQ(refusal("redis://h:65536"), "bad port in the Redis URL");
  EXPECT_EQ(refusal("redis://h:"), "bad port in the Redis URL");
  EXPECT_EQ(refusal("redis://h/x"), "the path of a Redis URL is a database number");
  EXPECT_EQ(refusal("redis://h?db=1"), "a Redis URL has no query or fragment");
  EXPECT_EQ(refusal("redis://:%zz@h"), "bad percent-escape in the credentials of the Redis URL");
  EXPECT_EQ(refusal("redis://::1:6379"), "an IPv6 host in a Redis URL goes in brackets");
  EXPECT_EQ(refusal("redis://[::1"), "unclosed '[' in the host of the Redis URL");
}

}  // namespace
}  // namespace fastws::redis::detail
