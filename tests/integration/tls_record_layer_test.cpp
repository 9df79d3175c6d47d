// A server TlsStream hands its records from OpenSSL to fastws's TlsRecordLayer once the handshake
// is over (the SSL object is freed: most of an idle wss connection's memory). Against an OpenSSL
// client over a socket pair, for every AEAD suite of TLS 1.2 and 1.3: the records go over, data
// crosses both ways around the record size and in several rounds (the sequence numbers carried
// over from OpenSSL's count must be exact, or the first record fails authentication), also after
// a resumed handshake; a CBC suite stays with OpenSSL and works as before; TLS 1.3 KeyUpdate,
// requested or not, and more than 32 of them in a row without data end the stream; a TLS 1.2
// renegotiation declined; close_notify both ways; a forged record ends the stream with an alert.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <string>
#include <vector>

#include "net/tls_context.hpp"
#include "net/tls_stream.hpp"
#include "tls_test_support.hpp"

namespace fastws::testing {
namespace {

using net::IoStatus;

struct Suite {
  int version;
  const char* name;
  bool handed_over;
};

std::vector<std::byte> pattern(std::size_t size, unsigned seed) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>(i * 31 + seed);
  return bytes;
}

// One server TlsStream and one OpenSSL client on the two ends of a non-blocking socket pair,
// driven in turns on this thread.
class Session {
 public:
  explicit Session(const Suite& suite, SSL_SESSION* resume = nullptr, std::uint64_t options = 0)
      : client_context_(client_tls_context()) {
    SSL_CTX_set_options(client_context_.get(), options);
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) != 0)
      throw std::runtime_error("socketpair");
    server_fd_ = fds[0];
    client_fd_ = fds[1];
    SSL_CTX_set_min_proto_version(client_context_.get(), suite.version);
    SSL_CTX_set_max_proto_version(client_context_.get(), suite.version);
    if (suite.version == TLS1_3_VERSION) {
      SSL_CTX_set_ciphersuites(client_context_.get(), suite.name);
    } else {
      SSL_CTX_set_cipher_list(client_context_.get(), suite.name);
    }
    server_ = net::TlsStream::accept(server_context(), server_fd_);
    client_ = SSL_new(client_context_.get());
    SSL_set_fd(client_, client_fd_);
    SSL_set1_host(client_, "localhost");
    if (resume != nullptr) SSL_set_session(client_, resume);
    SSL_set_connect_state(client_);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() {
    // An SSL freed before a shutdown marks its session not resumable.
    SSL_set_shutdown(client_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(client_);
    server_.reset();
    ::close(server_fd_);
    ::close(client_fd_);
  }

  bool handshake() {
    bool client_done = false;
    bool server_done = false;
    for (int turn = 0; turn < 1000 && !(client_done && server_done); ++turn) {
      if (!client_done) {
        const int result = SSL_do_handshake(client_);
        if (result == 1)
          client_done = true;
        else if (SSL_get_error(client_, result) != SSL_ERROR_WANT_READ)
          return false;
      }
      if (!server_done) {
        std::string error;
        const auto step = server_->handshake(error);
        if (step == net::TlsStream::Handshake::failed) {
          ADD_FAILURE() << error;
          return false;
        }
        server_done = step == net::TlsStream::Handshake::done;
      }
    }
    return client_done && server_done;
  }

  // Client to server: every byte arrives, in order.
  void client_to_server(const std::vector<std::byte>& data) {
    std::vector<std::byte> received;
    std::size_t sent = 0;
    std::vector<std::byte> buffer(8192);
    for (int turn = 0; turn < 100000 && received.size() < data.size(); ++turn) {
      if (sent < data.size()) {
        std::size_t wrote = 0;
        if (SSL_write_ex(client_, data.data() + sent, data.size() - sent, &wrote) == 1) {
          sent += wrote;
        } else {
          ASSERT_EQ(SSL_get_error(client_, 0), SSL_ERROR_WANT_WRITE);
        }
      }
      const net::IoResult result = server_->read(buffer);
      if (result.status == IoStatus::done) {
        received.insert(received.end(), buffer.begin(),
                        buffer.begin() + static_cast<long>(result.bytes));
      } else {
        ASSERT_EQ(result.status, IoStatus::would_block) << result.error->message();
      }
    }
    EXPECT_EQ(received, data);
  }

  // Server to client, through partial writes: the bytes not reported written go again.
  void server_to_client(const std::vector<std::byte>& data) {
    std::vector<std::byte> received;
    std::size_t sent = 0;
    std::vector<std::byte> buffer(8192);
    for (int turn = 0; turn < 100000 && received.size() < data.size(); ++turn) {
      if (sent < data.size()) {
        const iovec rest{const_cast<std::byte*>(data.data()) + sent, data.size() - sent};
        const net::IoResult result = server_->write({&rest, 1});
        if (result.status == IoStatus::done) {
          sent += result.bytes;
        } else {
          ASSERT_EQ(result.status, IoStatus::would_block)
              << result.error->message() << " after " << received.size() << " at turn " << turn;
        }
      }
      std::size_t got = 0;
      if (SSL_read_ex(client_, buffer.data(), buffer.size(), &got) == 1) {
        received.insert(received.end(), buffer.begin(), buffer.begin() + static_cast<long>(got));
      } else {
        ASSERT_EQ(SSL_get_error(client_, 0), SSL_ERROR_WANT_READ);
      }
    }
    EXPECT_EQ(received, data);
  }

  net::TlsStream& server() { return *server_; }
  SSL* client() { return client_; }
  int client_fd() const { return client_fd_; }

 private:
  // One for the process, as a server has: its ticket keys resume the sessions it began.
  static const net::TlsContext& server_context() {
    static const std::unique_ptr<net::TlsContext> context = [] {
      std::string error;
      auto made = net::TlsContext::from_files(TestCertificate::get().certificate_file,
                                              TestCertificate::get().key_file, error);
      if (!made) throw std::runtime_error(error);
      return made;
    }();
    return *context;
  }

  ClientTlsContext client_context_;
  int server_fd_ = -1;
  int client_fd_ = -1;
  std::unique_ptr<net::TlsStream> server_;
  SSL* client_ = nullptr;
};

void exchange_rounds(Session& session) {
  unsigned seed = 0;
  for (int round = 0; round < 2; ++round) {
    // 1 MiB fills the socket pair: records leave partly and are finished by the next write.
    for (std::size_t size : {1u, 100u, 16383u, 16384u, 16385u, 100000u, 1u << 20}) {
      SCOPED_TRACE("round " + std::to_string(round) + ", " + std::to_string(size) + " bytes");
      session.client_to_server(pattern(size, ++seed));
      session.server_to_client(pattern(size, ++seed));
      if (::testing::Test::HasFailure()) return;
    }
  }
}

std::string suite_name(const ::testing::TestParamInfo<Suite>& suite) {
  std::string name =
      std::string(suite.param.version == TLS1_3_VERSION ? "Tls13_" : "Tls12_") + suite.param.name;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

class RecordHandOver : public ::testing::TestWithParam<Suite> {};

TEST_P(RecordHandOver, CarriesDataBothWaysAndClosesWithCloseNotify) {
  Session session(GetParam());
  ASSERT_TRUE(session.handshake());
  EXPECT_EQ(session.server().records_handed_over(), GetParam().handed_over);
  exchange_rounds(session);

  // The client's close_notify is the end of the stream.
  SSL_shutdown(session.client());
  std::vector<std::byte> buffer(100);
  EXPECT_EQ(session.server().read(buffer).status, IoStatus::end_of_file);
  // The server's reaches the client.
  session.server().close_notify();
  std::size_t got = 0;
  EXPECT_EQ(SSL_read_ex(session.client(), buffer.data(), buffer.size(), &got), 0);
  EXPECT_EQ(SSL_get_error(session.client(), 0), SSL_ERROR_ZERO_RETURN);
}

TEST_P(RecordHandOver, ResumedSessionsHandOverToo) {
  SSL_SESSION* ticket = nullptr;
  {
    Session first(GetParam());
    ASSERT_TRUE(first.handshake());
    // TLS 1.3 tickets come after the handshake: reading data takes them in.
    first.server_to_client(pattern(10, 1));
    ticket = SSL_get1_session(first.client());
    ASSERT_NE(ticket, nullptr);
    ASSERT_EQ(SSL_SESSION_is_resumable(ticket), 1);
  }
  Session second(GetParam(), ticket);
  SSL_SESSION_free(ticket);
  ASSERT_TRUE(second.handshake());
  EXPECT_EQ(SSL_session_reused(second.client()), 1);
  EXPECT_EQ(second.server().records_handed_over(), GetParam().handed_over);
  exchange_rounds(second);
}

TEST(RecordHandOverResumption, ATls12SessionStaysInTheServersCacheForClientsWithoutTickets) {
  const Suite suite{TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", true};
  SSL_SESSION* cached = nullptr;
  {
    Session first(suite, nullptr, SSL_OP_NO_TICKET);
    ASSERT_TRUE(first.handshake());
    ASSERT_TRUE(first.server().records_handed_over());
    cached = SSL_get1_session(first.client());
    ASSERT_EQ(SSL_SESSION_has_ticket(cached), 0);  // resumable by its id only
  }
  Session second(suite, cached, SSL_OP_NO_TICKET);
  SSL_SESSION_free(cached);
  ASSERT_TRUE(second.handshake());
  EXPECT_EQ(SSL_session_reused(second.client()), 1);
  EXPECT_TRUE(second.server().records_handed_over());
  exchange_rounds(second);
}

INSTANTIATE_TEST_SUITE_P(
    Suites, RecordHandOver,
    ::testing::Values(Suite{TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", true},
                      Suite{TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384", true},
                      Suite{TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256", true},
                      Suite{TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", true},
                      Suite{TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384", true},
                      Suite{TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305", true},
                      Suite{TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA256", false}),
    suite_name);

TEST(RecordHandOverKeyUpdate, FollowsTheClientsKeyUpdatesAndAnswersTheRequestedOnes) {
  Session session({TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", true});
  ASSERT_TRUE(session.handshake());
  ASSERT_TRUE(session.server().records_handed_over());
  unsigned seed = 0;
  for (int update = 0; update < 4; ++update) {
    SCOPED_TRACE("update " + std::to_string(update));
    const int kind = update % 2 == 0 ? SSL_KEY_UPDATE_REQUESTED : SSL_KEY_UPDATE_NOT_REQUESTED;
    ASSERT_EQ(SSL_key_update(session.client(), kind), 1);
    // The KeyUpdate leaves with the client's next write; the server's answer (new keys on its
    // side too) reaches the client before the data that follows it.
    session.client_to_server(pattern(5000, ++seed));
    session.server_to_client(pattern(5000, ++seed));
    if (::testing::Test::HasFailure()) return;
  }
}

// Records without application data give read() nothing to return: a peer sending them without end
// would keep it busy. 32 in a row are taken (as OpenSSL takes them), then data resets the count;
// the 33rd in a row ends the stream.
TEST(RecordHandOverKeyUpdate, MoreThan32RecordsWithoutDataInARowEndTheStream) {
  Session session({TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", true});
  ASSERT_TRUE(session.handshake());
  ASSERT_TRUE(session.server().records_handed_over());
  std::vector<std::byte> buffer(100);
  const auto send_key_updates = [&](int count) {
    for (int update = 0; update < count; ++update) {
      ASSERT_EQ(SSL_key_update(session.client(), SSL_KEY_UPDATE_NOT_REQUESTED), 1);
      ASSERT_EQ(SSL_do_handshake(session.client()), 1);  // the KeyUpdate leaves
    }
  };
  for (int round = 0; round < 2; ++round) {
    send_key_updates(32);
    EXPECT_EQ(session.server().read(buffer).status, IoStatus::would_block);
    session.client_to_server(pattern(10, static_cast<unsigned>(round)));
    if (::testing::Test::HasFailure()) return;
  }
  send_key_updates(33);
  const net::IoResult result = session.server().read(buffer);
  ASSERT_EQ(result.status, IoStatus::failed);
  EXPECT_NE(result.error->message().find("unexpected"), std::string::npos)
      << result.error->message();
}

TEST(RecordHandOverRenegotiation, ATls12RenegotiationIsDeclinedAndTheStreamGoesOn) {
  Session session({TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", true});
  ASSERT_TRUE(session.handshake());
  ASSERT_TRUE(session.server().records_handed_over());
  ASSERT_EQ(SSL_renegotiate(session.client()), 1);
  ASSERT_LE(SSL_do_handshake(session.client()), 0);  // the ClientHello leaves
  std::vector<std::byte> buffer(100);
  // The server takes the ClientHello and answers no_renegotiation, as OpenSSL does.
  EXPECT_EQ(session.server().read(buffer).status, IoStatus::would_block);
  std::size_t got = 0;
  ERR_clear_error();
  EXPECT_EQ(SSL_read_ex(session.client(), buffer.data(), buffer.size(), &got), 0);
  EXPECT_EQ(ERR_GET_REASON(ERR_peek_last_error()), SSL_R_NO_RENEGOTIATION);
}

TEST(RecordHandOverForgery, AForgedRecordEndsTheStreamWithBadRecordMac) {
  Session session({TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", true});
  ASSERT_TRUE(session.handshake());
  ASSERT_TRUE(session.server().records_handed_over());
  session.client_to_server(pattern(10, 1));
  unsigned char forged[5 + 32] = {23, 3, 3, 0, 32};
  ASSERT_EQ(::write(session.client_fd(), forged, sizeof forged),
            static_cast<ssize_t>(sizeof forged));
  std::vector<std::byte> buffer(100);
  const net::IoResult result = session.server().read(buffer);
  ASSERT_EQ(result.status, IoStatus::failed);
  EXPECT_NE(result.error->message().find("bad record mac"), std::string::npos)
      << result.error->message();
  // Final: the next call fails the same way.
  EXPECT_EQ(session.server().read(buffer).status, IoStatus::failed);
  // The client hears why.
  std::size_t got = 0;
  EXPECT_EQ(SSL_read_ex(session.client(), buffer.data(), buffer.size(), &got), 0);
  EXPECT_EQ(SSL_get_error(session.client(), 0), SSL_ERROR_SSL);
}

}  // namespace
}  // namespace fastws::testing
