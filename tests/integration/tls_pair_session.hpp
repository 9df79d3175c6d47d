// One fastws TlsStream and one OpenSSL session on the two ends of a non-blocking socket pair,
// driven in turns on this thread, for the tests of the records fastws protects itself after the
// handshake: tls_record_layer_test (fastws the server), tls_client_record_layer_test (fastws the
// client). Also the suites and the checks the two sides share.
#pragma once

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "net/tls_context.hpp"
#include "net/tls_stream.hpp"
#include "tls_test_support.hpp"

namespace fastws::testing {

// A protocol version and one of its cipher suites (an OpenSSL name), and whether fastws takes
// the records of a session that negotiates it.
struct Suite {
  int version;
  const char* name;
  bool handed_over;
};

inline std::string suite_name(const ::testing::TestParamInfo<Suite>& suite) {
  std::string name =
      std::string(suite.param.version == TLS1_3_VERSION ? "Tls13_" : "Tls12_") + suite.param.name;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

// Limits `context` to `suite`'s version and cipher suite.
inline void restrict_to(SSL_CTX* context, const Suite& suite) {
  SSL_CTX_set_min_proto_version(context, suite.version);
  SSL_CTX_set_max_proto_version(context, suite.version);
  if (suite.version == TLS1_3_VERSION) {
    SSL_CTX_set_ciphersuites(context, suite.name);
  } else {
    SSL_CTX_set_cipher_list(context, suite.name);
  }
}

// Every AEAD suite of TLS 1.3 and 1.2, whose records fastws takes, and a CBC suite, whose records
// stay with OpenSSL.
inline constexpr Suite every_suite[] = {
    {TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", true},
    {TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384", true},
    {TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256", true},
    {TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", true},
    {TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384", true},
    {TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305", true},
    {TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA256", false},
};

inline std::vector<std::byte> pattern(std::size_t size, unsigned seed) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>(i * 31 + seed);
  return bytes;
}

class TlsPairSession {
 public:
  enum class FastwsSide : std::uint8_t { server, client };

  // fastws is `side`, with `context` (a client expects the certificate to name "localhost");
  // OpenSSL the other side, with `peer_context` (a client resuming `resume` when given).
  TlsPairSession(FastwsSide side, const net::TlsContext& context, SslContext peer_context,
                 SSL_SESSION* resume = nullptr)
      : peer_context_(std::move(peer_context)) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) != 0)
      throw std::runtime_error("socketpair");
    fastws_fd_ = fds[0];
    peer_fd_ = fds[1];
    peer_ = SSL_new(peer_context_.get());
    SSL_set_fd(peer_, peer_fd_);
    if (side == FastwsSide::server) {
      fastws_ = net::TlsStream::accept(context, fastws_fd_);
      SSL_set1_host(peer_, "localhost");
      if (resume != nullptr) SSL_set_session(peer_, resume);
      SSL_set_connect_state(peer_);
    } else {
      std::string error;
      fastws_ = net::TlsStream::connect(context, fastws_fd_, "localhost", error);
      if (!fastws_) throw std::runtime_error(error);
      SSL_set_accept_state(peer_);
    }
  }
  TlsPairSession(const TlsPairSession&) = delete;
  TlsPairSession& operator=(const TlsPairSession&) = delete;
  ~TlsPairSession() {
    // An SSL freed before a shutdown marks its session not resumable.
    SSL_set_shutdown(peer_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(peer_);
    fastws_.reset();
    ::close(fastws_fd_);
    ::close(peer_fd_);
  }

  bool handshake() {
    bool peer_done = false;
    bool fastws_done = false;
    for (int turn = 0; turn < 1000 && !(peer_done && fastws_done); ++turn) {
      if (!peer_done) {
        const int result = SSL_do_handshake(peer_);
        if (result == 1)
          peer_done = true;
        else if (SSL_get_error(peer_, result) != SSL_ERROR_WANT_READ)
          return false;
      }
      if (!fastws_done) {
        std::string error;
        const auto step = fastws_->handshake(error);
        if (step == net::TlsStream::Handshake::failed) {
          ADD_FAILURE() << error;
          return false;
        }
        fastws_done = step == net::TlsStream::Handshake::done;
      }
    }
    return peer_done && fastws_done;
  }

  // OpenSSL to fastws: every byte arrives, in order.
  void peer_to_fastws(const std::vector<std::byte>& data) {
    transfer(
        data,
        [this](std::span<const std::byte> rest, std::size_t& wrote) {
          if (SSL_write_ex(peer_, rest.data(), rest.size(), &wrote) != 1) {
            wrote = 0;
            ASSERT_EQ(SSL_get_error(peer_, 0), SSL_ERROR_WANT_WRITE);
          }
        },
        [this](std::span<std::byte> buffer, std::size_t& got) {
          const net::IoResult result = fastws_->read(buffer);
          if (result.status == net::IoStatus::done) {
            got = result.bytes;
          } else {
            ASSERT_EQ(result.status, net::IoStatus::would_block) << result.error->message();
          }
        });
  }

  // fastws to OpenSSL, through partial writes: the bytes not reported written go again.
  void fastws_to_peer(const std::vector<std::byte>& data) {
    transfer(
        data,
        [this](std::span<const std::byte> rest, std::size_t& wrote) {
          const iovec buffer{const_cast<std::byte*>(rest.data()), rest.size()};
          const net::IoResult result = fastws_->write({&buffer, 1});
          if (result.status == net::IoStatus::done) {
            wrote = result.bytes;
          } else {
            ASSERT_EQ(result.status, net::IoStatus::would_block) << result.error->message();
          }
        },
        [this](std::span<std::byte> buffer, std::size_t& got) {
          if (SSL_read_ex(peer_, buffer.data(), buffer.size(), &got) != 1) {
            got = 0;
            ASSERT_EQ(SSL_get_error(peer_, 0), SSL_ERROR_WANT_READ);
          }
        });
  }

  // Both ways, twice, around the record size: the sequence numbers carried over from OpenSSL's
  // count must be exact, or the first record fails authentication. 1 MiB fills the socket pair:
  // records leave partly and are finished by the next write.
  void exchange_rounds() {
    unsigned seed = 0;
    for (int round = 0; round < 2; ++round) {
      for (std::size_t size : {1u, 100u, 16383u, 16384u, 16385u, 100000u, 1u << 20}) {
        SCOPED_TRACE("round " + std::to_string(round) + ", " + std::to_string(size) + " bytes");
        peer_to_fastws(pattern(size, ++seed));
        fastws_to_peer(pattern(size, ++seed));
        if (::testing::Test::HasFailure()) return;
      }
    }
  }

  // Four KeyUpdates from OpenSSL, requested and not in turn, each followed by data of `sizes`,
  // the ways alternating from OpenSSL to fastws. A KeyUpdate leaves with OpenSSL's next write (the
  // first size); fastws's answer to a requested one (new keys on its side too) reaches OpenSSL
  // before the data fastws sends next (the second).
  void key_updates_between_data(std::initializer_list<std::size_t> sizes) {
    unsigned seed = 0;
    for (int update = 0; update < 4; ++update) {
      SCOPED_TRACE("update " + std::to_string(update));
      const int kind = update % 2 == 0 ? SSL_KEY_UPDATE_REQUESTED : SSL_KEY_UPDATE_NOT_REQUESTED;
      ASSERT_EQ(SSL_key_update(peer_, kind), 1);
      bool to_fastws = true;
      for (const std::size_t size : sizes) {
        if (to_fastws) {
          peer_to_fastws(pattern(size, ++seed));
        } else {
          fastws_to_peer(pattern(size, ++seed));
        }
        to_fastws = !to_fastws;
      }
      if (::testing::Test::HasFailure()) return;
    }
  }

  // OpenSSL's close_notify is the end of fastws's stream; fastws's reaches OpenSSL.
  void close_notify_both_ways() {
    SSL_shutdown(peer_);
    std::vector<std::byte> buffer(100);
    EXPECT_EQ(fastws_->read(buffer).status, net::IoStatus::end_of_file);
    fastws_->close_notify();
    std::size_t got = 0;
    EXPECT_EQ(SSL_read_ex(peer_, buffer.data(), buffer.size(), &got), 0);
    EXPECT_EQ(SSL_get_error(peer_, 0), SSL_ERROR_ZERO_RETURN);
  }

  // With a renegotiation's first message (a client's ClientHello, a server's HelloRequest) on its
  // way: fastws takes it and answers no_renegotiation, as OpenSSL does, and its stream goes on.
  void expect_renegotiation_declined() {
    std::vector<std::byte> buffer(100);
    EXPECT_EQ(fastws_->read(buffer).status, net::IoStatus::would_block);
    std::size_t got = 0;
    ERR_clear_error();
    EXPECT_EQ(SSL_read_ex(peer_, buffer.data(), buffer.size(), &got), 0);
    EXPECT_EQ(ERR_GET_REASON(ERR_peek_last_error()), SSL_R_NO_RENEGOTIATION);
  }

  // The alert fastws sent as its stream ended reaches OpenSSL: its read fails.
  void expect_peer_hears_an_alert() {
    std::vector<std::byte> buffer(100);
    std::size_t got = 0;
    EXPECT_EQ(SSL_read_ex(peer_, buffer.data(), buffer.size(), &got), 0);
    EXPECT_EQ(SSL_get_error(peer_, 0), SSL_ERROR_SSL);
  }

  net::TlsStream& fastws() { return *fastws_; }
  SSL* peer() { return peer_; }
  int peer_fd() const { return peer_fd_; }

 private:
  // Moves `data` in turns until all of it has arrived: `write(rest, wrote)` sends what it can of
  // the bytes not yet sent, `read(buffer, got)` takes what has arrived; each sets its count (0
  // when it would block) or fails the test fatally.
  template <typename Write, typename Read>
  static void transfer(const std::vector<std::byte>& data, Write write, Read read) {
    std::vector<std::byte> received;
    std::size_t sent = 0;
    std::vector<std::byte> buffer(8192);
    for (int turn = 0; turn < 100000 && received.size() < data.size(); ++turn) {
      SCOPED_TRACE("turn " + std::to_string(turn) + ", " + std::to_string(received.size()) +
                   " bytes received");
      if (sent < data.size()) {
        std::size_t wrote = 0;
        write(std::span(data).subspan(sent), wrote);
        if (::testing::Test::HasFatalFailure()) return;
        sent += wrote;
      }
      std::size_t got = 0;
      read(std::span(buffer), got);
      if (::testing::Test::HasFatalFailure()) return;
      received.insert(received.end(), buffer.begin(), buffer.begin() + static_cast<long>(got));
    }
    EXPECT_EQ(received, data);
  }

  SslContext peer_context_;
  int fastws_fd_ = -1;
  int peer_fd_ = -1;
  std::unique_ptr<net::TlsStream> fastws_;
  SSL* peer_ = nullptr;
};

}  // namespace fastws::testing
