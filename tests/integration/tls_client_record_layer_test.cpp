// A client TlsStream from fastws's own client context hands its records from OpenSSL to
// TlsRecordLayer once the handshake is over, as a server's does (tls_record_layer_test): the
// SSL object, most of an idle wss client connection's memory, is freed. Against an OpenSSL server
// over a socket pair, for every AEAD suite of TLS 1.2 and 1.3: data crosses both ways (1 MiB
// too) after the server's NewSessionTickets, which are dropped, whenever they come and however
// many; a KeyUpdate from the server, requested or not, is followed (and answered); a TLS 1.2
// renegotiation (HelloRequest) is declined; a CBC suite and the application's own SSL_CTX stay
// with OpenSSL. With records sealed here under the server's keys: tickets sharing a record or
// spanning records, a ticket and a KeyUpdate in one record, a KeyUpdate over two records; a
// record of another type inside a split ticket, a KeyUpdate that does not end its record and a
// CertificateRequest end the stream.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "net/tls_context.hpp"
#include "net/tls_key_schedule.hpp"
#include "net/tls_stream.hpp"
#include "net/tls_traffic_keys.hpp"
#include "tls_pair_session.hpp"

namespace fastws::testing {
namespace {

using net::IoStatus;

// fastws's own client context, trusting the test certificate.
const net::TlsContext& client_context() {
  static const std::unique_ptr<net::TlsContext> context = [] {
    std::string error;
    auto made =
        net::TlsContext::client({.ca_file = TestCertificate::get().certificate_file}, error);
    if (!made) throw std::runtime_error(error);
    return made;
  }();
  return *context;
}

// An OpenSSL server limited to `suite`, sending `tickets` NewSessionTickets after the handshake.
SslContext server_context(const Suite& suite, std::size_t tickets = 2) {
  SslContext context = server_tls_context();
  restrict_to(context.get(), suite);
  SSL_CTX_set_num_tickets(context.get(), tickets);
  return context;
}

// fastws the client, OpenSSL the server.
class Session : public TlsPairSession {
 public:
  explicit Session(const Suite& suite, std::size_t tickets = 2)
      : TlsPairSession(FastwsSide::client, client_context(), server_context(suite, tickets)) {}
  Session(const net::TlsContext& context, SslContext server)
      : TlsPairSession(FastwsSide::client, context, std::move(server)) {}
};

constexpr Suite tls13{TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", true};
constexpr Suite tls12{TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", true};

class ClientRecordHandOver : public ::testing::TestWithParam<Suite> {};

TEST_P(ClientRecordHandOver, CarriesDataBothWaysAndClosesWithCloseNotify) {
  Session session(GetParam());
  ASSERT_TRUE(session.handshake());
  EXPECT_EQ(session.fastws().records_handed_over(), GetParam().handed_over);
  // In TLS 1.3 the server's two tickets come before its first data.
  session.exchange_rounds();
  session.close_notify_both_ways();
}

INSTANTIATE_TEST_SUITE_P(Suites, ClientRecordHandOver, ::testing::ValuesIn(every_suite),
                         suite_name);

TEST(ClientRecordHandOverTickets, TicketsAreDroppedWheneverTheyComeAndHoweverMany) {
  Session session(tls13, 8);
  ASSERT_TRUE(session.handshake());
  ASSERT_TRUE(session.fastws().records_handed_over());
  unsigned seed = 0;
  session.peer_to_fastws(pattern(1000, ++seed));  // behind the 8 tickets of the handshake
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    // Tickets later on, between data.
    ASSERT_EQ(SSL_new_session_ticket(session.peer()), 1);
    ASSERT_EQ(SSL_new_session_ticket(session.peer()), 1);
    ASSERT_EQ(SSL_do_handshake(session.peer()), 1);  // they leave
    session.fastws_to_peer(pattern(20000, ++seed));
    session.peer_to_fastws(pattern(20000, ++seed));
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(ClientRecordHandOverKeyUpdate, FollowsTheServersKeyUpdatesAndAnswersTheRequestedOnes) {
  Session session(tls13);
  ASSERT_TRUE(session.handshake());
  ASSERT_TRUE(session.fastws().records_handed_over());
  session.key_updates_between_data({5000, 70000, 1u << 20});
}

TEST(ClientRecordHandOverRenegotiation, ATls12HelloRequestIsDeclined) {
  Session session(tls12);
  ASSERT_TRUE(session.handshake());
  ASSERT_TRUE(session.fastws().records_handed_over());
  session.peer_to_fastws(pattern(10, 1));
  ASSERT_EQ(SSL_renegotiate(session.peer()), 1);
  SSL_do_handshake(session.peer());  // the HelloRequest leaves
  session.expect_renegotiation_declined();
}

// The application's own SSL_CTX may cache sessions (its callbacks want the tickets): OpenSSL
// keeps the records.
TEST(ClientRecordHandOverContexts, TheApplicationsOwnContextStaysWithOpenSsl) {
  SslContext own = client_tls_context();
  const std::unique_ptr<net::TlsContext> shared = net::TlsContext::shared(own.get());
  Session session(*shared, server_context(tls13));
  ASSERT_TRUE(session.handshake());
  EXPECT_FALSE(session.fastws().records_handed_over());
  session.exchange_rounds();
}

// The server's TLS 1.3 application traffic secret, from the key-log callback of the server's
// context (one session at a time in this test).
std::vector<unsigned char>& server_secret() {
  static std::vector<unsigned char> secret;
  return secret;
}

void log_server_secret(const SSL*, const char* line) {
  const std::string_view text(line);
  static constexpr std::string_view label = "SERVER_TRAFFIC_SECRET_0 ";
  if (!text.starts_with(label)) return;
  const std::string_view hex = text.substr(text.rfind(' ') + 1);
  std::vector<unsigned char>& secret = server_secret();
  secret.clear();
  for (std::size_t at = 0; at + 1 < hex.size(); at += 2) {
    secret.push_back(
        static_cast<unsigned char>(std::stoi(std::string(hex.substr(at, 2)), nullptr, 16)));
  }
}

constexpr unsigned char handshake = 22;
constexpr unsigned char application_data = 23;

// Up to 1 KB, the records and messages below, without the heap (GCC 12 misjudges small vectors
// that grow: -Warray-bounds, -Wnull-dereference).
struct Bytes {
  std::array<unsigned char, 1024> data{};
  std::size_t size = 0;

  Bytes() = default;
  Bytes(std::initializer_list<unsigned char> bytes) { append(bytes.begin(), bytes.size()); }
  Bytes& append(const unsigned char* more, std::size_t count) {
    if (size + count > data.size()) throw std::length_error("more than 1 KB");
    if (count > 0) std::memcpy(data.data() + size, more, count);
    size += count;
    return *this;
  }
  Bytes& append(const Bytes& more) { return append(more.data.data(), more.size); }
};

// Seals TLS 1.3 records as the server would (TLS_AES_128_GCM_SHA256), for messages OpenSSL's
// server never sends in that shape: the server itself sends no record after the handshake (no
// tickets), so these take its sequence numbers from 0.
class ServerRecords {
 public:
  explicit ServerRecords(std::vector<unsigned char> secret) : secret_(std::move(secret)) {
    derive();
  }

  Bytes seal(unsigned char type, const Bytes& content) {
    const std::size_t length = content.size + 1 + 16;
    Bytes record{application_data, 3, 3, static_cast<unsigned char>(length >> 8),
                 static_cast<unsigned char>(length)};
    record.append(content).append(&type, 1);
    unsigned char* body = record.data.data() + 5;
    unsigned char nonce[12];
    std::memcpy(nonce, keys_.iv.data(), 12);
    for (int at = 0; at < 8; ++at) {
      nonce[4 + at] ^= static_cast<unsigned char>(sequence_ >> (56 - 8 * at));
    }
    ++sequence_;
    EVP_CIPHER_CTX* cipher = EVP_CIPHER_CTX_new();
    int produced = 0;
    int finished = 0;
    const int plain = static_cast<int>(content.size + 1);
    const bool sealed =
        EVP_EncryptInit_ex(cipher, EVP_aes_128_gcm(), nullptr, keys_.key.data(), nonce) == 1 &&
        EVP_EncryptUpdate(cipher, nullptr, &produced, record.data.data(), 5) == 1 &&
        EVP_EncryptUpdate(cipher, body, &produced, body, plain) == 1 &&
        EVP_EncryptFinal_ex(cipher, body + produced, &finished) == 1 &&
        EVP_CIPHER_CTX_ctrl(cipher, EVP_CTRL_AEAD_GET_TAG, 16, body + plain) == 1;
    EVP_CIPHER_CTX_free(cipher);
    if (!sealed) throw std::runtime_error("cannot seal a record");
    record.size += 16;
    return record;
  }

  // After our KeyUpdate: the next secret's keys, from sequence number 0.
  void update() {
    if (!net::tls13_next_secret(EVP_sha256(), secret_)) throw std::runtime_error("KeyUpdate");
    derive();
  }

 private:
  void derive() {
    if (!net::tls13_traffic_keys(EVP_sha256(), secret_, 16, keys_)) {
      throw std::runtime_error("cannot derive the server's keys");
    }
    sequence_ = 0;
  }

  std::vector<unsigned char> secret_;
  net::TrafficKeys keys_;
  std::uint64_t sequence_ = 0;
};

// A handshake message: its type, a 24-bit length, then `body`.
Bytes message(unsigned char type, const Bytes& body) {
  Bytes bytes{type, 0, static_cast<unsigned char>(body.size >> 8),
              static_cast<unsigned char>(body.size)};
  return bytes.append(body);
}

Bytes ticket(std::size_t size) {
  Bytes body;
  for (std::size_t at = 0; at < size; ++at) body.append({0x5A});
  return message(4, body);
}

Bytes joined(std::initializer_list<Bytes> parts) {
  Bytes bytes;
  for (const Bytes& part : parts) bytes.append(part);
  return bytes;
}

Bytes slice(const Bytes& bytes, std::size_t from, std::size_t to) {
  return Bytes().append(bytes.data.data() + from, to - from);
}

class ClientRecordHandOverSealed : public ::testing::Test {
 protected:
  void SetUp() override {
    SslContext context = server_context(tls13, 0);
    SSL_CTX_set_keylog_callback(context.get(), log_server_secret);
    server_secret().clear();
    session_ = std::make_unique<Session>(client_context(), std::move(context));
    ASSERT_TRUE(session_->handshake());
    ASSERT_TRUE(session_->fastws().records_handed_over());
    ASSERT_FALSE(server_secret().empty());
    records_ = std::make_unique<ServerRecords>(server_secret());
  }

  void send(const Bytes& record) {
    ASSERT_EQ(::write(session_->peer_fd(), record.data.data(), record.size),
              static_cast<ssize_t>(record.size));
  }

  // What the client reads now: the text, or the error's message.
  std::string read() {
    std::vector<std::byte> buffer(100);
    const net::IoResult result = session_->fastws().read(buffer);
    switch (result.status) {
      case IoStatus::done:
        return std::string(reinterpret_cast<const char*>(buffer.data()), result.bytes);
      case IoStatus::would_block:
        return "(would block)";
      case IoStatus::end_of_file:
        return "(end of file)";
      case IoStatus::failed:
        return "(failed) " + result.error->message();
    }
    return {};
  }

  std::unique_ptr<Session> session_;
  std::unique_ptr<ServerRecords> records_;
};

TEST_F(ClientRecordHandOverSealed, TicketsSharingARecordOrSpanningRecordsAreDropped) {
  const Bytes long_ticket = ticket(300);
  // Two whole tickets and the first 2 bytes of a third's header; the rest of its header and
  // part of its body; the rest of its body.
  send(records_->seal(handshake, joined({ticket(10), ticket(0), slice(long_ticket, 0, 2)})));
  send(records_->seal(handshake, slice(long_ticket, 2, 100)));
  send(records_->seal(handshake, slice(long_ticket, 100, long_ticket.size)));
  send(records_->seal(application_data, {'h', 'e', 'l', 'l', 'o'}));
  EXPECT_EQ(read(), "hello");
  EXPECT_EQ(read(), "(would block)");
}

TEST_F(ClientRecordHandOverSealed, ATicketAndAKeyUpdateShareARecord) {
  send(records_->seal(handshake, joined({ticket(40), message(24, {0})})));
  records_->update();
  send(records_->seal(application_data, {'n', 'e', 'w'}));
  EXPECT_EQ(read(), "new");
}

TEST_F(ClientRecordHandOverSealed, AKeyUpdateMaySpanTwoRecords) {
  // A ticket and a KeyUpdate's header; the KeyUpdate's one byte (update_not_requested).
  send(records_->seal(handshake, joined({ticket(3), {24, 0, 0, 1}})));
  send(records_->seal(handshake, {0}));
  records_->update();
  send(records_->seal(application_data, {'o', 'k'}));
  EXPECT_EQ(read(), "ok");
}

TEST_F(ClientRecordHandOverSealed, ARecordOfAnotherTypeInsideASplitTicketEndsTheStream) {
  const Bytes split = ticket(50);
  send(records_->seal(handshake, slice(split, 0, 20)));
  send(records_->seal(application_data, {'x'}));
  EXPECT_NE(read().find("(failed) TLS record rejected: unexpected"), std::string::npos);
  session_->expect_peer_hears_an_alert();
}

TEST_F(ClientRecordHandOverSealed, AKeyUpdateThatDoesNotEndItsRecordEndsTheStream) {
  send(records_->seal(handshake, joined({message(24, {0}), ticket(5)})));
  EXPECT_NE(read().find("(failed) TLS record rejected: unexpected"), std::string::npos);
  session_->expect_peer_hears_an_alert();
}

TEST_F(ClientRecordHandOverSealed, ACertificateRequestEndsTheStreamWithAClearError) {
  // certificate_request_context (empty), then the extensions: signature_algorithms, ECDSA P-256.
  send(records_->seal(handshake, message(13, {0, 0, 8, 0, 13, 0, 4, 0, 2, 4, 3})));
  EXPECT_EQ(read(),
            "(failed) TLS record rejected: the peer sent a CertificateRequest (post-handshake "
            "authentication, which fastws does not offer) after the handshake");
  session_->expect_peer_hears_an_alert();
}

}  // namespace
}  // namespace fastws::testing
