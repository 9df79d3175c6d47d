// fastws::Client against the fastws server over 127.0.0.1 (plain and TLS with a certificate
// made at test time): opening, echo of every size with masking and compression, subprotocols
// and headers, user data, every way an opening fails (URL, refused, refused upgrade, TLS
// verification, a silent server), close handshakes from either side, and sends from many
// threads.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client_test_support.hpp"
#include "fastws/client.hpp"
#include "net/socket.hpp"
#include "net/socket_address.hpp"
#include "server_test_support.hpp"
#include "support/allocation_counter.hpp"
#include "tls_test_support.hpp"

namespace fastws::testing {
namespace {

// Makes `server` answer every message with itself, of the same opcode.
void echo_every_message(TestServer& server) {
  server.server().on_message(
      [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
}

// A client's options that trust the test certificate (it is its own CA).
ClientOptions trusting_the_test_certificate() {
  ClientOptions options;
  options.tls.ca_file = TestCertificate::get().certificate_file;
  return options;
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.server().on_upgrade([this](const Request& request, Upgrade& upgrade) {
      upgrade_headers_.add(std::string(request.header("x-token")));
      if (request.path() == "/forbidden") upgrade.reject(403, "no entry");
    });
    echo_every_message(server_);
    server_.server().on_close(
        [this](const Conn&, const CloseStatus& status) { server_closes_.add(status); });
    server_.start();
  }

  std::string url(std::string_view path = "/") const {
    return "ws://127.0.0.1:" + std::to_string(server_.port()) + std::string(path);
  }

  static ServerOptions server_options() {
    ServerOptions options = TestServer::default_options();
    options.subprotocols = {"chat.v2", "chat.v1"};
    options.compression.enabled = true;
    return options;
  }

  Recorded<std::string> upgrade_headers_;
  Recorded<CloseStatus> server_closes_;
  TestServer server_{server_options()};
};

TEST_F(ClientTest, ConnectAndWaitGivesAnOpenConnectionThatEchoes) {
  RecordingClient peer;
  ConnectResult result = peer.client().connect_and_wait(url());
  ASSERT_TRUE(result) << result.error.error;
  EXPECT_TRUE(result.conn.is_open());
  EXPECT_EQ(result.conn.send("hello"), SendStatus::queued);
  ASSERT_TRUE(peer.received.wait_for(1));
  EXPECT_EQ(peer.received.all()[0].text, "hello");
  EXPECT_EQ(peer.opened.size(), 1u);
}

TEST_F(ClientTest, ConnectReturnsAtOnceAndOnOpenFollows) {
  RecordingClient peer;
  peer.client().on_open([&](const Conn& conn) {
    peer.opened.add(conn);
    conn.send("from on_open #" + std::to_string(*conn.user_data<int>()));
  });
  const Conn conn = peer.client().connect(url(), {.user_data = 7});
  ASSERT_TRUE(conn);
  ASSERT_TRUE(peer.received.wait_for(1));
  EXPECT_EQ(peer.received.all()[0].text, "from on_open #7");
  EXPECT_EQ(peer.opened.all()[0], conn);
}

TEST_F(ClientTest, MessagesOfEverySizeEchoByteExact) {
  RecordingClient peer;
  ConnectResult result = peer.client().connect_and_wait(url());
  ASSERT_TRUE(result) << result.error.error;
  std::vector<std::string> sent;
  for (std::size_t size : {0u, 1u, 125u, 126u, 65535u, 65536u, 1u << 20}) {
    std::string text(size, 'a');
    for (std::size_t i = 0; i < size; ++i) text[i] = static_cast<char>('a' + (i * 7 + size) % 26);
    sent.push_back(text);
    result.conn.send(text);
  }
  ASSERT_TRUE(peer.received.wait_for(sent.size(), 5s));
  const auto received = peer.received.all();
  for (std::size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(received[i].text, sent[i]) << "message " << i;
  }
}

// Sends made on the loop thread go straight into the cork (Connection::takes_quick_way), masked
// with a key from the loop thread's pool: payloads of every small size (two words inline, and
// the others), more frames than the cork holds at once, and more than one pool of keys (2,048),
// so that the quick way also meets a full cork and a spent pool and leaves those to the general
// path.
TEST_F(ClientTest, SendsFromTheLoopThreadEchoByteExactAcrossCorkAndKeyRefills) {
  RecordingClient peer;
  constexpr std::size_t messages = 5000;
  std::vector<std::string> sent;
  for (std::size_t i = 0; i < messages; ++i) {
    std::string text(i % 40, 'a');
    for (std::size_t j = 0; j < text.size(); ++j) text[j] = static_cast<char>('a' + (i + j) % 26);
    sent.push_back(std::move(text));
  }
  peer.client().on_open([&](const Conn& conn) {
    for (const std::string& text : sent) {
      const SendStatus status = conn.send(text);
      if (status != SendStatus::written && status != SendStatus::backpressure) {
        peer.errors.add({0, {}, std::string("send: ") + to_string(status)});
      }
    }
  });
  ConnectResult result = peer.client().connect_and_wait(url());
  ASSERT_TRUE(result) << result.error.error;
  ASSERT_TRUE(peer.received.wait_for(messages, 10s));
  const auto received = peer.received.all();
  for (std::size_t i = 0; i < messages; ++i) {
    ASSERT_EQ(received[i].text, sent[i]) << "message " << i;
  }
  EXPECT_TRUE(peer.errors.all().empty());
}

TEST_F(ClientTest, SubprotocolsHeadersAndCompressionAreNegotiated) {
  ClientOptions options;
  options.compression.enabled = true;
  RecordingClient peer(options);
  ConnectResult result = peer.client().connect_and_wait(
      url(), {.headers = {{"X-Token", "abc"}}, .subprotocols = {"chat.v1", "chat.v2"}});
  ASSERT_TRUE(result) << result.error.error;
  EXPECT_EQ(result.conn.subprotocol(), "chat.v2");  // the server's preference
  EXPECT_NE(result.conn.extensions().find("permessage-deflate"), std::string_view::npos);
  ASSERT_TRUE(upgrade_headers_.wait_for(1));
  EXPECT_EQ(upgrade_headers_.all()[0], "abc");
  const std::string compressible(200'000, 'z');
  result.conn.send(compressible);
  ASSERT_TRUE(peer.received.wait_for(1));
  EXPECT_EQ(peer.received.all()[0].text, compressible);
}

TEST_F(ClientTest, CloseFromTheClientEndsBothSidesWithItsCode) {
  RecordingClient peer;
  ConnectResult result = peer.client().connect_and_wait(url());
  ASSERT_TRUE(result) << result.error.error;
  result.conn.close(4001, "done here");
  ASSERT_TRUE(peer.closes.wait_for(1));
  ASSERT_TRUE(server_closes_.wait_for(1));
  EXPECT_EQ(peer.closes.all()[0].code, 4001);
  EXPECT_EQ(server_closes_.all()[0].code, 4001);
  EXPECT_EQ(server_closes_.all()[0].reason, "done here");
  EXPECT_TRUE(peer.errors.all().empty());
}

TEST_F(ClientTest, MessagesArrivingAfterOurCloseAreStillDelivered) {
  // The client closes on the first echo; the second was sent by the server before it saw that
  // close, so it arrives while the client is closing: it is delivered, not dropped.
  RecordingClient peer;
  // Both sent from on_open, on the loop thread, so both leave before the first echo can be read
  // (sent from here, the close on "one" could come first and refuse "two").
  peer.client().on_open([](const Conn& conn) {
    conn.send("one");
    conn.send("two");
  });
  peer.client().on_message([&](const Conn& conn, Message message) {
    peer.received.add({conn, std::string(message.text())});
    if (message.text() == "one") conn.close(4001, "enough");
  });
  ConnectResult result = peer.client().connect_and_wait(url());
  ASSERT_TRUE(result) << result.error.error;
  ASSERT_TRUE(peer.closes.wait_for(1));
  ASSERT_TRUE(peer.received.wait_for(2));
  EXPECT_EQ(peer.received.all()[1].text, "two");
  EXPECT_EQ(peer.closes.all()[0].code, 4001);
  EXPECT_TRUE(peer.errors.all().empty());
}

TEST_F(ClientTest, AServerThatStopsClosesTheClientWith1001) {
  RecordingClient peer;
  ConnectResult result = peer.client().connect_and_wait(url());
  ASSERT_TRUE(result) << result.error.error;
  server_.stop();
  ASSERT_TRUE(peer.closes.wait_for(1));
  EXPECT_EQ(peer.closes.all()[0].code, close_code::going_away);
  EXPECT_FALSE(result.conn.is_open());
  EXPECT_EQ(result.conn.send("late"), SendStatus::closed);
}

TEST_F(ClientTest, ARefusedUpgradeIsAnErrorWithTheServersStatus) {
  RecordingClient peer;
  ConnectResult result = peer.client().connect_and_wait(url("/forbidden"));
  EXPECT_FALSE(result);
  EXPECT_EQ(result.error.code, close_code::abnormal);
  EXPECT_NE(result.error.error.find("403"), std::string::npos) << result.error.error;
  EXPECT_EQ(result.failure, ConnectError::http_status);
  EXPECT_EQ(result.http_status, 403);
  ASSERT_TRUE(peer.errors.wait_for(1));
  EXPECT_EQ(peer.errors.all()[0].error, result.error.error);
  EXPECT_EQ(peer.opened.size(), 0u);
  EXPECT_EQ(peer.closes.size(), 0u);  // never opened: no on_close
}

TEST_F(ClientTest, ARefusedConnectionNamesTheAddress) {
  SilentListener closed;
  ASSERT_NE(closed.port, 0);
  closed.socket.reset();  // nobody listens there now
  RecordingClient peer;
  ConnectResult result = peer.client().connect_and_wait(closed.url());
  EXPECT_FALSE(result);
  EXPECT_EQ(result.error.error,
            "cannot connect to 127.0.0.1:" + std::to_string(closed.port) + ": Connection refused");
  EXPECT_EQ(result.failure, ConnectError::connect);
}

TEST_F(ClientTest, ABadUrlOrHeaderIsAnErrorBeforeAnyByteIsSent) {
  RecordingClient peer;
  EXPECT_EQ(
      peer.client().connect_and_wait("http://127.0.0.1/").error.error.rfind("cannot connect: ", 0),
      0u);
  const ConnectResult injected =
      peer.client().connect_and_wait(url(), {.headers = {{"X-Evil", "a\r\nInjected: yes"}}});
  EXPECT_FALSE(injected);
  EXPECT_EQ(injected.error.error.rfind("cannot connect: ", 0), 0u) << injected.error.error;
  EXPECT_EQ(injected.failure, ConnectError::invalid_request);
  EXPECT_TRUE(peer.errors.wait_for(2));
  EXPECT_EQ(upgrade_headers_.size(), 0u);
}

TEST_F(ClientTest, ASilentServerEndsInTheHandshakeTimeout) {
  SilentListener silent;
  ASSERT_NE(silent.port, 0);
  ClientOptions options;
  options.handshake_timeout = 300ms;
  RecordingClient peer(options);
  const auto start = std::chrono::steady_clock::now();
  ConnectResult result = peer.client().connect_and_wait(silent.url());
  EXPECT_FALSE(result);
  EXPECT_EQ(result.error.error, "handshake timeout");
  EXPECT_EQ(result.failure, ConnectError::timeout);
  EXPECT_GE(since(start), 250ms);
  EXPECT_LT(since(start), 2s);
}

// A connection not open yet takes no message: every send reports closed, from any thread (a
// "queued" here was a lie: the loop dropped the message when it came to it). close() still
// cancels the dial.
TEST_F(ClientTest, SendsBeforeOpenReportClosedAndCloseCancelsTheDial) {
  SilentListener silent;
  ASSERT_NE(silent.port, 0);
  RecordingClient peer;
  const Conn conn = peer.client().connect(silent.url());
  ASSERT_TRUE(conn);
  pollfd incoming{silent.socket.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&incoming, 1, 2000), 1);  // connected: the request is on its way
  const net::UniqueFd accepted(::accept4(silent.socket.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted);
  EXPECT_FALSE(conn.is_open());
  EXPECT_EQ(conn.send("too early"), SendStatus::closed);
  EXPECT_EQ(conn.ping("too early"), SendStatus::closed);
  EXPECT_EQ(conn.close(close_code::normal, "never mind"), SendStatus::queued);
  EXPECT_TRUE(read_to_end(accepted.get(), 2s).closed);  // the dial ended at once
  EXPECT_EQ(peer.closes.size(), 0u);                    // it never opened: no on_close
  EXPECT_EQ(peer.errors.size(), 0u);                    // and the application ended it: no on_error
}

// stop() is not the application ending that connection: a dial it cuts short is an error the
// application hears of, on_error and (for connect_and_wait) ConnectError::stopped.
TEST_F(ClientTest, StopReportsADialInProgressToOnError) {
  SilentListener silent;
  ASSERT_NE(silent.port, 0);
  RecordingClient peer;
  ConnectResult result;
  std::thread dialer([&] { result = peer.client().connect_and_wait(silent.url()); });
  pollfd incoming{silent.socket.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&incoming, 1, 2000), 1);  // connected: the dial waits for the answer
  peer.client().stop();
  dialer.join();
  EXPECT_FALSE(result);
  EXPECT_EQ(result.failure, ConnectError::stopped);
  ASSERT_TRUE(peer.errors.wait_for(1));
  EXPECT_EQ(peer.errors.all()[0].code, close_code::abnormal);
  EXPECT_EQ(peer.errors.all()[0].error, "the dial was cancelled: the client is stopping");
  EXPECT_EQ(result.error.error, peer.errors.all()[0].error);
  EXPECT_EQ(peer.closes.size(), 0u);  // it never opened: no on_close
}

TEST_F(ClientTest, ANameIsResolvedOffTheLoop) {
  RecordingClient peer;
  ConnectResult result =
      peer.client().connect_and_wait("ws://localhost:" + std::to_string(server_.port()) + "/", {});
  // localhost may resolve to ::1 first, where nobody listens: the next address is tried.
  ASSERT_TRUE(result) << result.error.error;
}

// What a dial allocates on its loop thread and frees soon after is what the loop's heap keeps as
// holes once thousands of dials ran (bench/run_client.sh, idle). A dial to an IP address takes 15
// allocations there (the opening and its request, the resolver's callback, the addresses, the
// dialer's callback, the answer, ...). Posting the resolved addresses back to the loop as a task,
// too big for a task's inline storage, took one more and ran the rest of the dial from the loop's
// own queue, whose vectors grew to the 512 dials of a burst: 10,000 idle client connections cost
// 211 B each instead of 208.
TEST_F(ClientTest, ADialToAnIpAddressGoesOnWithoutATaskOnItsLoop) {
  Client client(ClientOptions{.threads = 1});
  constexpr std::size_t dials = 4;
  // Written on the loop thread, in a store of its own: recording allocates nothing there.
  std::array<std::atomic<std::size_t>, dials> allocations_at_open{};
  std::atomic<std::size_t> opened{0};
  client.on_open([&](const Conn&) {
    const std::size_t index = opened.load();
    if (index < dials) allocations_at_open[index] = test::allocations_on_this_thread;
    opened.store(index + 1);
  });
  std::vector<Conn> conns;
  for (std::size_t i = 0; i < dials; ++i) {
    ConnectResult result = client.connect_and_wait(url());
    ASSERT_TRUE(result) << result.error.error;
    ASSERT_TRUE(wait_until([&] { return opened.load() == i + 1; }));
    conns.push_back(result.conn);
  }
  // The first dials grow what the loop keeps (its task queues); after them every dial costs the
  // same: one more with a posted task. io_uring registers the socket twice (for the connect's
  // readiness, then as a stream), a heap block each.
  const std::size_t budget = client.io_backend() == IoBackend::io_uring ? 17 : 15;
  for (std::size_t i = 2; i < dials; ++i) {
    EXPECT_LE(allocations_at_open[i] - allocations_at_open[i - 1], budget) << "dial " << i;
  }
}

TEST_F(ClientTest, ConcurrentSendsFromThreadsAllArriveInPerThreadOrder) {
  RecordingClient peer;
  ConnectResult result = peer.client().connect_and_wait(url());
  ASSERT_TRUE(result) << result.error.error;
  constexpr int threads = 4;
  constexpr int per_thread = 200;
  std::vector<std::thread> senders;
  for (int t = 0; t < threads; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        result.conn.send(std::to_string(t) + ":" + std::to_string(i));
      }
    });
  }
  for (auto& sender : senders) sender.join();
  ASSERT_TRUE(peer.received.wait_for(threads * per_thread, 10s));
  std::vector<int> next(static_cast<std::size_t>(threads), 0);
  for (const Received& message : peer.received.all()) {
    const auto colon = message.text.find(':');
    const auto thread = std::stoul(message.text.substr(0, colon));
    EXPECT_EQ(std::stoi(message.text.substr(colon + 1)), next.at(thread)++) << message.text;
  }
}

TEST_F(ClientTest, StopClosesEveryConnectionWith1001AndLaterConnectsGetNoHandle) {
  RecordingClient peer;
  ConnectResult result = peer.client().connect_and_wait(url());
  ASSERT_TRUE(result) << result.error.error;
  peer.client().stop();
  ASSERT_TRUE(server_closes_.wait_for(1));
  EXPECT_EQ(server_closes_.all()[0].code, close_code::going_away);
  EXPECT_FALSE(peer.client().connect(url()));
  EXPECT_EQ(peer.client().connect_and_wait(url()).failure, ConnectError::stopped);
}

// A client destroyed while names of its dials are being resolved, or wait in the resolver's
// queue: every connection is released (the state given to it with them) and no callback runs
// after the destructor. Each round dials "localhost" several times and destroys the client at
// once, so that resolutions are queued and in flight then. An answer posted to a loop nobody
// runs any more keeps its connection, which keeps the loop: only an ASan build (LeakSanitizer)
// sees that leak, so run this test there too.
TEST(ClientShutdown, DestroyedWithNameResolutionsInFlightLeavesNothingBehind) {
  TestServer server;
  server.start();
  const std::string url = "ws://localhost:" + std::to_string(server.port()) + "/";
  for (int round = 0; round < 30; ++round) {
    const auto state = std::make_shared<int>(round);
    std::atomic<bool> destroyed{false};
    std::atomic<int> late_callbacks{0};
    {
      Client client;
      const auto count_late = [&] {
        if (destroyed) ++late_callbacks;
      };
      client.on_open([&](const Conn&) { count_late(); });
      client.on_error([&](const Conn&, const CloseStatus&) { count_late(); });
      client.on_close([&](const Conn&, const CloseStatus&) { count_late(); });
      for (int i = 0; i < 4; ++i) client.connect(url, {.user_data = state});
    }
    destroyed = true;
    EXPECT_EQ(state.use_count(), 1) << "round " << round << ": a connection outlived its client";
    std::this_thread::sleep_for(1ms);
    EXPECT_EQ(late_callbacks.load(), 0) << "round " << round;
  }
}

TEST(ClientTls, VerifiesTheServerAgainstTheGivenCa) {
  TestServer server(tls_server_options());
  echo_every_message(server);
  server.start();
  const std::string port = std::to_string(server.port());

  RecordingClient trusted(trusting_the_test_certificate());
  for (const std::string host : {"localhost", "127.0.0.1"}) {
    ConnectResult result = trusted.client().connect_and_wait("wss://" + host + ":" + port + "/");
    ASSERT_TRUE(result) << host << ": " << result.error.error;
    result.conn.send("over tls");
  }
  ASSERT_TRUE(trusted.received.wait_for(2));
  EXPECT_EQ(trusted.received.all()[0].text, "over tls");

  RecordingClient by_default;  // the system's store does not know the test CA
  ConnectResult refused = by_default.client().connect_and_wait("wss://localhost:" + port + "/");
  EXPECT_FALSE(refused);
  EXPECT_EQ(refused.error.error,
            "TLS handshake failed: certificate verification failed: self-signed certificate");
  EXPECT_EQ(refused.failure, ConnectError::tls);

  ClientOptions insecure;
  insecure.tls.insecure_skip_verification = true;
  RecordingClient careless(insecure);
  EXPECT_TRUE(careless.client().connect_and_wait("wss://localhost:" + port + "/"));
}

// After the TLS handshake the client's records are fastws's own (tls_client_record_layer_test):
// messages of 1 MiB cross both ways over them, in TLS 1.3 and in TLS 1.2 (against a server
// limited to it), behind the TLS 1.3 server's tickets.
TEST(ClientTls, MessagesOf1MiBCrossBothWaysInTls13AndTls12) {
  SslContext tls12_only = server_tls_context();
  SSL_CTX_set_max_proto_version(tls12_only.get(), TLS1_2_VERSION);
  ServerOptions limited = TestServer::default_options();
  limited.tls.context = tls12_only.get();
  std::string big(1u << 20, ' ');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  for (const ServerOptions& options : {tls_server_options(), limited}) {
    SCOPED_TRACE(options.tls.context == nullptr ? "TLS 1.3" : "TLS 1.2");
    TestServer server(options);
    echo_every_message(server);
    server.start();
    RecordingClient peer(trusting_the_test_certificate());
    ConnectResult result =
        peer.client().connect_and_wait("wss://localhost:" + std::to_string(server.port()) + "/");
    ASSERT_TRUE(result) << result.error.error;
    result.conn.send("small");
    result.conn.send(big);
    ASSERT_TRUE(peer.received.wait_for(2, std::chrono::seconds(10 * slowdown)));
    EXPECT_EQ(peer.received.all()[0].text, "small");
    EXPECT_TRUE(peer.received.all()[1].text == big);
  }
}

// The server ends with a code and reason of its own: on_close on the client says them (and the
// client's own code reaches the server: CloseFromTheClientEndsBothSidesWithItsCode).
TEST(ClientCloseCodes, AServerCloseReachesTheClientWithItsCodeAndReason) {
  TestServer server;
  server.server().on_message(
      [](const Conn& conn, Message) { conn.close(4002, "server says bye"); });
  server.start();
  RecordingClient peer;
  ConnectResult result =
      peer.client().connect_and_wait("ws://127.0.0.1:" + std::to_string(server.port()) + "/");
  ASSERT_TRUE(result) << result.error.error;
  result.conn.send("close me");
  ASSERT_TRUE(peer.closes.wait_for(1));
  EXPECT_EQ(peer.closes.all()[0].code, 4002);
  EXPECT_EQ(peer.closes.all()[0].reason, "server says bye");
  EXPECT_EQ(peer.closes.all()[0].error, "");
  EXPECT_EQ(peer.errors.size(), 0u);
}

// A message over the client's max_message_size: the client closes with 1009, both sides see it.
TEST(ClientCloseCodes, AMessageOverTheClientsLimitIsClosedWith1009) {
  Recorded<CloseStatus> server_closes;  // outlives the server that records it
  TestServer server;
  server.server().on_message([](const Conn& conn, Message) { conn.send(std::string(2000, 'x')); });
  server.server().on_close(
      [&](const Conn&, const CloseStatus& status) { server_closes.add(status); });
  server.start();
  ClientOptions options;
  options.max_message_size = 1000;
  RecordingClient peer(options);
  ConnectResult result =
      peer.client().connect_and_wait("ws://127.0.0.1:" + std::to_string(server.port()) + "/");
  ASSERT_TRUE(result) << result.error.error;
  result.conn.send("a large one, please");
  ASSERT_TRUE(peer.errors.wait_for(1));
  EXPECT_EQ(peer.errors.all()[0].code, close_code::message_too_big);
  ASSERT_TRUE(peer.closes.wait_for(1));
  EXPECT_EQ(peer.closes.all()[0].code, close_code::message_too_big);
  ASSERT_TRUE(server_closes.wait_for(1));
  EXPECT_EQ(server_closes.all()[0].code, close_code::message_too_big);
  EXPECT_EQ(peer.received.size(), 0u);
}

// A server that begins a message and never finishes it: the client's message_timeout closes the
// connection with 1008 (without it the client held the message for ever).
TEST(ClientLimits, AMessageLeftUnfinishedPastTheMessageTimeoutIsClosedWith1008) {
  Recorded<CloseStatus> server_closes;  // outlives the server that records it
  TestServer server;
  server.server().on_message(
      [](const Conn& conn, Message) { conn.send_frame(Frame::text("the first part", false)); });
  server.server().on_close(
      [&](const Conn&, const CloseStatus& status) { server_closes.add(status); });
  server.start();
  ClientOptions options;
  options.message_timeout = 300ms;
  RecordingClient peer(options);
  ConnectResult result =
      peer.client().connect_and_wait("ws://127.0.0.1:" + std::to_string(server.port()) + "/");
  ASSERT_TRUE(result) << result.error.error;
  const auto start = std::chrono::steady_clock::now();
  result.conn.send("begin a message");
  ASSERT_TRUE(server_closes.wait_for(1, 3s));
  EXPECT_EQ(server_closes.all()[0].code, close_code::policy_violation);
  EXPECT_GE(since(start), 250ms);
  ASSERT_TRUE(peer.closes.wait_for(1));
  EXPECT_EQ(peer.closes.all()[0].code, close_code::policy_violation);
}

// Messages in assembly count against the client's max_assembly_bytes: one that alone holds
// more than the budget is closed with 1009 before it is complete.
TEST(ClientLimits, AMessageInAssemblyOverTheClientsBudgetIsClosedWith1009) {
  Recorded<CloseStatus> server_closes;  // outlives the server that records it
  TestServer server;
  server.server().on_message([](const Conn& conn, Message) {
    conn.send_frame(Frame::text(std::string(512 * 1024, 'p'), false));
  });
  server.server().on_close(
      [&](const Conn&, const CloseStatus& status) { server_closes.add(status); });
  server.start();
  ClientOptions options;
  options.max_assembly_bytes = 256 * 1024;
  RecordingClient peer(options);
  ConnectResult result =
      peer.client().connect_and_wait("ws://127.0.0.1:" + std::to_string(server.port()) + "/");
  ASSERT_TRUE(result) << result.error.error;
  result.conn.send("begin a large message");
  ASSERT_TRUE(server_closes.wait_for(1));
  EXPECT_EQ(server_closes.all()[0].code, close_code::message_too_big);
  ASSERT_TRUE(peer.closes.wait_for(1));
  EXPECT_EQ(peer.closes.all()[0].code, close_code::message_too_big);
}

// ws+unix: dials the server's Unix domain socket; the request names the path after the ':'; both
// sides report the socket's path as the remote address.
TEST(ClientUnixSocket, DialsAServerOnAUnixSocket) {
  const std::string path =
      "/tmp/fastws-client-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand());
  ::unlink(path.c_str());
  ServerOptions options = TestServer::default_options();
  options.unix_path = path;
  Recorded<std::string> requests;
  TestServer server(options);
  Recorded<std::string> server_sides;  // remote and local address, as the server sees them
  server.server().on_upgrade([&](const Request& request, Upgrade&) {
    requests.add(std::string(request.target()) + " " + std::string(request.header("host")));
  });
  server.server().on_open([&](const Conn& conn) {
    server_sides.add(conn.remote_address() + " " + conn.local_address());
  });
  echo_every_message(server);
  server.start();
  RecordingClient peer;
  ConnectResult result = peer.client().connect_and_wait("ws+unix://" + path + ":/feed?x=1");
  ASSERT_TRUE(result) << result.error.error;
  EXPECT_EQ(result.conn.remote_address(), "unix:" + path);
  EXPECT_EQ(result.conn.local_address(), "unix");  // the client's end has no name
  // The client's end has no name: the server names it by the socket it came through.
  ASSERT_TRUE(server_sides.wait_for(1));
  EXPECT_EQ(server_sides.all()[0], "unix:" + path + " unix:" + path);
  result.conn.send("over a unix socket");
  ASSERT_TRUE(peer.received.wait_for(1));
  EXPECT_EQ(peer.received.all()[0].text, "over a unix socket");
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests.all()[0], "/feed?x=1 localhost");
  const ConnectResult missing = peer.client().connect_and_wait("ws+unix://" + path + ".missing");
  EXPECT_EQ(missing.failure, ConnectError::connect);
  EXPECT_NE(missing.error.error.find(path + ".missing"), std::string::npos) << missing.error.error;
  server.stop();
  ::unlink(path.c_str());
}

// wss+unix: TLS over the Unix socket, the certificate verified for "localhost".
// The system's CA store is read when the first wss:// dial needs the TLS context. That read
// happens in connect(), on the caller's thread: on the loop it would stall every connection
// there. The store here is a FIFO, whose open blocks until the test opens its other end.
TEST(ClientTls, TheFirstWssConnectReadsTheCaStoreOnTheCallersThread) {
  TestServer server;
  echo_every_message(server);
  server.start();
  const std::string port = std::to_string(server.port());
  const std::string fifo =
      ::testing::TempDir() + "fastws_ca_store_fifo_" + std::to_string(::getpid());
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(::setenv("SSL_CERT_FILE", fifo.c_str(), 1), 0);
  RecordingClient peer;
  ConnectResult plain = peer.client().connect_and_wait("ws://127.0.0.1:" + port + "/");
  ASSERT_TRUE(plain) << plain.error.error;

  std::atomic<bool> returned{false};
  std::thread dialer([&] {
    peer.client().connect("wss://127.0.0.1:" + port + "/");
    returned = true;
  });
  std::this_thread::sleep_for(100ms);
  plain.conn.send("the loop still runs");
  const bool echoed = peer.received.wait_for(1, 1s);
  const bool returned_before_the_store_was_read = returned.load();
  // The store's writer end: the reader, wherever it waits, reads an empty store and goes on.
  net::UniqueFd writer;
  for (int i = 0; i < 500 && !writer; ++i) {
    writer.reset(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (!writer) std::this_thread::sleep_for(10ms);
  }
  writer.reset();
  dialer.join();
  ::unsetenv("SSL_CERT_FILE");
  ::unlink(fifo.c_str());
  EXPECT_TRUE(echoed) << "the loop was blocked reading the CA store";
  EXPECT_FALSE(returned_before_the_store_was_read) << "connect() did not read the CA store";
}

TEST(ClientUnixSocket, WssUnixVerifiesTheServerForLocalhost) {
  const std::string path =
      "/tmp/fastws-client-tls-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand());
  ::unlink(path.c_str());
  ServerOptions options = tls_server_options();
  options.unix_path = path;
  TestServer server(options);
  echo_every_message(server);
  server.start();
  RecordingClient peer(trusting_the_test_certificate());
  const ConnectResult result = peer.client().connect_and_wait("wss+unix://" + path + ":/secure");
  ASSERT_TRUE(result) << result.error.error;
  EXPECT_EQ(result.conn.remote_address(), "unix:" + path);
  result.conn.send("tls over a unix socket");
  ASSERT_TRUE(peer.received.wait_for(1));
  EXPECT_EQ(peer.received.all()[0].text, "tls over a unix socket");
  // Verification is on: without the test CA the certificate is refused.
  RecordingClient untrusting;
  const ConnectResult refused = untrusting.client().connect_and_wait("wss+unix://" + path);
  EXPECT_EQ(refused.failure, ConnectError::tls) << refused.error.error;
  server.stop();
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace fastws::testing
