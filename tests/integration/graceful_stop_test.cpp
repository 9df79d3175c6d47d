// Server::stop(): from another thread, from a signal handler, before run(), with peers that do
// not answer; handles outliving the server. Suite names start with "Shutdown": CI runs them
// under TSan too, and under ASan/LSan like every test (nothing may leak).
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>

#include "test_peer.hpp"

namespace fastws::testing {
namespace {

ServerOptions quick_close() {
  ServerOptions options = TestServer::default_options();
  options.threads = 2;
  options.close_timeout = 300ms;
  return options;
}

TEST(Shutdown, StopWhileEchoingClosesEveryoneWith1001AndReturns) {
  TestServer server(quick_close());
  std::atomic<int> closes{0};
  server.server().on_message(
      [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
  server.server().on_close([&](const Conn&, const CloseStatus&) { ++closes; });
  server.start();
  constexpr int kPeers = 100;
  std::vector<std::unique_ptr<RawPeer>> peers;
  for (int i = 0; i < kPeers; ++i) {
    peers.push_back(std::make_unique<RawPeer>(server.port()));
    ASSERT_NE(peers.back()->handshake().find(" 101 "), std::string::npos);
    peers.back()->send_text("traffic");
  }
  const auto start = std::chrono::steady_clock::now();
  std::thread stopper([&] { server.server().stop(); });
  int got_1001 = 0;
  for (auto& peer : peers) {
    // The echo may come first; then the close frame, which we answer.
    if (peer->read_close_code() == close_code::going_away) ++got_1001;
    peer->send_frame(Frame::close(close_code::going_away));
  }
  stopper.join();
  server.stop();  // joins run()
  EXPECT_EQ(got_1001, kPeers);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(closes.load(), kPeers);
}

TEST(Shutdown, PeersThatNeverAnswerAreCutAfterTheCloseTimeout) {
  TestServer server(quick_close());
  server.start();
  std::vector<std::unique_ptr<RawPeer>> silent;
  for (int i = 0; i < 10; ++i) {
    silent.push_back(std::make_unique<RawPeer>(server.port()));
    silent.back()->handshake();
  }
  const auto start = std::chrono::steady_clock::now();
  server.stop();
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 2s);
  for (auto& peer : silent) EXPECT_TRUE(peer->wait_closed());
}

Server* signalled_server = nullptr;

TEST(Shutdown, StopFromASignalHandler) {
  Server server(quick_close());
  ASSERT_FALSE(server.listen());
  signalled_server = &server;
  struct sigaction action {};
  action.sa_handler = [](int) { signalled_server->stop(); };
  ASSERT_EQ(::sigaction(SIGUSR1, &action, nullptr), 0);
  std::thread raiser([] {
    std::this_thread::sleep_for(100ms);
    ::kill(::getpid(), SIGUSR1);
  });
  const auto start = std::chrono::steady_clock::now();
  server.run();  // returns because of the signal
  raiser.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  signal(SIGUSR1, SIG_DFL);
}

TEST(Shutdown, StopBeforeRunMakesRunReturnAtOnce) {
  Server server(quick_close());
  server.stop();
  const auto start = std::chrono::steady_clock::now();
  server.run();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST(Shutdown, HandlesOutliveTheServerAndReportClosed) {
  std::vector<Conn> kept;
  std::atomic<bool> sending{true};
  std::thread user;
  {
    TestServer server(quick_close());
    std::mutex mutex;
    server.server().on_open([&](const Conn& conn) {
      std::lock_guard lock(mutex);
      kept.push_back(conn);
    });
    server.start();
    RawPeer peer(server.port());
    peer.handshake();
    for (int i = 0; i < 200 && kept.empty(); ++i) std::this_thread::sleep_for(5ms);
    ASSERT_EQ(kept.size(), 1u);
    // A user thread keeps sending through its own copy while the server stops.
    user = std::thread([conn = kept[0], &sending] {
      while (sending) {
        const SendStatus status = conn.send("tick");
        if (status == SendStatus::closed) break;
      }
    });
    ::shutdown(peer.fd(), SHUT_RDWR);
    server.stop();
  }  // the server is destroyed here; the handles are not
  sending = false;
  user.join();
  EXPECT_FALSE(kept[0].is_open());
  EXPECT_EQ(kept[0].send("after"), SendStatus::closed);
  EXPECT_EQ(kept[0].ping(), SendStatus::closed);
  EXPECT_EQ(kept[0].close(), SendStatus::closed);
  kept[0].terminate();  // harmless
}

}  // namespace
}  // namespace fastws::testing
