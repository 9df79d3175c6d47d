// A fastws client and a fastws server sending each other messages larger than their send
// buffer limit: the server stops reading while its output is over the limit (input follows
// output), so the client must keep reading, or the two would wait for each other until a write
// timeout (found with fastws-cat: two 16 MB lines to the echo example, no echo for 10 s).
#include <gtest/gtest.h>

#include <string>

#include "client_test_support.hpp"

namespace fastws::testing {
namespace {

using namespace std::chrono_literals;

TEST(ClientBackpressure, LargeMessagesBothWaysDoNotDeadlockWithAFastwsServer) {
  TestServer server;  // default limits: 16 MiB messages, 4 MiB send buffer
  server.server().on_message(
      [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
  server.start();
  RecordingClient client;
  const Conn conn = client.client().connect("ws://127.0.0.1:" + std::to_string(server.port()));
  ASSERT_TRUE(client.opened.wait_for(1, 5s));

  constexpr std::size_t kMessages = 3;
  const std::size_t size = ServerOptions{}.max_message_size;  // 16 MiB
  for (std::size_t i = 0; i < kMessages; ++i) {
    // The first goes into an empty send buffer; the next ones wait for it to drain. Each is
    // sent once the previous one has left: the client's own limit admits one at a time.
    const std::string message(size, static_cast<char>('a' + i));
    SendStatus status = conn.send(message);
    for (int tries = 0; status == SendStatus::dropped && tries < 2000; ++tries) {
      std::this_thread::sleep_for(5ms);
      status = conn.send(message);
    }
    ASSERT_NE(status, SendStatus::dropped) << "message " << i << " never admitted";
    ASSERT_NE(status, SendStatus::closed) << "message " << i;
  }
  ASSERT_TRUE(client.received.wait_for(kMessages, 20s))
      << "echoes received: " << client.received.size() << " of " << kMessages;
  const auto received = client.received.all();
  for (std::size_t i = 0; i < kMessages; ++i) {
    EXPECT_EQ(received[i].text.size(), size) << i;
    EXPECT_EQ(received[i].text.front(), static_cast<char>('a' + i)) << i;
  }
  EXPECT_EQ(client.closes.size(), 0u);
}

}  // namespace
}  // namespace fastws::testing
