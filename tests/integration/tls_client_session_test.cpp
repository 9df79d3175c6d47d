// The client side of TLS in the net layer, against the fastws server over 127.0.0.1 with a
// certificate made at test time (for "localhost" and 127.0.0.1): verification is on by default,
// the certificate must name the host dialed (a DNS name or an IP address), a CA file replaces
// the system's store, and only the explicit setting turns checking off. After the handshake the
// client's records are fastws's (the SSL object is freed), in TLS 1.3 and 1.2: the upgrade and
// messages of 1 MiB both ways go through them.
#include <gtest/gtest.h>
#include <poll.h>

#include <openssl/ssl.h>

#include <chrono>
#include <string>
#include <vector>

#include "fastws/frame.hpp"
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
  net::UniqueFd socket;
  std::unique_ptr<net::TlsStream> stream;  // the session, once done
};

class TlsClientSession : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.server().on_message(
        [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
    server_.start();
  }

  // Dials the server and runs a client TLS handshake that expects the certificate to name
  // `host`, in TLS `max_version` at most (0: the newest); bounded by 5 s.
  HandshakeOutcome handshake(const net::TlsClientSettings& settings, const std::string& host,
                             int max_version = 0) {
    std::string error;
    auto context = net::TlsContext::client(settings, error);
    if (!context) return {false, "context: " + error};
    if (max_version != 0) SSL_CTX_set_max_proto_version(context->get(), max_version);
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
          return {true, {}, std::move(socket), std::move(stream)};
        case net::TlsStream::Handshake::failed:
          return {false, error};
        case net::TlsStream::Handshake::in_progress:
          wait_for(socket.get(), stream->needs_writable() ? POLLOUT : POLLIN);
      }
    }
    return {false, "handshake did not finish within 5 s"};
  }

  // Writes all of `bytes` through `session`, waiting for room; bounded by 10 s.
  static void write_all(HandshakeOutcome& session, std::span<const std::byte> bytes) {
    std::size_t sent = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (sent < bytes.size() && std::chrono::steady_clock::now() < deadline) {
      const iovec rest{const_cast<std::byte*>(bytes.data()) + sent, bytes.size() - sent};
      const net::IoResult result = session.stream->write({&rest, 1});
      if (result.status == net::IoStatus::done) {
        sent += result.bytes;
      } else {
        ASSERT_EQ(result.status, net::IoStatus::would_block) << result.error->message();
        wait_for(session.socket.get(), POLLOUT);
      }
    }
    EXPECT_EQ(sent, bytes.size());
  }

  // Reads exactly `size` bytes from `session`; bounded by 10 s.
  static std::vector<std::byte> read_exactly(HandshakeOutcome& session, std::size_t size) {
    std::vector<std::byte> bytes(size);
    std::size_t got = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (got < size && std::chrono::steady_clock::now() < deadline) {
      const net::IoResult result = session.stream->read(std::span(bytes).subspan(got));
      if (result.status == net::IoStatus::done) {
        got += result.bytes;
      } else if (result.status == net::IoStatus::would_block) {
        wait_for(session.socket.get(), session.stream->needs_writable() ? POLLOUT : POLLIN);
      } else {
        ADD_FAILURE() << "read: "
                      << (result.error ? result.error->message() : std::string("end of file"));
        break;
      }
    }
    bytes.resize(got);
    return bytes;
  }

  // The upgrade, then messages echoed by the server: a small one and 1 MiB.
  static void upgrade_and_echo(HandshakeOutcome& session) {
    const std::string request = RawPeer::upgrade_request();
    write_all(session, to_bytes(request));
    std::string head;
    while (!head.ends_with("\r\n\r\n")) {
      const std::vector<std::byte> next = read_exactly(session, 1);
      ASSERT_EQ(next.size(), 1u) << "after " << head;
      head += static_cast<char>(next[0]);
    }
    ASSERT_TRUE(head.starts_with("HTTP/1.1 101 ")) << head;
    for (const std::size_t size : {5u, 1u << 20}) {
      SCOPED_TRACE(std::to_string(size) + " bytes");
      std::vector<std::byte> payload(size);
      for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<std::byte>(i * 7 + 1);
      Frame frame = Frame::binary(payload);
      frame.mask = MaskKey{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
      write_all(session, frame.serialize());
      // The echo, unmasked: 0x82 and the length (7 bits, or 127 and 64 bits).
      const std::size_t header_size = size < 126 ? 2 : 10;
      const std::vector<std::byte> header = read_exactly(session, header_size);
      ASSERT_EQ(header.size(), header_size);
      EXPECT_EQ(header[0], std::byte{0x82});
      EXPECT_EQ(header[1], std::byte{static_cast<unsigned char>(size < 126 ? size : 127)});
      EXPECT_EQ(read_exactly(session, size), payload);
    }
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

TEST_F(TlsClientSession, HandsTheRecordsOverAfterTheHandshakeInTls13AndTls12) {
  for (const int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    SCOPED_TRACE(version == TLS1_3_VERSION ? "TLS 1.3" : "TLS 1.2");
    HandshakeOutcome session = handshake(trusting_test_ca(), "localhost", version);
    ASSERT_TRUE(session.done) << session.error;
    EXPECT_TRUE(session.stream->records_handed_over());
    upgrade_and_echo(session);
  }
}

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
