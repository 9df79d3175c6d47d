// Broadcast and topics: framed once, delivered once per connection, in order, from any thread.
// Suite names start with Broadcast / Publish: CI runs them under TSan too.
#include <gtest/gtest.h>

#include <atomic>

#include "test_peer.hpp"

namespace fastws::testing {
namespace {

constexpr int kClients = 40;
constexpr int kBroadcasts = 200;

// A server with two loops whose clients say "join X" / "leave X" to manage their topics.
class TopicServer {
 public:
  TopicServer() : server_(options()) {
    server_.server().on_open([this](const Conn& conn) {
      std::lock_guard lock(mutex_);
      open_.push_back(conn);
    });
    server_.server().on_message([](const Conn& conn, Message message) {
      const std::string_view text = message.text();
      if (text.starts_with("join ")) conn.subscribe(text.substr(5));
      if (text.starts_with("leave ")) conn.unsubscribe(text.substr(6));
      conn.send("ack " + std::string(text));
    });
    server_.start();
  }
  static ServerOptions options() {
    ServerOptions options = TestServer::default_options();
    options.threads = 2;
    return options;
  }
  Server& server() { return server_.server(); }
  std::uint16_t port() const { return server_.port(); }
  std::vector<Conn> open_connections() {
    std::lock_guard lock(mutex_);
    return open_;
  }
  bool wait_open(std::size_t count) {
    for (int i = 0; i < 500; ++i) {
      if (open_connections().size() >= count) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

 private:
  std::mutex mutex_;
  std::vector<Conn> open_;
  TestServer server_;
};

std::vector<std::unique_ptr<RawPeer>> connect_clients(std::uint16_t port, int count) {
  std::vector<std::unique_ptr<RawPeer>> peers;
  for (int i = 0; i < count; ++i) {
    peers.push_back(std::make_unique<RawPeer>(port));
    EXPECT_NE(peers.back()->handshake().find(" 101 "), std::string::npos);
  }
  return peers;
}

// Sends "join topic" and waits for the ack, so the subscription is in place.
void join(RawPeer& peer, const std::string& topic) {
  peer.send_text("join " + topic);
  auto ack = peer.read_frame();
  ASSERT_TRUE(ack);
  ASSERT_EQ(ack->payload_text(), "ack join " + topic);
}

TEST(Broadcast, EveryClientGetsEveryMessageOnceInOrderWhileOthersSend) {
  TopicServer server;
  auto peers = connect_clients(server.port(), kClients);
  ASSERT_TRUE(server.wait_open(kClients));
  // Another thread sends to each connection directly at the same time.
  std::thread direct([&] {
    for (const Conn& conn : server.open_connections()) {
      for (int i = 0; i < 20; ++i) conn.send("direct " + std::to_string(i));
    }
  });
  for (int i = 0; i < kBroadcasts; ++i) server.server().broadcast("broadcast " + std::to_string(i));
  direct.join();
  for (auto& peer : peers) {
    int next_broadcast = 0, next_direct = 0;
    while (next_broadcast < kBroadcasts || next_direct < 20) {
      auto frame = peer->read_frame();
      ASSERT_TRUE(frame) << "after broadcast " << next_broadcast << ", direct " << next_direct;
      const std::string text(frame->payload_text());
      if (text.starts_with("broadcast ")) {
        EXPECT_EQ(text, "broadcast " + std::to_string(next_broadcast++));
      } else {
        EXPECT_EQ(text, "direct " + std::to_string(next_direct++));
      }
    }
  }
  EXPECT_EQ(server.server().stats().messages_out,
            static_cast<std::uint64_t>(kClients) * (kBroadcasts + 20));
}

TEST(Publish, ReachesOnlySubscribersAndSkipsTheSender) {
  TopicServer server;
  auto peers = connect_clients(server.port(), 6);
  ASSERT_TRUE(server.wait_open(6));
  for (int i = 0; i < 6; ++i) join(*peers[static_cast<std::size_t>(i)], i % 2 ? "odd" : "even");
  // The sender is the connection of peers[0]: find its handle by a message it sends.
  Conn sender;
  for (const Conn& conn : server.open_connections()) {
    if (conn.remote_address().ends_with(":" + std::to_string([&] {
                                          sockaddr_in local{};
                                          socklen_t size = sizeof local;
                                          ::getsockname(peers[0]->fd(),
                                                        reinterpret_cast<sockaddr*>(&local), &size);
                                          return ntohs(local.sin_port);
                                        }()))) {
      sender = conn;
    }
  }
  ASSERT_TRUE(sender);
  server.server().publish("even", "to evens");
  server.server().publish("even", "to evens but the sender", sender);
  server.server().publish("nobody", "lost");
  for (int i = 0; i < 6; ++i) {
    auto& peer = *peers[static_cast<std::size_t>(i)];
    peer.set_timeout(300ms);
    std::vector<std::string> got;
    while (auto frame = peer.read_frame()) got.emplace_back(frame->payload_text());
    if (i % 2) {
      EXPECT_TRUE(got.empty()) << i;
    } else if (i == 0) {
      EXPECT_EQ(got, std::vector<std::string>{"to evens"});
    } else {
      EXPECT_EQ(got, (std::vector<std::string>{"to evens", "to evens but the sender"})) << i;
    }
  }
}

TEST(Publish, JoinsAndLeavesRacingWithPublishersFromThreads) {
  TopicServer server;
  auto peers = connect_clients(server.port(), 8);
  ASSERT_TRUE(server.wait_open(8));
  auto conns = server.open_connections();
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  // Two threads subscribe and unsubscribe connections at random while two publish.
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        const Conn& conn = conns[static_cast<std::size_t>(i + t) % conns.size()];
        if (i % 2) {
          conn.subscribe("room");
        } else {
          conn.unsubscribe("room");
        }
      }
    });
    threads.emplace_back([&] {
      for (int i = 0; i < 300; ++i) server.server().publish("room", "tick " + std::to_string(i));
    });
  }
  threads[1].join();
  threads[3].join();
  stop = true;
  threads[0].join();
  threads[2].join();
  // Every frame any client got is a whole, well-formed tick, in increasing order per publisher.
  for (auto& peer : peers) {
    peer->set_timeout(300ms);
    while (auto frame = peer->read_frame()) {
      ASSERT_EQ(frame->opcode, Opcode::text);
      ASSERT_TRUE(frame->payload_text().starts_with("tick ")) << frame->payload_text();
    }
  }
  // The topics stay usable: a fresh subscriber gets the next publish exactly once.
  join(*peers[0], "after");
  server.server().publish("after", "last");
  auto frame = peers[0]->read_frame();
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->payload_text(), "last");
}

TEST(Publish, ClosedConnectionsLeaveTheirTopics) {
  TopicServer server;
  {
    auto peers = connect_clients(server.port(), 3);
    for (auto& peer : peers) join(*peer, "room");
  }  // all three disconnect
  for (int i = 0; i < 200 && server.server().stats().connections != 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(server.server().stats().connections, 0u);
  auto peers = connect_clients(server.port(), 1);
  join(*peers[0], "room");
  const auto before = server.server().stats().messages_out;
  server.server().publish("room", "hello");
  auto frame = peers[0]->read_frame();
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->payload_text(), "hello");
  EXPECT_EQ(server.server().stats().messages_out - before, 1u);
}

}  // namespace
}  // namespace fastws::testing
