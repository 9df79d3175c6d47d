// Server::handover(fd, TlsSession, request_bytes) and Server::adopt(fd, TlsSession): a host server
// that did the TLS handshake itself with OpenSSL gives fastws the socket and its SSL*, with what
// it already read. The host's SSL meets its socket in the three ways applications have: OpenSSL
// on the fd (SSL_set_fd), a BIO pair whose outer half the host moves to and from the socket
// (what Boost.Asio's ssl::stream does), and two memory BIOs. A refusal leaves both to the host
// with a ready response to send over its own session.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/ioctl.h>

#include <atomic>
#include <thread>

#include "client_test_support.hpp"
#include "handover_test_support.hpp"
#include "interop_echo_server.hpp"
#include "tls_test_support.hpp"

namespace fastws::testing {
namespace {

using HostTlsContext = SslContext;

int select_http11(SSL*, const unsigned char** out, unsigned char* out_size,
                  const unsigned char* offered, unsigned offered_size, void*) {
  static const unsigned char http11[] = "\x08http/1.1";
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_size, http11, sizeof http11 - 1, offered,
                            offered_size) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// The host's own server context: the test certificate, and ALPN http/1.1 for clients that offer
// it (Python's does, and checks it).
HostTlsContext host_tls_context() {
  HostTlsContext context = server_tls_context();
  SSL_CTX_set_alpn_select_cb(context.get(), select_http11, nullptr);
  return context;
}

// How the host's SSL meets its socket.
enum class HostBio {
  socket,       // SSL_set_fd: OpenSSL reads and writes the socket itself
  memory_pair,  // a BIO pair, the host moving bytes between its outer half and the socket
  memory,       // a memory BIO each way, the host moving bytes likewise
};

std::string name_of(HostBio bio) {
  switch (bio) {
    case HostBio::socket:
      return "socket";
    case HostBio::memory_pair:
      return "memory_pair";
    case HostBio::memory:
      return "memory";
  }
  return "?";
}

// One connection the host accepted and runs with blocking I/O, until it hands it to fastws. It
// frees its SSL and closes its socket unless fastws took them.
class HostTlsSession {
 public:
  HostTlsSession(SSL_CTX* context, int fd, HostBio bio) : fd_(fd), bio_(bio) {
    const timeval limit{2, 0};  // no host step may hang a test
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    ssl_ = SSL_new(context);
    switch (bio_) {
      case HostBio::socket:
        SSL_set_fd(ssl_, fd_);
        break;
      case HostBio::memory_pair: {
        BIO* inner = nullptr;
        BIO_new_bio_pair(&inner, 0, &outer_, 0);  // 17 KiB each way, as Asio makes them
        SSL_set_bio(ssl_, inner, inner);
        break;
      }
      case HostBio::memory:
        SSL_set_bio(ssl_, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
        break;
    }
    SSL_set_accept_state(ssl_);
  }
  ~HostTlsSession() {
    if (handed_) {
      BIO_free(outer_);  // the host's half of the pair stays the host's
      return;
    }
    SSL_free(ssl_);
    BIO_free(outer_);
    ::close(fd_);
  }
  HostTlsSession(const HostTlsSession&) = delete;
  HostTlsSession& operator=(const HostTlsSession&) = delete;

  SSL* ssl() const { return ssl_; }
  int fd() const { return fd_; }
  // Ciphertext the host took from the socket that its read BIO would not take (a full pair).
  const std::string& unread() const { return unread_; }
  // Ciphertext in the SSL's read BIO that the SSL has not read.
  std::size_t in_read_bio() const { return BIO_ctrl_pending(SSL_get_rbio(ssl_)); }

  bool handshake() {
    return complete([&] { return SSL_do_handshake(ssl_); });
  }

  // What one SSL_read gives: the rest of a record, or the next one.
  std::string read_record() {
    char buffer[16 * 1024];
    std::size_t got = 0;
    if (!complete([&] { return SSL_read_ex(ssl_, buffer, sizeof buffer, &got); })) return {};
    return {buffer, got};
  }

  // Decrypted bytes, `read_size` at a time, until the head and `extra` bytes after it came.
  std::string read_request(std::size_t extra = 0, std::size_t read_size = 16 * 1024) {
    std::string bytes;
    char buffer[16 * 1024];
    while (true) {
      const auto end = bytes.find("\r\n\r\n");
      if (end != std::string::npos && bytes.size() >= end + 4 + extra) return bytes;
      std::size_t got = 0;
      if (!complete([&] {
            return SSL_read_ex(ssl_, buffer, std::min(read_size, sizeof buffer), &got);
          })) {
        return bytes;
      }
      bytes.append(buffer, got);
    }
  }

  // Encrypts `text`; with `flush` the ciphertext goes to the socket at once.
  bool write(std::string_view text, bool flush = true) {
    std::size_t wrote = 0;
    if (!flush) return SSL_write_ex(ssl_, text.data(), text.size(), &wrote) == 1;
    return complete([&] { return SSL_write_ex(ssl_, text.data(), text.size(), &wrote); });
  }
  // What the SSL wrote into a memory BIO, to the socket.
  bool flush() {
    if (bio_ == HostBio::socket) return true;
    char buffer[16 * 1024];
    int got = 0;
    while ((got = BIO_read(output_side(), buffer, sizeof buffer)) > 0) {
      if (::send(fd_, buffer, static_cast<std::size_t>(got), MSG_NOSIGNAL) != got) return false;
    }
    return true;
  }
  void close_notify() {
    SSL_shutdown(ssl_);
    flush();
  }

  HandoverResult hand_over(Server& server, std::string_view request) {
    const HandoverResult result = server.handover(fd_, {ssl_, unread_}, request);
    handed_ = result.accepted;
    return result;
  }
  std::error_code adopt(Server& server) {
    const std::error_code error = server.adopt(fd_, {ssl_, unread_});
    handed_ = !error;
    return error;
  }

 private:
  BIO* input_side() const { return bio_ == HostBio::memory_pair ? outer_ : SSL_get_rbio(ssl_); }
  BIO* output_side() const { return bio_ == HostBio::memory_pair ? outer_ : SSL_get_wbio(ssl_); }

  // Runs an SSL call to the end, moving bytes between the socket and the memory BIOs as it asks.
  template <typename Step>
  bool complete(Step step) {
    while (true) {
      ERR_clear_error();
      const int result = step();
      if (!flush()) return false;
      if (result > 0) return true;
      if (SSL_get_error(ssl_, result) != SSL_ERROR_WANT_READ || !feed()) return false;
    }
  }

  // The socket's next bytes to the read BIO: first those it would not take before, then a recv
  // of up to 64 KiB. Whatever the BIO does not take waits in unread_.
  bool feed() {
    if (bio_ == HostBio::socket) return false;
    if (unread_.empty()) {
      char buffer[64 * 1024];
      const ssize_t got = ::recv(fd_, buffer, sizeof buffer, 0);
      if (got <= 0) return false;
      unread_.assign(buffer, static_cast<std::size_t>(got));
    }
    const int taken = BIO_write(input_side(), unread_.data(), static_cast<int>(unread_.size()));
    if (taken <= 0) return false;
    unread_.erase(0, static_cast<std::size_t>(taken));
    return true;
  }

  int fd_;
  HostBio bio_;
  SSL* ssl_ = nullptr;
  BIO* outer_ = nullptr;  // the host's half of a BIO pair
  std::string unread_;
  bool handed_ = false;
};

// A host server and the fastws server it hands connections to.
class TlsHandoverTest : public ::testing::TestWithParam<HostBio> {
 protected:
  // The host's side of a connection whose client is dialing: accepted, TLS done by the host.
  // The client must be able to finish its handshake without this thread (a fastws Client, or a
  // RawPeer starting TLS on another thread).
  std::unique_ptr<HostTlsSession> accept_tls() {
    const int fd = host_.accept_one();
    if (fd < 0) return nullptr;
    auto session = std::make_unique<HostTlsSession>(context_.get(), fd, GetParam());
    if (!session->handshake()) return nullptr;
    return session;
  }
  // A RawPeer over TLS to the host, and the host's side of it.
  std::pair<std::unique_ptr<RawPeer>, std::unique_ptr<HostTlsSession>> raw_peer() {
    auto peer = std::make_unique<RawPeer>(host_.port());
    std::unique_ptr<HostTlsSession> session;
    std::thread host([&] { session = accept_tls(); });
    const bool secure = peer->start_tls(client_context_.get());
    host.join();
    if (!secure || !session) return {};
    return {std::move(peer), std::move(session)};
  }
  std::string wss_url(std::string_view path = "/") const {
    return "wss://localhost:" + std::to_string(host_.port()) + std::string(path);
  }
  static ClientOptions trusting_client() {
    ClientOptions options;
    options.tls.ca_file = TestCertificate::get().certificate_file;
    return options;
  }

  HostTlsContext context_ = host_tls_context();
  ClientTlsContext client_context_ = client_tls_context();
  HostServer host_;
  EchoServer server_;
};

INSTANTIATE_TEST_SUITE_P(HostBios, TlsHandoverTest,
                         ::testing::Values(HostBio::socket, HostBio::memory_pair, HostBio::memory),
                         [](const auto& test) { return name_of(test.param); });

// The fastws client verifies the host's certificate against the test CA, echoes, and closes both
// ways: the server's "close please" ends one connection with 4001, the client ends another.
TEST_P(TlsHandoverTest, FastwsClientEchoesAndClosesBothWays) {
  RecordingClient client(trusting_client());
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    client.client().connect(wss_url("/handed?round=" + std::to_string(round)));
    auto session = accept_tls();
    ASSERT_TRUE(session);
    const std::string request = session->read_request();
    const HandoverResult result = session->hand_over(server_.server(), request);
    ASSERT_TRUE(result.accepted) << result.error;
    EXPECT_EQ(result.response, "");
    const Conn conn = wait_for_open(client.opened, static_cast<std::size_t>(round));
    ASSERT_TRUE(conn);
    conn.send("hello over the host's TLS");
    ASSERT_TRUE(client.received.wait_for(static_cast<std::size_t>(round) + 1));
    EXPECT_EQ(client.received.all()[static_cast<std::size_t>(round)].text,
              "hello over the host's TLS");
    if (round == 0) {
      conn.send("close please");
    } else {
      conn.close(close_code::normal, "client done");
    }
    ASSERT_TRUE(client.closes.wait_for(static_cast<std::size_t>(round) + 1));
    ASSERT_TRUE(server_.closed().wait_for(static_cast<std::size_t>(round) + 1));
  }
  EXPECT_EQ(client.closes.all()[0].code, 4001);
  EXPECT_EQ(client.closes.all()[0].reason, "as you asked");
  EXPECT_EQ(server_.closed().all()[0].code, 4001);
  EXPECT_EQ(client.closes.all()[1].code, close_code::normal);
  EXPECT_EQ(server_.closed().all()[1].code, close_code::normal);
  EXPECT_EQ(server_.closed().all()[1].reason, "client done");
  EXPECT_EQ(server_.opened().all()[1].substr(0, 8), "/handed ");
  EXPECT_TRUE(wait_until([&] { return server_.server().stats().connections == 0; }));
}

// The head reaches the host in two TLS records, read apart.
TEST_P(TlsHandoverTest, RequestSplitAcrossReads) {
  auto [client, session] = raw_peer();
  ASSERT_TRUE(client && session);
  const std::string request = RawPeer::upgrade_request("/split");
  const std::size_t half = request.size() / 2;
  ASSERT_TRUE(client->send_raw(request.substr(0, half)));
  std::string read = session->read_record();  // no head yet...
  EXPECT_EQ(read, request.substr(0, half));
  ASSERT_TRUE(client->send_raw(request.substr(half)));
  read += session->read_record();  // ...then the rest
  ASSERT_EQ(read, request);

  ASSERT_TRUE(session->hand_over(server_.server(), read).accepted);
  EXPECT_EQ(status_of(client->read_head()), 101);
  client->send_text("split");
  auto echo = client->read_frame();
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->payload_text(), "split");
}

std::vector<std::byte> pattern(std::size_t size) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>(i * 7 + 3);
  return bytes;
}

std::vector<std::byte> masked_binary_frame(std::span<const std::byte> payload) {
  Frame frame = Frame::binary(payload);
  frame.mask = MaskKey{std::byte{0xA1}, std::byte{0xB2}, std::byte{0xC3}, std::byte{0xD4}};
  return frame.serialize();
}

// The client pipelines a frame in the same TLS record as the head; a host that reads byte by byte
// stops at the blank line, so the frame waits decrypted inside the SSL, where no socket
// readiness will announce it.
TEST_P(TlsHandoverTest, FrameInTheHeadsRecordLeftInsideTheSsl) {
  auto [client, session] = raw_peer();
  ASSERT_TRUE(client && session);
  const std::vector<std::byte> payload = pattern(100);
  std::vector<std::byte> sent = to_bytes(RawPeer::upgrade_request());
  const std::vector<std::byte> frame = masked_binary_frame(payload);
  sent.insert(sent.end(), frame.begin(), frame.end());
  ASSERT_TRUE(client->send_raw(sent));  // one record
  const std::string head = session->read_request(0, 1);
  ASSERT_EQ(head, RawPeer::upgrade_request());
  ASSERT_GT(SSL_pending(session->ssl()), 0);

  ASSERT_TRUE(session->hand_over(server_.server(), head).accepted);
  EXPECT_EQ(status_of(client->read_head()), 101);
  auto echo = client->read_frame();
  ASSERT_TRUE(echo) << "the frame inside the SSL was lost";
  EXPECT_TRUE(echo->payload == payload);
}

// Bytes waiting in the socket's receive queue; used to let the client's bytes all arrive.
std::size_t queued_bytes(int fd) {
  int queued = 0;
  return ::ioctl(fd, FIONREAD, &queued) == 0 ? static_cast<std::size_t>(queued) : 0;
}

// The head, then a frame in records of its own, all sent before the host reads. The host reads
// the head's record and hands over: the frame's records are, by the host's kind of BIO, in the
// socket, or in the read BIO, or (a 200 KiB frame and a BIO pair, which holds 17 KiB) partly in
// the BIO, partly in the bytes the host took but the pair would not (unread_ciphertext), the rest
// in the socket. fastws must read them in that order, also when the socket has nothing more.
TEST_P(TlsHandoverTest, PipelinedFrameFromWhereverTheHostLeftIt) {
  for (const std::size_t size : {std::size_t{100}, std::size_t{200 * 1024}}) {
    SCOPED_TRACE(size);
    auto [client, session] = raw_peer();
    ASSERT_TRUE(client && session);
    const std::vector<std::byte> payload = pattern(size);
    const std::vector<std::byte> frame = masked_binary_frame(payload);
    const std::string request = RawPeer::upgrade_request();
    std::thread sender([&, &client = client] {
      client->send_raw(request);
      client->send_raw(frame);
    });
    const std::size_t arrived = std::min<std::size_t>(request.size() + frame.size(), 64 * 1024);
    ASSERT_TRUE(wait_until([&] { return queued_bytes(session->fd()) >= arrived; }));
    const std::string head = session->read_request();
    ASSERT_EQ(head, request);
    if (GetParam() != HostBio::socket) {
      EXPECT_GT(session->in_read_bio(), 0u);
    }
    if (GetParam() == HostBio::memory_pair && size > 64 * 1024) {
      EXPECT_GT(session->unread().size(), 0u);
    }

    ASSERT_TRUE(session->hand_over(server_.server(), head).accepted);
    EXPECT_EQ(status_of(client->read_head()), 101);
    auto echo = client->read_frame();
    sender.join();
    ASSERT_TRUE(echo) << "the frame read before the hand-over was lost";
    EXPECT_EQ(echo->payload.size(), payload.size());
    EXPECT_TRUE(echo->payload == payload);
  }
}

// The host read the head and the frame: both are request bytes.
TEST_P(TlsHandoverTest, FrameTheHostDecryptedIsPartOfTheRequestBytes) {
  auto [client, session] = raw_peer();
  ASSERT_TRUE(client && session);
  const std::vector<std::byte> payload = pattern(300);
  const std::vector<std::byte> frame = masked_binary_frame(payload);
  ASSERT_TRUE(client->send_raw(RawPeer::upgrade_request()));
  ASSERT_TRUE(client->send_raw(frame));
  const std::string read = session->read_request(frame.size());
  ASSERT_EQ(read.size(), RawPeer::upgrade_request().size() + frame.size());

  ASSERT_TRUE(session->hand_over(server_.server(), read).accepted);
  EXPECT_EQ(status_of(client->read_head()), 101);
  auto echo = client->read_frame();
  ASSERT_TRUE(echo);
  EXPECT_TRUE(echo->payload == payload);
}

struct Refusal {
  std::string name;
  std::string request;
  int status;
};

// A request fastws refuses: the host gets a ready response, still owns its socket and SSL, and
// sends the response over its own session.
TEST_P(TlsHandoverTest, RefusalLeavesSocketAndSslToTheHost) {
  const std::vector<Refusal> cases = {
      {"foreign origin", RawPeer::upgrade_request("/", "Origin: http://evil.example\r\n"), 403},
      {"no key",
       request_head("GET / HTTP/1.1", {"Host: 127.0.0.1", "Upgrade: websocket",
                                       "Connection: Upgrade", "Sec-WebSocket-Version: 13"}),
       400},
  };
  for (const Refusal& refusal : cases) {
    SCOPED_TRACE(refusal.name);
    auto [client, session] = raw_peer();
    ASSERT_TRUE(client && session);
    ASSERT_TRUE(client->send_raw(refusal.request));
    const std::string request = session->read_request();
    ASSERT_EQ(request, refusal.request);

    const HandoverResult result = session->hand_over(server_.server(), request);
    EXPECT_FALSE(result.accepted);
    EXPECT_NE(result.error, "");
    EXPECT_EQ(status_of(result.response), refusal.status) << result.response;
    ASSERT_TRUE(session->write(result.response));
    session->close_notify();
    EXPECT_EQ(client->read_all(), result.response);
  }
  EXPECT_EQ(server_.opened().size(), 0u);
}

// Sessions fastws cannot take: a handshake not done, and (with a memory BIO) ciphertext the host
// has not sent yet. Refused with a reason; the host keeps the SSL and can go on with it.
TEST_P(TlsHandoverTest, SessionsFastwsCannotTakeAreRefused) {
  auto [client, session] = raw_peer();
  ASSERT_TRUE(client && session);
  ASSERT_TRUE(client->send_raw(RawPeer::upgrade_request()));
  const std::string request = session->read_request();

  SSL* fresh = SSL_new(context_.get());  // no handshake yet
  HandoverResult result = server_.server().handover(session->fd(), {fresh, {}}, request);
  EXPECT_FALSE(result.accepted);
  EXPECT_EQ(result.error, "cannot take over the TLS session: the TLS handshake is not finished");
  EXPECT_EQ(status_of(result.response), 500);
  EXPECT_TRUE(server_.server().adopt(session->fd(), {fresh, {}}) == std::errc::invalid_argument);
  SSL_free(fresh);

  if (GetParam() != HostBio::socket) {
    ASSERT_TRUE(session->write("unsent", false));
    result = session->hand_over(server_.server(), request);
    EXPECT_FALSE(result.accepted);
    EXPECT_NE(result.error.find("bytes the TLS session wrote have not been sent"),
              std::string::npos)
        << result.error;
    ASSERT_TRUE(session->flush());
  }
  // Still the host's: it answers over its session.
  ASSERT_TRUE(session->write("HTTP/1.1 204 No Content\r\n\r\n"));
  session->close_notify();
  const std::string answer = client->read_all();
  EXPECT_EQ(answer, GetParam() == HostBio::socket ? "HTTP/1.1 204 No Content\r\n\r\n"
                                                  : "unsentHTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(server_.opened().size(), 0u);
}

// adopt(): the host only did TLS; fastws reads the request from the session.
TEST_P(TlsHandoverTest, AdoptReadsTheRequestFromTheSession) {
  auto [client, session] = raw_peer();
  ASSERT_TRUE(client && session);
  ASSERT_FALSE(session->adopt(server_.server()));
  EXPECT_EQ(status_of(client->handshake("/adopted")), 101);
  client->send_text("adopted");
  auto echo = client->read_frame();
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->payload_text(), "adopted");
  client->send_frame(Frame::close(close_code::normal));
  EXPECT_EQ(client->read_close_code(), close_code::normal);
  ASSERT_TRUE(server_.closed().wait_for(1));
  EXPECT_EQ(server_.closed().all()[0].code, close_code::normal);
}

bool python_websockets_available() {
  return std::system("/usr/bin/python3 -c 'import websockets' >/dev/null 2>&1") == 0;
}

// Python's websockets client against the interop echo server behind a host that hands every
// connection over (with a BIO pair, as an Asio server would): echoes up to 16 MiB, fragments,
// pings both ways, a subprotocol, closes both ways.
TEST(TlsHandoverPython, WebsocketsClientThroughAHostWithABioPair) {
  if (!python_websockets_available()) GTEST_SKIP() << "/usr/bin/python3 has no websockets module";
  InteropEchoServer server(interop_server_options(false));
  HostTlsContext context = host_tls_context();
  HostServer host;
  std::atomic<bool> done{false};
  Recorded<std::string> refusals;
  std::thread hosting([&] {
    while (!done) {
      pollfd entry{host.fd(), POLLIN, 0};
      if (::poll(&entry, 1, 100) != 1) continue;
      const int fd = ::accept4(host.fd(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      HostTlsSession session(context.get(), fd, HostBio::memory_pair);
      if (!session.handshake()) continue;
      const HandoverResult result = session.hand_over(server.server(), session.read_request());
      if (!result.accepted) refusals.add(result.error);
    }
  });
  const std::string command = "/usr/bin/python3 " FASTWS_TEST_DATA_DIR "/interop/python_peer.py " +
                              std::to_string(host.port()) + " --tls " +
                              TestCertificate::get().certificate_file;
  expect_peer_passes(command, {"ok   clean close 1000", "with ALPN http/1.1"});
  done = true;
  hosting.join();
  EXPECT_EQ(refusals.size(), 0u);
}

}  // namespace
}  // namespace fastws::testing
