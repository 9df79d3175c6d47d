// The io_uring backend chosen by option and by FASTWS_IO_BACKEND, and what only it does: bytes
// received for a plain socket in provided buffers of 16 KiB, messages spanning many of them, and
// receiving stopped while a connection holds input. The whole suite also runs on io_uring in
// .ci/run (FASTWS_IO_BACKEND=io_uring), so everything else is checked on both backends there.
#include <gtest/gtest.h>
#include <liburing.h>

#include <cstdlib>
#include <future>

#include "fastws/client.hpp"

#include "test_peer.hpp"

namespace fastws::testing {
namespace {

// Whether this kernel lets a process make an io_uring (the backend falls back to epoll if not).
bool kernel_offers_io_uring() {
  io_uring ring{};
  if (io_uring_queue_init(4, &ring, 0) != 0) return false;
  io_uring_queue_exit(&ring);
  return true;
}

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
