// fastws::asio::upgrade and handover: a Beast HTTP server (asio_beast_host.hpp) hands /ws to
// fastws, plain and over TLS; the connections get the server's callbacks, options, broadcast
// and topics, and end with the server's shutdown.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "asio_beast_host.hpp"
#include "asio_test_support.hpp"
#include "client_test_support.hpp"
#include "interop_echo_server.hpp"
#include "test_peer.hpp"

namespace fastws::testing {
namespace {

ServerOptions adapter_options() {
  ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.threads = 2;
  options.compression.enabled = true;
  options.subprotocols = {"chat.v1", "chat.v3"};
  return options;
}

// A fastws server on an io_context, behind a Beast host; the io_context runs on two threads.
struct AdapterSetup {
  // `configure`: more handlers, set before the loops run (the threading contract).
  explicit AdapterSetup(HostMode mode = HostMode::upgrade, bool secure = false,
                        const std::function<void(Server&)>& configure = {},
                        ServerOptions options = adapter_options())
      : server(std::move(options)) {
    server.on_open([this](const Conn& conn) {
      conn.subscribe("news");
      opened.add(conn);
    });
    server.on_message(
        [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
    server.on_close([this](const Conn&, const CloseStatus& status) { closed.add(status); });
    if (configure) configure(server);
    EXPECT_TRUE(fastws::asio::run_on(server, io, [this] { ended = true; }));
    host = std::make_unique<BeastHost>(io, server, mode, secure);
    threads = std::make_unique<IoThreads>(io, 2);
  }
  // The loops end before the server goes, as after Server::run().
  ~AdapterSetup() { EXPECT_TRUE(stop_and_wait_for_end()); }
  // Ends everything: the server's loops (close 1001), then the host's listener, so that
  // io.run() returns on its own.
  bool stop_and_wait_for_end() {
    server.stop();
    if (!wait_until([&] { return ended.load(); }, 5s)) return false;
    boost::asio::post(io, [this] { host->close(); });
    return threads->all_returned();
  }

  boost::asio::io_context io;
  Server server;
  Recorded<Conn> opened;
  Recorded<CloseStatus> closed;
  std::atomic<bool> ended{false};
  std::unique_ptr<BeastHost> host;
  std::unique_ptr<IoThreads> threads;
};

ClientOptions client_options(bool compress = false) {
  ClientOptions options;
  options.compression.enabled = compress;
  options.tls.ca_file = TestCertificate::get().certificate_file;
  return options;
}

void expect_echo(RecordingClient& peer, Conn conn, int count) {
  for (int i = 0; i < count; ++i) conn.send("echo " + std::to_string(i));
  ASSERT_TRUE(peer.received.wait_for(static_cast<std::size_t>(count)));
  const auto received = peer.received.all();
  for (std::size_t i = 0; i < static_cast<std::size_t>(count); ++i) {
    EXPECT_EQ(received[i].text, "echo " + std::to_string(i));
  }
}

TEST(AsioUpgrade, PlainEchoWithPermessageDeflateAndCloseFromTheClient) {
  AdapterSetup setup;
  RecordingClient peer(client_options(true));
  Conn conn = peer.client().connect(setup.host->url(), {.subprotocols = {"chat.v3"}});
  ASSERT_TRUE(wait_for_open(peer.opened));
  EXPECT_NE(conn.extensions().find("permessage-deflate"), std::string_view::npos);
  EXPECT_EQ(conn.subprotocol(), "chat.v3");
  expect_echo(peer, conn, 50);
  const std::string large(300'000, 'x');  // over the transport's write bound: backlog path
  conn.send(large);
  ASSERT_TRUE(peer.received.wait_for(51));
  EXPECT_EQ(peer.received.all()[50].text, large);

  conn.close(4001, "bye");
  ASSERT_TRUE(setup.closed.wait_for(1));
  EXPECT_EQ(setup.closed.all()[0].code, 4001);
  ASSERT_TRUE(peer.closes.wait_for(1));
  EXPECT_EQ(peer.closes.all()[0].code, 4001);
  EXPECT_TRUE(wait_until([&] { return setup.server.stats().connections == 0; }));
}

TEST(AsioUpgrade, CloseFromTheServerReachesTheClient) {
  AdapterSetup setup;
  RecordingClient peer(client_options());
  peer.client().connect(setup.host->url());
  ASSERT_TRUE(wait_for_open(peer.opened));
  Conn server_side = wait_for_open(setup.opened);
  ASSERT_TRUE(server_side);
  server_side.close(4002, "server says bye");
  ASSERT_TRUE(peer.closes.wait_for(1));
  EXPECT_EQ(peer.closes.all()[0].code, 4002);
  EXPECT_EQ(peer.closes.all()[0].reason, "server says bye");
  ASSERT_TRUE(setup.closed.wait_for(1));
  EXPECT_EQ(setup.closed.all()[0].code, 4002);
}

TEST(AsioUpgrade, TlsStreamEchoAndShutdownWith1001) {
  AdapterSetup setup(HostMode::upgrade, true);
  RecordingClient peer(client_options(true));
  Conn conn = peer.client().connect(setup.host->url());
  ASSERT_TRUE(wait_for_open(peer.opened));
  expect_echo(peer, conn, 20);
  ASSERT_TRUE(setup.stop_and_wait_for_end());
  ASSERT_TRUE(peer.closes.wait_for(1));
  EXPECT_EQ(peer.closes.all()[0].code, close_code::going_away);
}

TEST(AsioUpgradeShutdown, StopWithOpenAdapterConnectionsSends1001AndEndsTheLoops) {
  AdapterSetup setup;
  RecordingClient peer(client_options());
  for (int i = 0; i < 4; ++i) peer.client().connect(setup.host->url());
  ASSERT_TRUE(peer.opened.wait_for(4));
  ASSERT_TRUE(setup.stop_and_wait_for_end());
  ASSERT_TRUE(peer.closes.wait_for(4));
  for (const CloseStatus& status : peer.closes.all())
    EXPECT_EQ(status.code, close_code::going_away);
  EXPECT_EQ(setup.server.stats().connections, 0u);
}

TEST(AsioUpgradeBroadcast, BroadcastAndPublishFromOtherThreadsReachAdapterAndOwnConnections) {
  // The server's own listener too, opened before its loops run.
  AdapterSetup setup(HostMode::upgrade, false,
                     [](Server& server) { EXPECT_FALSE(server.listen()); });
  RecordingClient peer(client_options());
  peer.client().connect(setup.host->url());  // through Beast, upgraded
  peer.client().connect("ws://127.0.0.1:" + std::to_string(setup.server.port()) + "/");  // direct
  peer.client().connect(setup.host->url());
  ASSERT_TRUE(peer.opened.wait_for(3));
  ASSERT_TRUE(setup.opened.wait_for(3));
  std::thread broadcaster([&] { setup.server.broadcast("to everyone"); });
  std::thread publisher([&] { setup.server.publish("news", "to the news"); });
  broadcaster.join();
  publisher.join();
  ASSERT_TRUE(peer.received.wait_for(6));
  for (const Conn& conn : peer.opened.all()) {
    int everyone = 0, news = 0;
    for (const Received& received : peer.received.all()) {
      if (received.conn != conn) continue;
      everyone += received.text == "to everyone";
      news += received.text == "to the news";
    }
    EXPECT_EQ(everyone, 1);
    EXPECT_EQ(news, 1);
  }
}

TEST(AsioUpgrade, RefusalsAreAnsweredThroughTheStream) {
  AdapterSetup setup(HostMode::upgrade, false, [](Server& server) {
    server.on_upgrade([](const Request& request, Upgrade& upgrade) {
      if (request.header("x-token") != "good") upgrade.reject(403, "no token\n");
      if (request.header("x-token") == "throw") throw std::runtime_error("handler failed");
    });
  });
  {
    RawPeer bad_origin(setup.host->port());
    const std::string head = bad_origin.handshake("/ws", "Origin: http://evil.example\r\n");
    EXPECT_EQ(status_of(head), 403) << head;  // the server's Origin check, before the loop
  }
  {
    RawPeer no_token(setup.host->port());
    EXPECT_EQ(status_of(no_token.handshake("/ws")), 403);  // on_upgrade, on the loop
  }
  {
    RawPeer thrower(setup.host->port());
    EXPECT_EQ(status_of(thrower.handshake("/ws", "X-Token: throw\r\n")), 500);
  }
  {
    RawPeer good(setup.host->port());
    EXPECT_EQ(status_of(good.handshake("/ws", "X-Token: good\r\n")), 101);
  }
  EXPECT_TRUE(wait_until([&] { return setup.host->refused.load() == 1; }));
}

TEST(AsioUpgrade, PeerGoneMidUpgradeLeavesNothingBehind) {
  AdapterSetup setup;
  for (int i = 0; i < 5; ++i) {
    RawPeer quitter(setup.host->port());
    quitter.send_raw(RawPeer::upgrade_request("/ws"));
  }  // closed before reading the response
  EXPECT_TRUE(wait_until(
      [&] { return setup.server.stats().connections == 0 && setup.closed.size() == 5; }));
  RawPeer good(setup.host->port());
  EXPECT_EQ(status_of(good.handshake("/ws")), 101);
}

TEST(AsioHandover, PlainSocketGoesToTheServersLoops) {
  AdapterSetup setup(HostMode::handover);
  RecordingClient peer(client_options(true));
  Conn conn = peer.client().connect(setup.host->url());
  ASSERT_TRUE(wait_for_open(peer.opened));
  EXPECT_NE(conn.extensions().find("permessage-deflate"), std::string_view::npos);
  expect_echo(peer, conn, 20);
  RawPeer refused(setup.host->port());
  EXPECT_EQ(status_of(refused.handshake("/ws", "Origin: http://evil.example\r\n")), 403);
  EXPECT_TRUE(wait_until([&] { return setup.host->refused.load() == 1; }));
}

TEST(AsioUpgrade, PythonWebsocketsEchoesThroughTheAdapter) {
  if (std::system("/usr/bin/python3 -c 'import websockets' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 has no websockets module";
  }
  AdapterSetup setup(HostMode::upgrade, false, serve_interop_echo);  // python_peer.py's checks
  const std::string command = "/usr/bin/python3 " FASTWS_TEST_DATA_DIR "/interop/python_peer.py " +
                              std::to_string(setup.host->port()) + " --compress";
  expect_peer_passes(command, {"ok   clean close 1000"});
}

}  // namespace
}  // namespace fastws::testing
