// Which proxy a client connection uses (src/client/proxy_url.hpp): proxy URLs, the environment's
// proxy variables with a stand-in environment, and NO_PROXY matching.
#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>

#include "client/proxy_url.hpp"

namespace fastws::detail {
namespace {

ProxyUrl parsed(std::string_view text) {
  std::string error;
  std::optional<ProxyUrl> url = parse_proxy_url(text, error);
  EXPECT_TRUE(url.has_value()) << text << ": " << error;
  return url.value_or(ProxyUrl{});
}

std::string refusal(std::string_view text) {
  std::string error;
  EXPECT_FALSE(parse_proxy_url(text, error).has_value()) << text;
  return error;
}

TEST(ProxyUrl, HttpWithCredentialsAndPort) {
  const ProxyUrl url = parsed("http://alice:s3cret@proxy.example:3128");
  EXPECT_EQ(url.kind, ProxyKind::http);
  EXPECT_EQ(url.host, "proxy.example");
  EXPECT_EQ(url.port, 3128);
  EXPECT_TRUE(url.has_credentials);
  EXPECT_EQ(url.username, "alice");
  EXPECT_EQ(url.password, "s3cret");
  EXPECT_EQ(url.describe(), "HTTP proxy proxy.example:3128");  // no credentials in errors
}

TEST(ProxyUrl, DefaultsSchemesAndSpellings) {
  EXPECT_EQ(parsed("http://proxy").port, 80);
  EXPECT_EQ(parsed("socks5://proxy").port, 1080);
  EXPECT_EQ(parsed("socks5h://proxy:9050").kind, ProxyKind::socks5);
  EXPECT_EQ(parsed("SOCKS5://proxy").kind, ProxyKind::socks5);
  // Environment values often have no scheme, or a trailing slash.
  const ProxyUrl bare = parsed("proxy.corp:8080");
  EXPECT_EQ(bare.kind, ProxyKind::http);
  EXPECT_EQ(bare.port, 8080);
  EXPECT_EQ(parsed("http://proxy.corp:8080/").host, "proxy.corp");
  EXPECT_FALSE(parsed("http://proxy").has_credentials);
}

TEST(ProxyUrl, Ipv6LiteralsAreBracketed) {
  const ProxyUrl url = parsed("socks5://[::1]:1080");
  EXPECT_EQ(url.host, "::1");
  EXPECT_EQ(url.describe(), "SOCKS5 proxy [::1]:1080");
  refusal("http://::1:3128");
  refusal("http://[::1");
  refusal("http://[::1]x");
  refusal("http://[proxy]:80");
}

TEST(ProxyUrl, CredentialsArePercentDecoded) {
  const ProxyUrl url = parsed("http://us%40er:p%3Aa%25ss%20@proxy:3128");
  EXPECT_EQ(url.username, "us@er");
  EXPECT_EQ(url.password, "p:a%ss ");
  // An empty password is a password; no password at all is an empty one too.
  const ProxyUrl user_only = parsed("socks5://bob@proxy");
  EXPECT_TRUE(user_only.has_credentials);
  EXPECT_EQ(user_only.username, "bob");
  EXPECT_EQ(user_only.password, "");
  // The last '@' ends the user info.
  EXPECT_EQ(parsed("http://a@b:c@proxy").username, "a@b");
}

TEST(ProxyUrl, RefusesWhatItCannotUse) {
  EXPECT_NE(refusal("https://proxy:443").find("unsupported proxy scheme 'https'"),
            std::string::npos);
  EXPECT_NE(refusal("ftp://proxy").find("'ftp'"), std::string::npos);
  EXPECT_NE(refusal("http://proxy:3128/path").find("no path"), std::string::npos);
  refusal("http://proxy:3128?x=1");
  refusal("http://proxy:3128#top");
  EXPECT_NE(refusal("http://proxy:0").find("port"), std::string::npos);
  refusal("http://proxy:65536");
  refusal("http://proxy:");
  refusal("http://proxy:80x");
  refusal("http://");
  refusal("http://:3128");
  refusal("http://pro xy:3128");
  refusal("http://proxy\r\nX: y");
  EXPECT_NE(refusal("http://a%4:b@proxy").find("percent"), std::string::npos);
  refusal("http://a%zz@proxy");
  EXPECT_NE(refusal("http://a%3Ab:c@proxy").find("':'"), std::string::npos);  // RFC 7617
  EXPECT_NE(refusal("socks5://" + std::string(256, 'u') + ":p@proxy").find("255"),
            std::string::npos);
  refusal("socks5://u:" + std::string(256, 'p') + "@proxy");
  refusal("socks5://:pass@proxy");  // RFC 1929: a user name of at least one byte
}

TEST(NoProxyList, NamesMatchThemselvesAndTheirSubdomains) {
  const NoProxyList list("example.com, .internal.net,*.corp.org");
  EXPECT_TRUE(list.bypasses("example.com", 443));
  EXPECT_TRUE(list.bypasses("api.example.com", 80));
  EXPECT_TRUE(list.bypasses("API.Example.COM.", 80));  // case and a trailing dot
  EXPECT_FALSE(list.bypasses("notexample.com", 80));   // a dot boundary, not any suffix
  EXPECT_FALSE(list.bypasses("example.com.evil", 80));
  EXPECT_TRUE(list.bypasses("internal.net", 80));
  EXPECT_TRUE(list.bypasses("a.b.internal.net", 80));
  EXPECT_TRUE(list.bypasses("x.corp.org", 80));
  EXPECT_TRUE(list.bypasses("corp.org", 80));
  EXPECT_FALSE(list.bypasses("other.org", 80));
}

TEST(NoProxyList, AddressesMatchExactlyAndPortsNarrow) {
  const NoProxyList list("10.0.0.1,[::1]:8080,fe80::2,localhost:9000");
  EXPECT_TRUE(list.bypasses("10.0.0.1", 1));
  EXPECT_FALSE(list.bypasses("110.0.0.1", 1));
  EXPECT_FALSE(list.bypasses("10.0.0.10", 1));
  EXPECT_TRUE(list.bypasses("::1", 8080));
  EXPECT_FALSE(list.bypasses("::1", 8081));
  EXPECT_TRUE(list.bypasses("fe80::2", 443));
  EXPECT_TRUE(list.bypasses("localhost", 9000));
  EXPECT_FALSE(list.bypasses("localhost", 9001));
  EXPECT_FALSE(list.bypasses("127.0.0.1", 9000));  // loopback is not special
}

TEST(NoProxyList, StarEmptyAndUnreadableEntries) {
  EXPECT_TRUE(NoProxyList(" * ").bypasses("anything.example", 1));
  EXPECT_FALSE(NoProxyList("").bypasses("example.com", 80));
  EXPECT_FALSE(NoProxyList(",, ,").bypasses("example.com", 80));
  const NoProxyList list("host:notaport,.,good.example");
  EXPECT_FALSE(list.bypasses("host", 80));
  EXPECT_TRUE(list.bypasses("good.example", 80));
  EXPECT_FALSE(list.bypasses("example", 80));
}

// A stand-in environment; counts reads so a test can tell that "" reads nothing.
struct FakeEnvironment {
  std::map<std::string, std::string> variables;
  int reads = 0;
  ProxyConfig::Environment lookup() {
    return [this](const char* name) -> const char* {
      ++reads;
      const auto found = variables.find(name);
      return found == variables.end() ? nullptr : found->second.c_str();
    };
  }
};

ProxyConfig config(std::string_view option, FakeEnvironment& environment) {
  std::string error;
  std::optional<ProxyConfig> made = ProxyConfig::make(option, environment.lookup(), error);
  EXPECT_TRUE(made.has_value()) << error;
  return made.value_or(ProxyConfig{});
}

std::string chosen_host(const ProxyConfig& config, bool secure, std::string_view host = "x.test",
                        std::uint16_t port = 443) {
  const ProxyChoice& choice = config.choose(secure, host, port);
  EXPECT_EQ(choice.error, "");
  return choice.proxy ? choice.proxy->host : "direct";
}

TEST(ProxyConfig, EmptyMeansDirectWithoutReadingTheEnvironment) {
  FakeEnvironment environment{{{"https_proxy", "http://p:1"}, {"http_proxy", "http://p:1"}}};
  const ProxyConfig none = config("", environment);
  EXPECT_EQ(chosen_host(none, true), "direct");
  EXPECT_EQ(chosen_host(none, false), "direct");
  EXPECT_EQ(environment.reads, 0);
}

TEST(ProxyConfig, AnExplicitUrlServesBothSchemesAndIgnoresNoProxy) {
  FakeEnvironment environment{{{"no_proxy", "*"}}};
  const ProxyConfig explicit_proxy = config("socks5://socks.test:1080", environment);
  EXPECT_EQ(chosen_host(explicit_proxy, true), "socks.test");
  EXPECT_EQ(chosen_host(explicit_proxy, false), "socks.test");
}

TEST(ProxyConfig, EnvironmentPicksTheSchemesVariableThenAllProxy) {
  FakeEnvironment environment{{{"https_proxy", "http://secure.test:1"},
                               {"http_proxy", "http://plain.test:2"},
                               {"ALL_PROXY", "socks5://all.test"}}};
  const ProxyConfig both = config("env", environment);
  EXPECT_EQ(chosen_host(both, true), "secure.test");
  EXPECT_EQ(chosen_host(both, false), "plain.test");

  FakeEnvironment only_all{{{"ALL_PROXY", "socks5://all.test"}, {"http_proxy", ""}}};
  const ProxyConfig fallback = config("env", only_all);
  EXPECT_EQ(chosen_host(fallback, true), "all.test");
  EXPECT_EQ(chosen_host(fallback, false), "all.test");  // an empty value counts as unset

  FakeEnvironment none;
  EXPECT_EQ(chosen_host(config("env", none), true), "direct");
}

TEST(ProxyConfig, LowercaseWinsOverUppercase) {
  FakeEnvironment environment{{{"https_proxy", "http://lower.test"},
                               {"HTTPS_PROXY", "http://upper.test"},
                               {"HTTP_PROXY", "http://upper-plain.test"}}};
  const ProxyConfig made = config("env", environment);
  EXPECT_EQ(chosen_host(made, true), "lower.test");
  EXPECT_EQ(chosen_host(made, false), "upper-plain.test");
}

TEST(ProxyConfig, NoProxyBypassesListedHosts) {
  FakeEnvironment environment{{{"all_proxy", "http://proxy.test:3128"},
                               {"NO_PROXY", "internal.test,127.0.0.1:8443"},
                               {"no_proxy", "internal.test,127.0.0.1:9443"}}};
  const ProxyConfig made = config("env", environment);  // no_proxy wins over NO_PROXY
  EXPECT_EQ(chosen_host(made, true, "api.internal.test"), "direct");
  EXPECT_EQ(chosen_host(made, true, "127.0.0.1", 9443), "direct");
  EXPECT_EQ(chosen_host(made, true, "127.0.0.1", 8443), "proxy.test");
  EXPECT_EQ(chosen_host(made, false, "public.test", 80), "proxy.test");
}

TEST(ProxyConfig, ABadVariableFailsOnlyTheSchemeThatUsesItAndNamesIt) {
  FakeEnvironment environment{
      {{"HTTPS_PROXY", "https://proxy.test"}, {"http_proxy", "http://fine.test"}}};
  const ProxyConfig made = config("env", environment);
  const ProxyChoice& secure = made.choose(true, "x.test", 443);
  EXPECT_FALSE(secure.proxy.has_value());
  EXPECT_EQ(secure.error.rfind("HTTPS_PROXY: unsupported proxy scheme 'https'", 0), 0u)
      << secure.error;
  EXPECT_EQ(chosen_host(made, false), "fine.test");
}

TEST(ProxyConfig, AnUnusableOptionIsRefused) {
  FakeEnvironment environment;
  std::string error;
  EXPECT_FALSE(ProxyConfig::make("ftp://x", environment.lookup(), error).has_value());
  EXPECT_NE(error.find("'ftp'"), std::string::npos);
  EXPECT_THROW(ProxyConfig::from_option("http://proxy:99999"), std::invalid_argument);
  EXPECT_NO_THROW(ProxyConfig::from_option("http://proxy:3128"));
}

}  // namespace
}  // namespace fastws::detail
