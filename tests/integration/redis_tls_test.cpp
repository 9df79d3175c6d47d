// Scale-out to a Redis that speaks only TLS (rediss://): the nodes verify its certificate,
// authenticate inside the session and carry publishes across; a certificate they cannot verify
// is refused, and said.
#include <gtest/gtest.h>

#include <string>

#include "redis_test_support.hpp"
#include "tls_test_support.hpp"

namespace fastws::testing {
namespace {

// redis-server with its TLS port only (port 0 turns the plain one off), with the tests'
// certificate; clients need no certificate of their own.
std::unique_ptr<ProxyProcess> start_tls_redis(const std::string& program,
                                              const std::string& extra = {}) {
  const TestCertificate& files = TestCertificate::get();
  auto process = std::make_unique<ProxyProcess>(
      program, std::vector<std::string>{"{config}"},
      "port 0\ntls-port {port}\nbind 127.0.0.1\nsave \"\"\nappendonly no\ntls-auth-clients no\n"
      "tls-cert-file " +
          files.certificate_file + "\ntls-key-file " + files.key_file + "\n" + extra);
  return process;
}

redis::Options tls_options(std::uint16_t port, const std::string& credentials = {}) {
  redis::Options options = test_redis_options(port, credentials);
  options.url = "rediss://" + credentials + "127.0.0.1:" + std::to_string(port);
  options.tls.ca_file = TestCertificate::get().certificate_file;
  return options;
}

TEST(RedisTls, NodesVerifyRedisAndAuthenticateInsideTheSession) {
  FASTWS_REQUIRE_PROGRAM(program, "redis-server", "redis-server");
  auto redis_server = start_tls_redis(program, "requirepass s3cret\n");
  ASSERT_TRUE(redis_server->ready()) << redis_server->log();
  expect_connected_pair(tls_options(redis_server->port(), ":s3cret@"));
}

TEST(RedisTls, ACertificateTheNodeCannotVerifyIsRefused) {
  FASTWS_REQUIRE_PROGRAM(program, "redis-server", "redis-server");
  auto redis_server = start_tls_redis(program);
  ASSERT_TRUE(redis_server->ready()) << redis_server->log();
  redis::Options options = tls_options(redis_server->port());
  options.tls.ca_file.clear();  // the system's CAs do not know the tests' certificate
  Recorded<std::string> reasons;
  options.on_state = [&](redis::State, std::string_view reason) {
    reasons.add(std::string(reason));
  };
  Node node([](Server&) {}, options);
  ASSERT_TRUE(reasons.wait_for(1, 5s));
  EXPECT_NE(reasons.all()[0].find("TLS handshake with rediss://127.0.0.1"), std::string::npos)
      << reasons.all()[0];
  EXPECT_NE(reasons.all()[0].find("certificate verification failed"), std::string::npos)
      << reasons.all()[0];
  EXPECT_NE(node.scaleout().state(), redis::State::connected);
}

}  // namespace
}  // namespace fastws::testing
