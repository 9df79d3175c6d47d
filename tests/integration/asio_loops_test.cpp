// fastws's loops driven by an application's io_context (fastws::asio::run_on): the server's and
// the client's, with callbacks on the io_context's threads and stop() ending them like run().
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "asio_test_support.hpp"
#include "client_test_support.hpp"
#include "fastws/asio.hpp"
#include "fastws/client.hpp"
#include "fastws/server.hpp"

namespace fastws::testing {
namespace {

struct EchoServer {
  explicit EchoServer(unsigned threads)
      : server({.host = "127.0.0.1", .port = 0, .threads = threads}) {
    server.on_message([this](const Conn& conn, Message message) {
      callback_threads.add(std::this_thread::get_id());
      conn.send(message.data(), message.opcode());
    });
    EXPECT_FALSE(server.listen());
  }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(server.port()) + "/"; }
  Server server;
  Recorded<std::thread::id> callback_threads;
};

TEST(AsioLoopsThread, ServerLoopsOnIoContextEchoAndStopEndsThemWith1001) {
  EchoServer echo(2);
  boost::asio::io_context io;
  std::atomic<bool> ended{false};
  ASSERT_TRUE(fastws::asio::run_on(echo.server, io, [&] { ended = true; }));
  EXPECT_FALSE(fastws::asio::run_on(echo.server, io)) << "the loops are driven already";
  IoThreads threads(io, 2);

  RecordingClient peer;
  Conn conn = peer.client().connect(echo.url());
  ASSERT_TRUE(wait_for_open(peer.opened));
  for (int i = 0; i < 20; ++i) conn.send("message " + std::to_string(i));
  ASSERT_TRUE(peer.received.wait_for(20));
  for (std::size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(peer.received.all()[i].text, "message " + std::to_string(i));
  }
  for (std::thread::id id : echo.callback_threads.all()) EXPECT_TRUE(threads.runs_io(id));

  echo.server.stop();  // from the test thread, like run()'s stop
  ASSERT_TRUE(peer.closes.wait_for(1));
  EXPECT_EQ(peer.closes.all()[0].code, close_code::going_away);
  EXPECT_TRUE(threads.all_returned()) << "io.run() returns once the loops ended";
  EXPECT_TRUE(ended);
}

TEST(AsioLoopsThread, ClientOnIoContextEchoesAndStops) {
  Server server({.host = "127.0.0.1", .port = 0, .threads = 1});
  server.on_message(
      [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
  ASSERT_FALSE(server.listen());
  std::thread server_thread([&] { server.run(); });

  boost::asio::io_context io;
  {
    RecordingClient peer({.threads = 2, .drive_loops_externally = true});
    Recorded<std::thread::id> open_threads;
    peer.client().on_open([&](const Conn& conn) {
      open_threads.add(std::this_thread::get_id());
      peer.opened.add(conn);
    });
    std::atomic<bool> ended{false};
    ASSERT_TRUE(fastws::asio::run_on(peer.client(), io, [&] { ended = true; }));
    IoThreads threads(io, 2);
    Conn conn = peer.client().connect("ws://127.0.0.1:" + std::to_string(server.port()) + "/");
    ASSERT_TRUE(wait_for_open(peer.opened));
    EXPECT_TRUE(threads.runs_io(open_threads.all().at(0)));
    conn.send("hello through the io_context");
    ASSERT_TRUE(peer.received.wait_for(1));
    EXPECT_EQ(peer.received.all()[0].text, "hello through the io_context");

    peer.client().stop();
    ASSERT_TRUE(peer.closes.wait_for(1));
    EXPECT_EQ(peer.closes.all()[0].code, close_code::going_away);
    EXPECT_TRUE(threads.all_returned());
    EXPECT_TRUE(ended);
  }
  server.stop();
  server_thread.join();
}

TEST(AsioLoopsThread, TimersRunWhileTheLoopIdlesOnTheIoContext) {
  // Nothing but a timer wakes the loop: the idle timeout closes a silent connection.
  Server server({.host = "127.0.0.1",
                 .port = 0,
                 .threads = 1,
                 .idle_timeout = std::chrono::milliseconds(300)});
  ASSERT_FALSE(server.listen());
  boost::asio::io_context io;
  ASSERT_TRUE(fastws::asio::run_on(server, io));
  IoThreads threads(io, 1);
  RecordingClient peer;
  peer.client().connect("ws://127.0.0.1:" + std::to_string(server.port()) + "/");
  ASSERT_TRUE(wait_for_open(peer.opened));
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(peer.closes.wait_for(1, 3s));
  EXPECT_EQ(peer.closes.all()[0].code, close_code::going_away);
  EXPECT_GE(since(start), std::chrono::milliseconds(250));
  server.stop();
  EXPECT_TRUE(threads.all_returned());
}

}  // namespace
}  // namespace fastws::testing
