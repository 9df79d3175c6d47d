// fastws::Client through proxies on 127.0.0.1 to the fastws server: Debian's tinyproxy (HTTP
// CONNECT, with and without Basic credentials) and danted (SOCKS5), started by the tests; a
// scripted SOCKS5 proxy for username/password (danted checks those against system users, which
// a test cannot make); proxies that are down, silent or eager; the proxy variables of the
// environment with NO_PROXY. TLS is verified against the target's name.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "client_test_support.hpp"
#include "fastws/client.hpp"
#include "proxy_test_support.hpp"
#include "server_test_support.hpp"
#include "tls_test_support.hpp"

namespace fastws::testing {
namespace {

using namespace std::string_literals;

std::string loopback(std::uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

class ClientProxyTest : public ::testing::Test {
 protected:
  ClientProxyTest() {
    for (TestServer* server : {&plain_, &secure_}) {
      server->server().on_upgrade([this](const Request& request, Upgrade&) {
        hosts_.add(std::string(request.header("host")));
      });
      server->server().on_message(
          [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
      server->start();
    }
  }

  std::string ws_url(std::string_view host = "localhost") const {
    return "ws://" + std::string(host) + ":" + std::to_string(plain_.port()) + "/";
  }
  std::string wss_url(std::string_view host = "localhost") const {
    return "wss://" + std::string(host) + ":" + std::to_string(secure_.port()) + "/";
  }

  // Options for a client through `proxy` that trusts the test certificate.
  static ClientOptions through(std::string proxy) {
    ClientOptions options;
    options.proxy = std::move(proxy);
    options.tls.ca_file = TestCertificate::get().certificate_file;
    options.connect_timeout = 3s;
    options.handshake_timeout = 5s;
    return options;
  }

  // Opens `url`, sends a message and expects it back; returns the open connection.
  static Conn expect_echo(RecordingClient& peer, const std::string& url) {
    const ConnectResult result = peer.client().connect_and_wait(url);
    EXPECT_TRUE(result) << url << ": " << result.error.error;
    if (!result) return {};
    const std::size_t before = peer.received.size();
    const std::string text = "through the proxy to " + url;
    EXPECT_EQ(result.conn.send(text), SendStatus::queued);
    EXPECT_TRUE(peer.received.wait_for(before + 1, 3s)) << url;
    const auto received = peer.received.all();
    if (received.size() > before) {
      EXPECT_EQ(received[before].text, text);
    }
    return result.conn;
  }

  // The error of a connection that must fail.
  static std::string connect_error(RecordingClient& peer, const std::string& url) {
    const ConnectResult result = peer.client().connect_and_wait(url);
    EXPECT_FALSE(result) << url;
    return result.error.error;
  }

  Recorded<std::string> hosts_;  // the Host field of each upgrade request
  TestServer plain_{TestServer::default_options()};
  TestServer secure_{tls_server_options()};
};

// The target is "localhost", so the proxy resolves it; Host and TLS name it, not the proxy.
TEST_F(ClientProxyTest, WsAndWssEchoThroughTinyproxy) {
  FASTWS_REQUIRE_PROGRAM(tinyproxy, "tinyproxy", "tinyproxy-bin");
  const auto proxy = start_tinyproxy(tinyproxy);
  ASSERT_TRUE(proxy->ready());
  RecordingClient peer(through("http://" + loopback(proxy->port())));
  for (const std::string& url : {ws_url(), wss_url()}) {
    const Conn conn = expect_echo(peer, url);
    EXPECT_EQ(conn.remote_address(), loopback(proxy->port())) << url;
  }
  EXPECT_EQ(hosts_.all(),
            (std::vector<std::string>{"localhost:" + std::to_string(plain_.port()),
                                      "localhost:" + std::to_string(secure_.port())}));
  EXPECT_NE(proxy->log().find("CONNECT localhost:" + std::to_string(secure_.port())),
            std::string::npos)
      << proxy->log();
}

TEST_F(ClientProxyTest, WsAndWssEchoThroughDanted) {
  FASTWS_REQUIRE_PROGRAM(danted, "danted", "dante-server");
  const auto proxy = start_danted(danted);
  ASSERT_TRUE(proxy->ready());
  // socks5h:// is the same: names always go to the proxy.
  for (const std::string scheme : {"socks5://", "socks5h://"}) {
    RecordingClient peer(through(scheme + loopback(proxy->port())));
    for (const std::string& url : {ws_url(), wss_url()}) {
      const Conn conn = expect_echo(peer, url);
      EXPECT_EQ(conn.remote_address(), loopback(proxy->port())) << url;
    }
  }
  EXPECT_EQ(hosts_.size(), 4u);
  EXPECT_EQ(hosts_.all()[1], "localhost:" + std::to_string(secure_.port()));
}

// A server on 127.0.0.2 whose certificate names only localhost and 127.0.0.1, reached through a
// proxy on 127.0.0.1: were the proxy's address verified, this would pass.
TEST_F(ClientProxyTest, TlsVerifiesTheTargetNotTheProxy) {
  FASTWS_REQUIRE_PROGRAM(tinyproxy, "tinyproxy", "tinyproxy-bin");
  FASTWS_REQUIRE_PROGRAM(danted, "danted", "dante-server");
  ServerOptions options = tls_server_options();
  options.host = "127.0.0.2";
  TestServer other_address(options);
  other_address.start();
  const std::string url = "wss://127.0.0.2:" + std::to_string(other_address.port()) + "/";
  const auto http = start_tinyproxy(tinyproxy);
  const auto socks = start_danted(danted);
  ASSERT_TRUE(http->ready() && socks->ready());
  for (const std::string& proxy :
       {"http://" + loopback(http->port()), "socks5://" + loopback(socks->port())}) {
    RecordingClient peer(through(proxy));
    const std::string error = connect_error(peer, url);
    EXPECT_NE(error.find("certificate verification failed: IP address mismatch"), std::string::npos)
        << proxy << ": " << error;
  }
}

TEST_F(ClientProxyTest, TinyproxyWithBasicAuthTakesTheRightCredentialsOnly) {
  FASTWS_REQUIRE_PROGRAM(tinyproxy, "tinyproxy", "tinyproxy-bin");
  const auto proxy = start_tinyproxy(tinyproxy, "alice", "s3cret");
  ASSERT_TRUE(proxy->ready());
  const std::string address = loopback(proxy->port());

  RecordingClient right(through("http://alice:s3cret@" + address));
  expect_echo(right, wss_url());

  RecordingClient wrong(through("http://alice:guess@" + address));
  // tinyproxy 1.11 answers wrong credentials with 401 (and missing ones with 407).
  const std::string refused = "HTTP proxy " + address + ": refused CONNECT: ";
  const std::string error = connect_error(wrong, ws_url());
  EXPECT_TRUE(error == refused + "401 Unauthorized" ||
              error == refused + "407 Proxy Authentication Required")
      << error;
  RecordingClient none(through("http://" + address));
  EXPECT_EQ(connect_error(none, ws_url()),
            "HTTP proxy " + address +
                ": refused CONNECT: 407 Proxy Authentication Required (the proxy URL has no "
                "user:password)");
  ASSERT_TRUE(wrong.errors.wait_for(1));  // on_error says the same
  EXPECT_EQ(wrong.errors.all()[0].error.rfind("HTTP proxy ", 0), 0u);
  EXPECT_EQ(hosts_.size(), 1u);
}

TEST_F(ClientProxyTest, DantedSaysWhenTheDestinationRefuses) {
  FASTWS_REQUIRE_PROGRAM(danted, "danted", "dante-server");
  const auto proxy = start_danted(danted);
  ASSERT_TRUE(proxy->ready());
  RecordingClient peer(through("socks5://" + loopback(proxy->port())));
  const std::uint16_t closed = free_loopback_port();
  EXPECT_EQ(connect_error(peer, "ws://127.0.0.1:" + std::to_string(closed) + "/"),
            "SOCKS5 proxy " + loopback(proxy->port()) + ": connection refused by destination (5)");
}

TEST_F(ClientProxyTest, DantedWithUsernameAuthRefusesUnknownUsers) {
  FASTWS_REQUIRE_PROGRAM(danted, "danted", "dante-server");
  const auto proxy = start_danted(danted, "username");
  ASSERT_TRUE(proxy->ready());
  const std::string address = loopback(proxy->port());
  RecordingClient unknown(through("socks5://fastws-no-such-user:guess@" + address));
  EXPECT_EQ(connect_error(unknown, ws_url()),
            "SOCKS5 proxy " + address + ": refused the user name and password (status 1)");
  RecordingClient anonymous(through("socks5://" + address));
  EXPECT_EQ(
      connect_error(anonymous, ws_url()),
      "SOCKS5 proxy " + address + ": wants authentication (the proxy URL has no user:password)");
  EXPECT_EQ(hosts_.size(), 0u);
}

// What the scripted SOCKS5 proxy read of one conversation.
struct Socks5Conversation {
  std::string methods;
  std::string username;
  std::string password;
  int address_type = 0;
  std::string host;
  std::uint16_t port = 0;
};

bool send_all(int fd, const std::string& bytes) {
  return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

std::size_t size_of(const std::string& byte) {
  return byte.empty() ? 0 : static_cast<unsigned char>(byte[0]);
}

// RFC 1928 and 1929 as a server, taking alice / "wonder land" only, names only (ATYP 3), then
// relaying to the target.
ScriptedPeer::Script socks5_with_password(Recorded<Socks5Conversation>& seen) {
  return [&seen](int fd) {
    Socks5Conversation talk;
    const std::string greeting = read_bytes(fd, 2);
    if (greeting.size() != 2) return;
    talk.methods = read_bytes(fd, static_cast<unsigned char>(greeting[1]));
    send_all(fd, "\x05\x02");
    read_bytes(fd, 1);  // the subnegotiation version
    talk.username = read_bytes(fd, size_of(read_bytes(fd, 1)));
    talk.password = read_bytes(fd, size_of(read_bytes(fd, 1)));
    const bool accepted = talk.username == "alice" && talk.password == "wonder land";
    send_all(fd, accepted ? "\x01\x00"s : "\x01\x01"s);
    if (accepted) {
      const std::string request = read_bytes(fd, 4);
      talk.address_type = request.size() == 4 ? request[3] : -1;
      if (talk.address_type == 3) talk.host = read_bytes(fd, size_of(read_bytes(fd, 1)));
      const std::string port = read_bytes(fd, 2);
      if (port.size() == 2)
        talk.port = static_cast<std::uint16_t>(size_of(port) << 8 | size_of(port.substr(1)));
    }
    seen.add(talk);
    if (!accepted || talk.host.empty()) return;
    const net::UniqueFd target = connect_to(talk.host, talk.port);
    send_all(fd, (target ? "\x05\x00"s : "\x05\x05"s) + "\x00\x01\x7f\x00\x00\x01\x00\x00"s);
    if (target) relay(fd, target.get());
  };
}

TEST_F(ClientProxyTest, Socks5UsernameAndPasswordReachTheProxyDecoded) {
  Recorded<Socks5Conversation> seen;
  ScriptedPeer proxy(socks5_with_password(seen));
  const std::string address = loopback(proxy.port());
  RecordingClient peer(through("socks5://alice:wonder%20land@" + address));
  expect_echo(peer, wss_url());
  RecordingClient wrong(through("socks5://alice:rabbit@" + address));
  EXPECT_EQ(connect_error(wrong, ws_url()),
            "SOCKS5 proxy " + address + ": refused the user name and password (status 1)");

  ASSERT_TRUE(seen.wait_for(2));
  const Socks5Conversation first = seen.all()[0];
  EXPECT_EQ(first.methods, "\x00\x02"s);  // no authentication, username/password
  EXPECT_EQ(first.username, "alice");
  EXPECT_EQ(first.password, "wonder land");
  EXPECT_EQ(first.address_type, 3);  // a name, for the proxy to resolve
  EXPECT_EQ(first.host, "localhost");
  EXPECT_EQ(first.port, secure_.port());
  EXPECT_EQ(seen.all()[1].password, "rabbit");
}

TEST_F(ClientProxyTest, AProxyThatIsDownIsNamedInTheError) {
  const std::uint16_t closed = free_loopback_port();
  const std::string address = loopback(closed);
  for (const std::string kind : {"HTTP", "SOCKS5"}) {
    RecordingClient peer(through((kind == "HTTP" ? "http://" : "socks5://") + address));
    EXPECT_EQ(connect_error(peer, ws_url()), kind + " proxy " + address + ": cannot connect to " +
                                                 address + ": Connection refused");
  }
  // A proxy named by a name: the client resolves the proxy's name (off the loop), not the
  // target's.
  const std::string named = "localhost:" + std::to_string(closed);
  RecordingClient peer(through("http://" + named));
  const std::string error = connect_error(peer, "ws://target.invalid/");
  EXPECT_EQ(error.rfind("HTTP proxy " + named + ": cannot connect to ", 0), 0u) << error;
}

TEST_F(ClientProxyTest, ASilentProxyEndsInTheConnectTimeout) {
  net::UniqueFd silent;  // accepts (in the kernel), never answers
  ASSERT_FALSE(net::listen_on(net::test::address_of("127.0.0.1", 0), {}, silent));
  const std::string address = loopback(net::test::bound_address(silent.get()).port());
  ClientOptions options = through("socks5://" + address);
  options.connect_timeout = 300ms;
  RecordingClient peer(options);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(connect_error(peer, ws_url()), "SOCKS5 proxy " + address + ": no answer within 300 ms");
  EXPECT_GE(since(start), 250ms);
  EXPECT_LT(since(start), 2s);
}

// The opening ends while the tunnel waits for the proxy: by the handshake timeout, and by the
// client going away with a tunnel still open (the sanitizer builds check what is left behind).
TEST_F(ClientProxyTest, AnOpeningThatEndsDuringTheTunnelLeavesNothingBehind) {
  net::UniqueFd silent;
  ASSERT_FALSE(net::listen_on(net::test::address_of("127.0.0.1", 0), {}, silent));
  ClientOptions options =
      through("http://" + loopback(net::test::bound_address(silent.get()).port()));
  options.handshake_timeout = 300ms;
  {
    RecordingClient peer(options);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(peer.client().connect_and_wait(ws_url()));
    EXPECT_GE(since(start), 250ms);
    EXPECT_LT(since(start), 2s);
    options.handshake_timeout = 5s;
    RecordingClient stopping(options);
    EXPECT_TRUE(stopping.client().connect(ws_url()));
    std::this_thread::sleep_for(50ms);  // into the tunnel
  }
  EXPECT_EQ(hosts_.size(), 0u);
}

// What a proxy sends after its answer belongs to the target: here a refusal of the upgrade
// that arrives in the same segment as the proxy's 200. Swallowed with the answer, the client
// would wait for the server's answer until the handshake timeout.
TEST_F(ClientProxyTest, BytesAfterTheProxysAnswerReachTheConnection) {
  const std::string target = loopback(plain_.port());
  ScriptedPeer eager([&](int fd) {
    const std::string expected = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n";
    EXPECT_EQ(read_bytes(fd, expected.size()), expected);
    send_all(fd,
             "HTTP/1.1 200 Connection established\r\n\r\n"
             "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    read_to_end(fd, 2s);  // the upgrade request, until the client goes
  });
  ClientOptions options = through("http://" + loopback(eager.port()));
  options.handshake_timeout = 1s;
  RecordingClient peer(options);
  const std::string error = connect_error(peer, "ws://" + target + "/");
  EXPECT_NE(error.find("403"), std::string::npos) << error;
}

// Sets the proxy variables for a test (each unset first, whatever the machine had) and puts
// them back at the end.
class ScopedProxyEnvironment {
 public:
  explicit ScopedProxyEnvironment(const std::vector<std::pair<std::string, std::string>>& values) {
    for (const char* name : {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                             "ALL_PROXY", "no_proxy", "NO_PROXY"}) {
      const char* value = std::getenv(name);
      saved_.push_back({name, value != nullptr ? std::optional<std::string>(value) : std::nullopt});
      ::unsetenv(name);
    }
    for (const auto& [name, value] : values) ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedProxyEnvironment() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST_F(ClientProxyTest, TheEnvironmentChoosesTheProxyBySchemeWhenAskedTo) {
  FASTWS_REQUIRE_PROGRAM(tinyproxy, "tinyproxy", "tinyproxy-bin");
  FASTWS_REQUIRE_PROGRAM(danted, "danted", "dante-server");
  const auto http = start_tinyproxy(tinyproxy);
  const auto socks = start_danted(danted);
  ASSERT_TRUE(http->ready() && socks->ready());
  std::optional<RecordingClient> from_environment;
  std::optional<RecordingClient> not_asked;
  {
    const ScopedProxyEnvironment environment(
        {{"HTTPS_PROXY", "http://" + loopback(http->port())},
         {"http_proxy", "socks5://" + loopback(socks->port())}});
    from_environment.emplace(through("env"));  // read now, once
    not_asked.emplace(through(""));
  }
  EXPECT_EQ(expect_echo(*from_environment, ws_url()).remote_address(), loopback(socks->port()));
  EXPECT_EQ(expect_echo(*from_environment, wss_url()).remote_address(), loopback(http->port()));
  EXPECT_EQ(expect_echo(*not_asked, ws_url()).remote_address(), loopback(plain_.port()));
}

TEST_F(ClientProxyTest, NoProxyHostsAreReachedDirectly) {
  const std::string dead = loopback(free_loopback_port());
  std::optional<RecordingClient> peer;
  {
    const ScopedProxyEnvironment environment(
        {{"ALL_PROXY", "http://" + dead}, {"NO_PROXY", "example.test, LOCALHOST"}});
    peer.emplace(through("env"));
  }
  EXPECT_EQ(expect_echo(*peer, ws_url("localhost")).remote_address(), loopback(plain_.port()));
  EXPECT_EQ(expect_echo(*peer, wss_url("localhost")).remote_address(), loopback(secure_.port()));
  // Loopback is not special: 127.0.0.1 is not listed, so it goes to the (dead) proxy.
  EXPECT_EQ(connect_error(*peer, ws_url("127.0.0.1")),
            "HTTP proxy " + dead + ": cannot connect to " + dead + ": Connection refused");
}

TEST_F(ClientProxyTest, AnUnusableProxySettingIsClear) {
  EXPECT_THROW(Client(through("https://proxy.test:443")), std::invalid_argument);
  std::optional<RecordingClient> peer;
  {
    const ScopedProxyEnvironment environment({{"https_proxy"s, "ftp://proxy.test"s}});
    peer.emplace(through("env"));
  }
  EXPECT_EQ(connect_error(*peer, wss_url()),
            "cannot connect: https_proxy: unsupported proxy scheme 'ftp' (http://, socks5:// or "
            "socks5h:// are supported)");
  expect_echo(*peer, ws_url());  // http_proxy is unset: ws:// goes directly
}

// ConnectOptions::proxy overrides the client's setting for one connection: another proxy,
// "direct" for none, and a value that is no proxy fails that connection alone.
TEST_F(ClientProxyTest, EachConnectionMayNameItsOwnProxyOrNone) {
  FASTWS_REQUIRE_PROGRAM(tinyproxy, "tinyproxy", "tinyproxy-bin");
  const auto proxy = start_tinyproxy(tinyproxy);
  ASSERT_TRUE(proxy->ready());
  const std::string dead = loopback(free_loopback_port());
  RecordingClient peer(through("http://" + dead));
  const ConnectResult tunneled =
      peer.client().connect_and_wait(wss_url(), {.proxy = "http://" + loopback(proxy->port())});
  ASSERT_TRUE(tunneled) << tunneled.error.error;
  EXPECT_EQ(tunneled.conn.remote_address(), loopback(proxy->port()));
  const ConnectResult direct = peer.client().connect_and_wait(ws_url(), {.proxy = "direct"});
  ASSERT_TRUE(direct) << direct.error.error;
  EXPECT_EQ(direct.conn.remote_address(), loopback(plain_.port()));
  // Without its own proxy, a connection takes the client's (here a dead one).
  EXPECT_EQ(connect_error(peer, ws_url()),
            "HTTP proxy " + dead + ": cannot connect to " + dead + ": Connection refused");
  const ConnectResult refused = peer.client().connect_and_wait(ws_url(), {.proxy = "ftp://x"});
  EXPECT_FALSE(refused);
  EXPECT_EQ(refused.failure, ConnectError::invalid_request);
  EXPECT_EQ(refused.error.error,
            "cannot connect: proxy: unsupported proxy scheme 'ftp' (http://, socks5:// or "
            "socks5h:// are supported)");
  EXPECT_EQ(hosts_.size(), 2u);
}

// The design document's client snippet, in its exact form: a SOCKS5 proxy of this connection's
// own and a reconnect policy given by its delays alone (no other switch), across a restart of
// the server on the same port.
TEST(ClientDesignSnippet, OpensThroughSocks5AndReconnectsAfterTheServerRestarts) {
  FASTWS_REQUIRE_PROGRAM(danted, "danted", "dante-server");
  const auto socks = start_danted(danted);
  ASSERT_TRUE(socks->ready());
  const std::string proxy_address = loopback(socks->port());
  Recorded<std::string> authorizations;
  const auto start_server = [&authorizations](std::uint16_t port) {
    ServerOptions options = TestServer::default_options();
    options.port = port;
    auto server = std::make_unique<TestServer>(options);
    server->server().on_upgrade([&authorizations](const Request& request, Upgrade&) {
      authorizations.add(std::string(request.header("authorization")));
    });
    server->start();
    return server;
  };
  auto server = start_server(0);
  const std::uint16_t port = server->port();
  RecordingClient peer;  // the client itself has no proxy
  fastws::Client& client = peer.client();

  fastws::Conn feed = client.connect("ws://localhost:" + std::to_string(port) + "/ws",
                                     {
                                         .headers = {{"Authorization", "Bearer ..."}},
                                         .proxy = "socks5://" + proxy_address,
                                         .reconnect = {.initial_delay = 500ms, .max_delay = 30s},
                                     });

  ASSERT_EQ(wait_for_open(peer.opened), feed);
  EXPECT_EQ(feed.remote_address(), proxy_address);
  server.reset();
  ASSERT_TRUE(peer.closes.wait_for(1));
  server = start_server(port);
  const Conn again = wait_for_open(peer.opened, 1);
  ASSERT_TRUE(again) << "no reconnection";
  EXPECT_NE(again, feed);
  EXPECT_EQ(again.remote_address(), proxy_address);  // through the proxy again
  EXPECT_EQ(authorizations.all(), (std::vector<std::string>{"Bearer ...", "Bearer ..."}));
  EXPECT_EQ(peer.errors.size(), 0u);
}

}  // namespace
}  // namespace fastws::testing
