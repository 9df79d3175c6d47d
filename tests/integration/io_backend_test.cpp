// The io_uring backend chosen by option and by FASTWS_IO_BACKEND, and what only it does: bytes
// received for a plain socket in provided buffers of 16 KiB, messages spanning many of them, and
// receiving stopped while a connection holds input. The whole suite also runs on io_uring in
// .ci/run (FASTWS_IO_BACKEND=io_uring), so everything else is checked on both backends there.
#include <gtest/gtest.h>
#include <poll.h>

#include <cstdlib>
#include <future>
#include <thread>

#include "fastws/client.hpp"
#include "fastws/external_loop.hpp"

#include "io_uring_support.hpp"
#include "server_test_support.hpp"
#include "test_peer.hpp"

namespace fastws::testing {
namespace {

ServerOptions on(IoBackend backend) {
  ServerOptions options = TestServer::default_options();
  options.backend = backend;
  return options;
}

TEST(IoBackend, NamesRoundTrip) {
  for (IoBackend backend : {IoBackend::automatic, IoBackend::epoll, IoBackend::io_uring}) {
    EXPECT_EQ(io_backend_named(name_of(backend)), backend);
  }
  EXPECT_EQ(io_backend_named("kqueue"), std::nullopt);
}

TEST(IoBackend, OptionChoosesTheBackendAndTheEnvironmentChoosesForAutomatic) {
  if (!kernel_offers_io_uring()) GTEST_SKIP() << "this kernel refuses io_uring";
  EXPECT_EQ(Server(on(IoBackend::epoll)).io_backend(), IoBackend::epoll);
  EXPECT_EQ(Server(on(IoBackend::io_uring)).io_backend(), IoBackend::io_uring);
  const char* before = std::getenv("FASTWS_IO_BACKEND");
  const std::string saved = before != nullptr ? before : "";
  ::setenv("FASTWS_IO_BACKEND", "io_uring", 1);
  EXPECT_EQ(Server(on(IoBackend::automatic)).io_backend(), IoBackend::io_uring);
  ::setenv("FASTWS_IO_BACKEND", "epoll", 1);
  EXPECT_EQ(Server(on(IoBackend::automatic)).io_backend(), IoBackend::epoll);
  if (before != nullptr) {
    ::setenv("FASTWS_IO_BACKEND", saved.c_str(), 1);
  } else {
    ::unsetenv("FASTWS_IO_BACKEND");
  }
}

// Messages of up to 1 MiB (64 provided buffers) from several peers at once, pipelined, come back
// byte for byte; a client on io_uring too.
TEST(IoBackend, LargePipelinedMessagesEchoWholeOnIoUring) {
  if (!kernel_offers_io_uring()) GTEST_SKIP() << "this kernel refuses io_uring";
  TestServer server(on(IoBackend::io_uring));
  server.server().on_message(
      [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
  server.start();
  ASSERT_EQ(server.server().io_backend(), IoBackend::io_uring);
  std::vector<std::unique_ptr<RawPeer>> peers;
  for (int i = 0; i < 4; ++i) {
    peers.push_back(std::make_unique<RawPeer>(server.port()));
    ASSERT_NE(peers.back()->handshake().find(" 101 "), std::string::npos);
  }
  const std::size_t sizes[] = {1, 16 * 1024 - 1, 16 * 1024 + 7, 200'000, 1 << 20};
  auto payload = [](std::size_t size, std::size_t peer) {
    std::vector<std::byte> bytes(size);
    for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>(i * 13 + peer);
    return bytes;
  };
  for (std::size_t p = 0; p < 4; ++p) {
    for (std::size_t size : sizes) peers[p]->send_frame(Frame::binary(payload(size, p)));
  }
  for (std::size_t p = 0; p < 4; ++p) {
    for (std::size_t size : sizes) {
      auto echo = peers[p]->read_frame();
      ASSERT_TRUE(echo) << "peer " << p << " size " << size;
      EXPECT_EQ(echo->payload, payload(size, p)) << "peer " << p << " size " << size;
    }
  }
}

// The listener's multishot accept: 30 connections arriving together under max_connections = 10,
// then 10 more once those closed: every connection is accepted or closed at accept, never left
// waiting, and the limit holds on the way (as accept() per readiness report does on epoll).
TEST(IoBackend, MultishotAcceptKeepsTheConnectionLimit) {
  if (!kernel_offers_io_uring()) GTEST_SKIP() << "this kernel refuses io_uring";
  ServerOptions options = on(IoBackend::io_uring);
  options.max_connections = 10;
  TestServer server(options);
  server.server().on_message(
      [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
  server.start();
  auto round = [&] {
    std::vector<std::unique_ptr<RawPeer>> peers;
    for (int i = 0; i < 30; ++i) peers.push_back(std::make_unique<RawPeer>(server.port(), 2s));
    for (auto& peer : peers) peer->send_raw(RawPeer::upgrade_request());
    int served = 0;
    for (auto& peer : peers) {
      const std::string head = peer->read_head();
      if (head.empty()) continue;  // closed at accept
      EXPECT_EQ(status_of(head), 101);
      EXPECT_TRUE(peer->send_text("echo"));
      auto echo = peer->read_frame();
      EXPECT_TRUE(echo && to_string(echo->payload) == "echo");
      ++served;
    }
    return served;
  };
  EXPECT_EQ(round(), 10);
  ASSERT_TRUE(wait_until([&] { return server.server().stats().connections == 0; }));
  EXPECT_EQ(round(), 10);
}

// A loop driven from outside: its driver waits on fd() first, before any run_ready() could submit
// io_uring requests, and a completion would not wake it there. Such a loop runs on epoll, as
// io_backend.hpp says; an io_uring loop left as it was sleeps through the connection.
TEST(IoBackend, ExternalLoopRunsOnEpollAndWakesItsDriver) {
  if (!kernel_offers_io_uring()) GTEST_SKIP() << "this kernel refuses io_uring";
  Server server(on(IoBackend::io_uring));
  server.on_message(
      [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
  ASSERT_FALSE(server.listen());
  std::vector<ExternalLoop> loops = server.external_loops();
  ASSERT_EQ(loops.size(), 1u);
  EXPECT_EQ(server.io_backend(), IoBackend::epoll);
  std::thread driver([&loop = loops[0]] {
    for (;;) {
      pollfd ready{loop.fd(), POLLIN, 0};
      const auto limit = loop.wait_limit();
      if (!loop.wants_run())
        ::poll(&ready, 1, limit.count() < 0 ? -1 : static_cast<int>(limit.count()));
      if (!loop.run_ready()) return;
    }
  });
  int echoed = 0;
  {
    RawPeer peer(server.port(), 2s);
    EXPECT_EQ(status_of(peer.handshake()), 101);
    for (; echoed < 20; ++echoed) {
      if (!peer.send_text("round trip")) break;
      auto echo = peer.read_frame();
      if (!echo || to_string(echo->payload) != "round trip") break;
    }
  }
  server.stop();
  driver.join();
  EXPECT_EQ(echoed, 20);
}

TEST(IoBackend, ClientOnIoUringTalksToServerOnIoUring) {
  if (!kernel_offers_io_uring()) GTEST_SKIP() << "this kernel refuses io_uring";
  TestServer server(on(IoBackend::io_uring));
  server.server().on_message(
      [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
  server.start();
  Client client({.backend = IoBackend::io_uring});
  EXPECT_EQ(client.io_backend(), IoBackend::io_uring);
  std::promise<std::string> echoed;
  client.on_message(
      [&](const Conn&, Message message) { echoed.set_value(std::string(message.text())); });
  ConnectResult result =
      client.connect_and_wait("ws://127.0.0.1:" + std::to_string(server.port()) + "/");
  ASSERT_TRUE(result);
  result.conn.send("over io_uring both ways");
  auto future = echoed.get_future();
  ASSERT_EQ(future.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(future.get(), "over io_uring both ways");
}

}  // namespace
}  // namespace fastws::testing
