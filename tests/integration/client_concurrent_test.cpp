// Sends from many threads through a client's Conns while some of those connections close, from
// either side: nothing is lost on the connections that stay open (every message a send accepted
// comes back, in order per thread), what the closing ones echoed is in order too, each side
// sees the other's close code, and nothing crashes. Run under TSan in CI (the name says
// Concurrent).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client_test_support.hpp"
#include "fastws/client.hpp"
#include "server_test_support.hpp"

namespace fastws::testing {
namespace {

constexpr std::size_t kConnections = 16;
constexpr std::size_t kSenders = 8;
#if defined(FASTWS_UNDER_TSAN)
constexpr int kPerSender = 300;
#else
constexpr int kPerSender = 2000;
#endif
// Connections the client closes (4001) and the server closes (4002); the rest stay open.
constexpr std::size_t kClosedByClient = 4;
constexpr std::size_t kClosedByServer = 4;

bool accepted(SendStatus status) {
  return status == SendStatus::written || status == SendStatus::queued ||
         status == SendStatus::backpressure;
}

// "t:i" -> {t, i}
std::pair<std::size_t, int> parse(const std::string& text) {
  const auto colon = text.find(':');
  return {std::stoul(text.substr(0, colon)), std::stoi(text.substr(colon + 1))};
}

TEST(ClientConcurrent, EightThreadsSendWhileConnectionsClose) {
  // What the callbacks record lives longer than the server and the client that record it.
  std::mutex server_mutex;
  std::map<std::size_t, Conn> server_side;  // by the index each client connection announced
  Recorded<std::pair<std::size_t, CloseStatus>> server_closes;
  std::mutex client_mutex;
  std::map<std::uint64_t, std::vector<std::string>> echoes;  // by Conn::id()
  Recorded<std::pair<std::uint64_t, CloseStatus>> client_closes;
  std::vector<Conn> conns;

  ServerOptions server_options = TestServer::default_options();
  server_options.threads = 2;
  TestServer server(server_options);
  server.server().on_message([&](const Conn& conn, Message message) {
    if (message.text().starts_with("index ")) {
      const std::size_t index = std::stoul(std::string(message.text().substr(6)));
      conn.set_user_data(index);
      std::lock_guard lock(server_mutex);
      server_side[index] = conn;
      return;
    }
    conn.send(message.data(), message.opcode());
  });
  server.server().on_close([&](const Conn& conn, const CloseStatus& status) {
    const std::size_t* index = conn.user_data<std::size_t>();
    server_closes.add({index != nullptr ? *index : kConnections, status});
  });
  server.start();

  ClientOptions client_options;
  client_options.threads = 2;
  Client client(client_options);
  client.on_message([&](const Conn& conn, Message message) {
    std::lock_guard lock(client_mutex);
    echoes[conn.id()].emplace_back(message.text());
  });
  client.on_close([&](const Conn& conn, const CloseStatus& status) {
    client_closes.add({conn.id(), status});
  });

  for (std::size_t i = 0; i < kConnections; ++i) {
    ConnectResult result =
        client.connect_and_wait("ws://127.0.0.1:" + std::to_string(server.port()) + "/");
    ASSERT_TRUE(result) << result.error.error;
    result.conn.send("index " + std::to_string(i));
    conns.push_back(result.conn);
  }
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard lock(server_mutex);
    return server_side.size() == kConnections;
  }));

  // accepted_by[t][c]: the numbers thread t sent to connection c that a send accepted.
  std::vector<std::vector<std::vector<int>>> accepted_by(
      kSenders, std::vector<std::vector<int>>(kConnections));
  std::atomic<int> sends{0};
  std::atomic<int> dropped{0};
  std::vector<std::thread> senders;
  for (std::size_t t = 0; t < kSenders; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < kPerSender; ++i) {
        const std::size_t c = (static_cast<std::size_t>(i) + t) % kConnections;
        const SendStatus status = conns[c].send(std::to_string(t) + ":" + std::to_string(i));
        if (accepted(status)) accepted_by[t][c].push_back(i);
        if (status == SendStatus::dropped) ++dropped;
        ++sends;
      }
    });
  }
  std::thread closer([&] {
    wait_until([&] { return sends.load() >= static_cast<int>(kSenders) * kPerSender / 3; }, 10s);
    for (std::size_t c = 0; c < kClosedByClient; ++c) conns[c].close(4001, "client closes");
    std::lock_guard lock(server_mutex);
    for (std::size_t c = kClosedByClient; c < kClosedByClient + kClosedByServer; ++c) {
      server_side[c].close(4002, "server closes");
    }
  });
  for (auto& sender : senders) sender.join();
  closer.join();
  EXPECT_EQ(dropped.load(), 0);

  constexpr std::size_t closed = kClosedByClient + kClosedByServer;
  ASSERT_TRUE(client_closes.wait_for(closed, 5s * slowdown));
  for (const auto& [id, status] : client_closes.all()) {
    std::size_t c = 0;
    while (conns[c].id() != id) ++c;
    EXPECT_EQ(status.code, c < kClosedByClient ? 4001 : 4002) << "connection " << c;
  }
  ASSERT_TRUE(server_closes.wait_for(closed, 5s * slowdown));
  for (const auto& [c, status] : server_closes.all()) {
    EXPECT_EQ(status.code, c < kClosedByClient ? 4001 : 4002) << "connection " << c;
    if (c < kClosedByClient) {
      EXPECT_EQ(status.reason, "client closes");
    }
  }

  // Every accepted message comes back on the connections that stayed open.
  const auto expected_on = [&](std::size_t c) {
    std::size_t count = 0;
    for (std::size_t t = 0; t < kSenders; ++t) count += accepted_by[t][c].size();
    return count;
  };
  ASSERT_TRUE(wait_until(
      [&] {
        std::lock_guard lock(client_mutex);
        for (std::size_t c = closed; c < kConnections; ++c) {
          if (echoes[conns[c].id()].size() != expected_on(c)) {
            return false;
          }
        }
        return true;
      },
      10s * slowdown));
  std::lock_guard lock(client_mutex);
  for (std::size_t c = 0; c < kConnections; ++c) {
    const bool stays_open = c >= closed;
    EXPECT_EQ(conns[c].is_open(), stays_open) << "connection " << c;
    std::vector<std::vector<int>> got(kSenders);
    for (const std::string& text : echoes[conns[c].id()]) {
      const auto [t, i] = parse(text);
      got.at(t).push_back(i);
    }
    for (std::size_t t = 0; t < kSenders; ++t) {
      if (stays_open) {
        EXPECT_EQ(got[t], accepted_by[t][c]) << "thread " << t << ", connection " << c;
      } else {
        // Closing: what came back is a prefix of what was accepted (in order, none skipped).
        ASSERT_LE(got[t].size(), accepted_by[t][c].size()) << "connection " << c;
        EXPECT_TRUE(std::equal(got[t].begin(), got[t].end(), accepted_by[t][c].begin()))
            << "thread " << t << ", connection " << c;
      }
    }
  }
}

}  // namespace
}  // namespace fastws::testing
