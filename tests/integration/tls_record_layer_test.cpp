// A server TlsStream hands its records from OpenSSL to fastws's TlsRecordLayer once the handshake
// is over (the SSL object is freed: most of an idle wss connection's memory). Against an OpenSSL
// client over a socket pair, for every AEAD suite of TLS 1.2 and 1.3: the records go over, data
// crosses both ways around the record size and in several rounds (the sequence numbers carried
// over from OpenSSL's count must be exact, or the first record fails authentication), also after
// a resumed handshake; a CBC suite stays with OpenSSL and works as before; TLS 1.3 KeyUpdate,
// requested or not, and more than 32 of them in a row without data end the stream; a TLS 1.2
// renegotiation declined; close_notify both ways; a forged record ends the stream with an alert.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "net/tls_context.hpp"
#include "net/tls_stream.hpp"
#include "tls_pair_session.hpp"

namespace fastws::testing {
namespace {

using net::IoStatus;

// fastws the server, with one context for the process as a server has (its ticket keys resume
// the sessions it began); an OpenSSL client limited to `suite`, with `options`.
class Session : public TlsPairSession {
 public:
  explicit Session(const Suite& suite, SSL_SESSION* resume = nullptr, std::uint64_t options = 0)
      : TlsPairSession(FastwsSide::server, server_context(), client_context(suite, options),
                       resume) {}

 private:
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
  static SslContext client_context(const Suite& suite, std::uint64_t options) {
    SslContext context = client_tls_context();
    SSL_CTX_set_options(context.get(), options);
    restrict_to(context.get(), suite);
    return context;
  }
};

class RecordHandOver : public ::testing::TestWithParam<Suite> {};

TEST_P(RecordHandOver, CarriesDataBothWaysAndClosesWithCloseNotify) {
  Session session(GetParam());
  ASSERT_TRUE(session.handshake());
  EXPECT_EQ(session.fastws().records_handed_over(), GetParam().handed_over);
  session.exchange_rounds();
  session.close_notify_both_ways();
}

TEST_P(RecordHandOver, ResumedSessionsHandOverToo) {
  SSL_SESSION* ticket = nullptr;
  {
    Session first(GetParam());
    ASSERT_TRUE(first.handshake());
    // TLS 1.3 tickets come after the handshake: reading data takes them in.
    first.fastws_to_peer(pattern(10, 1));
    ticket = SSL_get1_session(first.peer());
    ASSERT_NE(ticket, nullptr);
    ASSERT_EQ(SSL_SESSION_is_resumable(ticket), 1);
  }
  Session second(GetParam(), ticket);
  SSL_SESSION_free(ticket);
  ASSERT_TRUE(second.handshake());
  EXPECT_EQ(SSL_session_reused(second.peer()), 1);
  EXPECT_EQ(second.fastws().records_handed_over(), GetParam().handed_over);
  second.exchange_rounds();
}

TEST(RecordHandOverResumption, ATls12SessionStaysInTheServersCacheForClientsWithoutTickets) {
  const Suite suite{TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", true};
  SSL_SESSION* cached = nullptr;
  {
    Session first(suite, nullptr, SSL_OP_NO_TICKET);
    ASSERT_TRUE(first.handshake());
    ASSERT_TRUE(first.fastws().records_handed_over());
    cached = SSL_get1_session(first.peer());
    ASSERT_EQ(SSL_SESSION_has_ticket(cached), 0);  // resumable by its id only
  }
  Session second(suite, cached, SSL_OP_NO_TICKET);
  SSL_SESSION_free(cached);
  ASSERT_TRUE(second.handshake());
  EXPECT_EQ(SSL_session_reused(second.peer()), 1);
  EXPECT_TRUE(second.fastws().records_handed_over());
  second.exchange_rounds();
}

INSTANTIATE_TEST_SUITE_P(Suites, RecordHandOver, ::testing::ValuesIn(every_suite), suite_name);

TEST(RecordHandOverKeyUpdate, FollowsTheClientsKeyUpdatesAndAnswersTheRequestedOnes) {
  Session session({TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", true});
  ASSERT_TRUE(session.handshake());
  ASSERT_TRUE(session.fastws().records_handed_over());
  session.key_updates_between_data({5000, 5000});
}

// Records without application data give read() nothing to return: a peer sending them without end
// would keep it busy. 32 in a row are taken (as OpenSSL takes them), then data resets the count;
// the 33rd in a row ends the stream.
TEST(RecordHandOverKeyUpdate, MoreThan32RecordsWithoutDataInARowEndTheStream) {
  Session session({TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", true});
  ASSERT_TRUE(session.handshake());
  ASSERT_TRUE(session.fastws().records_handed_over());
  std::vector<std::byte> buffer(100);
  const auto send_key_updates = [&](int count) {
    for (int update = 0; update < count; ++update) {
      ASSERT_EQ(SSL_key_update(session.peer(), SSL_KEY_UPDATE_NOT_REQUESTED), 1);
      ASSERT_EQ(SSL_do_handshake(session.peer()), 1);  // the KeyUpdate leaves
    }
  };
  for (int round = 0; round < 2; ++round) {
    send_key_updates(32);
    EXPECT_EQ(session.fastws().read(buffer).status, IoStatus::would_block);
    session.peer_to_fastws(pattern(10, static_cast<unsigned>(round)));
    if (::testing::Test::HasFailure()) return;
  }
  send_key_updates(33);
  const net::IoResult result = session.fastws().read(buffer);
  ASSERT_EQ(result.status, IoStatus::failed);
  EXPECT_NE(result.error->message().find("unexpected"), std::string::npos)
      << result.error->message();
}

TEST(RecordHandOverRenegotiation, ATls12RenegotiationIsDeclinedAndTheStreamGoesOn) {
  Session session({TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", true});
  ASSERT_TRUE(session.handshake());
  ASSERT_TRUE(session.fastws().records_handed_over());
  ASSERT_EQ(SSL_renegotiate(session.peer()), 1);
  ASSERT_LE(SSL_do_handshake(session.peer()), 0);  // the ClientHello leaves
  session.expect_renegotiation_declined();
}

TEST(RecordHandOverForgery, AForgedRecordEndsTheStreamWithBadRecordMac) {
  Session session({TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", true});
  ASSERT_TRUE(session.handshake());
  ASSERT_TRUE(session.fastws().records_handed_over());
  session.peer_to_fastws(pattern(10, 1));
  unsigned char forged[5 + 32] = {23, 3, 3, 0, 32};
  ASSERT_EQ(::write(session.peer_fd(), forged, sizeof forged), static_cast<ssize_t>(sizeof forged));
  std::vector<std::byte> buffer(100);
  const net::IoResult result = session.fastws().read(buffer);
  ASSERT_EQ(result.status, IoStatus::failed);
  EXPECT_NE(result.error->message().find("bad record mac"), std::string::npos)
      << result.error->message();
  // Final: the next call fails the same way.
  EXPECT_EQ(session.fastws().read(buffer).status, IoStatus::failed);
  // The client hears why.
  session.expect_peer_hears_an_alert();
}

}  // namespace
}  // namespace fastws::testing
