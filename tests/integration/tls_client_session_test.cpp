// The client side of TLS in the net layer, against the fastws server over 127.0.0.1 with a
// certificate made at test time (for "localhost" and 127.0.0.1): verification is on by default,
// the certificate must name the host dialed (a DNS name or an IP address), a CA file replaces
// the system's store, and only the explicit setting turns checking off.
#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <string>
#include <vector>

#include "net/socket.hpp"
#include "net/socket_address.hpp"
#include "net/tls_context.hpp"
#include "net/tls_stream.hpp"
#include "net/unique_fd.hpp"
#include "server_test_support.hpp"
#include "tls_test_support.hpp"

namespace fastws::testing {
namespace {

struct HandshakeOutcome {
  bool done = false;
  std::string error;
};

class TlsClientSession : public ::testing::Test {
 protected:
  void SetUp() override { server_.start(); }

  // Dials the server and runs a client TLS handshake that expects the certificate to name
  // `host`; bounded by 5 s.
  HandshakeOutcome handshake(const net::TlsClientSettings& settings, const std::string& host) {
    std::string error;
    auto context = net::TlsContext::client(settings, error);
    if (!context) return {false, "context: " + error};
    std::vector<net::SocketAddress> addresses;
    EXPECT_FALSE(net::resolve("127.0.0.1", server_.port(), addresses));
    net::UniqueFd socket;
    bool in_progress = false;
    EXPECT_FALSE(net::connect_nonblocking(addresses.at(0), socket, in_progress));
    if (in_progress) {
      wait_for(socket.get(), POLLOUT);
      EXPECT_FALSE(net::connect_result(socket.get()));
    }
    auto stream = net::TlsStream::connect(*context, socket.get(), host, error);
    if (!stream) return {false, "session: " + error};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      switch (stream->handshake(error)) {
        case net::TlsStream::Handshake::done:
          return {true, {}};
        case net::TlsStream::Handshake::failed:
          return {false, error};
        case net::TlsStream::Handshake::in_progress:
          wait_for(socket.get(), stream->needs_writable() ? POLLOUT : POLLIN);
      }
    }
    return {false, "handshake did not finish within 5 s"};
  }

  static void wait_for(int fd, short events) {
    pollfd watched{fd, events, 0};
    ::poll(&watched, 1, 1000);
  }

  static net::TlsClientSettings trusting_test_ca() {
    net::TlsClientSettings settings;
    settings.ca_file = TestCertificate::get().certificate_file;
    return settings;
  }

  TestServer server_{tls_server_options()};
};

TEST_F(TlsClientSession, VerifiesTheServerByNameAndByIpAddress) {
  EXPECT_TRUE(handshake(trusting_test_ca(), "localhost").done);
  EXPECT_TRUE(handshake(trusting_test_ca(), "127.0.0.1").done);
}

TEST_F(TlsClientSession, RefusesACertificateForAnotherName) {
  const HandshakeOutcome outcome = handshake(trusting_test_ca(), "example.org");
  EXPECT_FALSE(outcome.done);
  EXPECT_NE(outcome.error.find("certificate verification failed: hostname mismatch"),
            std::string::npos)
      << outcome.error;
}

TEST_F(TlsClientSession, RefusesACertificateForAnotherIpAddress) {
  const HandshakeOutcome outcome = handshake(trusting_test_ca(), "127.0.0.2");
  EXPECT_FALSE(outcome.done);
  EXPECT_NE(outcome.error.find("IP address mismatch"), std::string::npos) << outcome.error;
}

TEST_F(TlsClientSession, TheSystemStoreDoesNotTrustASelfSignedCertificate) {
  const HandshakeOutcome outcome = handshake(net::TlsClientSettings{}, "localhost");
  EXPECT_FALSE(outcome.done);
  EXPECT_NE(outcome.error.find("certificate verification failed: self-signed certificate"),
            std::string::npos)
      << outcome.error;
}

TEST_F(TlsClientSession, VerificationOffAcceptsAnyCertificate) {
  net::TlsClientSettings settings;
  settings.verify_peer = false;
  EXPECT_TRUE(handshake(settings, "example.org").done);
}

TEST_F(TlsClientSession, AMissingCaFileIsAClearError) {
  net::TlsClientSettings settings;
  settings.ca_file = "/nonexistent/ca.pem";
  const HandshakeOutcome outcome = handshake(settings, "localhost");
  EXPECT_FALSE(outcome.done);
  EXPECT_NE(outcome.error.find("cannot load the CA file or directory '/nonexistent/ca.pem'"),
            std::string::npos)
      << outcome.error;
}

}  // namespace
}  // namespace fastws::testing
