// fastws::Client against the fastws server over 127.0.0.1 (plain and TLS with a certificate
// made at test time): opening, echo of every size with masking and compression, subprotocols
// and headers, user data, every way an opening fails (URL, refused, refused upgrade, TLS
// verification, a silent server), close handshakes from either side, and sends from many
// threads.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "client_test_support.hpp"
#include "fastws/client.hpp"
#include "net/socket.hpp"
#include "net/socket_address.hpp"
#include "server_test_support.hpp"
#include "tls_test_support.hpp"

namespace fastws::testing {
namespace {

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.server().on_upgrade([this](const Request& request, Upgrade& upgrade) {
      upgrade_headers_.add(std::string(request.header("x-token")));
      if (request.path() == "/forbidden") upgrade.reject(403, "no entry");
    });
    server_.server().on_message(
        [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
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
  net::UniqueFd closed;
  std::uint16_t port = 0;
  {
    std::vector<net::SocketAddress> any;
    ASSERT_FALSE(net::resolve("127.0.0.1", 0, any));
    ASSERT_FALSE(net::listen_on(any[0], {}, closed));
    net::SocketAddress bound;
    ASSERT_FALSE(net::local_address(closed.get(), bound));
    port = bound.port();
    closed.reset();  // nobody listens there now
  }
  RecordingClient peer;
  ConnectResult result =
      peer.client().connect_and_wait("ws://127.0.0.1:" + std::to_string(port) + "/");
  EXPECT_FALSE(result);
  EXPECT_EQ(result.error.error,
            "cannot connect to 127.0.0.1:" + std::to_string(port) + ": Connection refused");
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
  net::UniqueFd silent;
  std::vector<net::SocketAddress> any;
  ASSERT_FALSE(net::resolve("127.0.0.1", 0, any));
  ASSERT_FALSE(net::listen_on(any[0], {}, silent));  // accepts (in the kernel), never answers
  net::SocketAddress bound;
  ASSERT_FALSE(net::local_address(silent.get(), bound));
  ClientOptions options;
  options.handshake_timeout = 300ms;
  RecordingClient peer(options);
  const auto start = std::chrono::steady_clock::now();
  ConnectResult result =
      peer.client().connect_and_wait("ws://127.0.0.1:" + std::to_string(bound.port()) + "/");
  EXPECT_FALSE(result);
  EXPECT_EQ(result.error.error, "handshake timeout");
  EXPECT_EQ(result.failure, ConnectError::timeout);
  EXPECT_GE(since(start), 250ms);
  EXPECT_LT(since(start), 2s);
}

TEST_F(ClientTest, ANameIsResolvedOffTheLoop) {
  RecordingClient peer;
  ConnectResult result =
      peer.client().connect_and_wait("ws://localhost:" + std::to_string(server_.port()) + "/", {});
  // localhost may resolve to ::1 first, where nobody listens: the next address is tried.
  ASSERT_TRUE(result) << result.error.error;
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

TEST(ClientTls, VerifiesTheServerAgainstTheGivenCa) {
  TestServer server(tls_server_options());
  server.server().on_message(
      [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
  server.start();
  const std::string port = std::to_string(server.port());

  ClientOptions trusting;
  trusting.tls.ca_file = TestCertificate::get().certificate_file;
  RecordingClient trusted(trusting);
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

}  // namespace
}  // namespace fastws::testing
