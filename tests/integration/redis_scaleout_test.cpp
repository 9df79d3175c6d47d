// Scale-out through a real redis-server: three nodes in this process, clients spread over them,
// publishes from every node; every subscriber gets every message exactly once and in each
// publisher's order, a node delivers its own publish once, Redis holds one subscription per node
// and topic (SUBSCRIBE when the first local member joins, UNSUBSCRIBE when the last one leaves),
// and messages other programs publish on the channel reach the subscribers as they are.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "client_test_support.hpp"
#include "redis_test_support.hpp"

namespace fastws::testing {
namespace {

using redis::State;

class RedisScaleout : public ::testing::Test {
 protected:
  void SetUp() override {
    FASTWS_REQUIRE_PROGRAM(program, "redis-server", "redis-server");
    redis_ = start_redis(program);
    ASSERT_TRUE(redis_->ready());
  }

  std::uint16_t port() const { return redis_->port(); }

  // Waits until every node is connected and Redis confirmed `channels` channels for each.
  static bool wait_subscribed(const std::vector<std::unique_ptr<Node>>& nodes,
                              std::uint64_t channels) {
    return wait_until(
        [&] {
          for (const auto& node : nodes) {
            if (node->scaleout().state() != State::connected ||
                node->scaleout().stats().channels != channels) {
              return false;
            }
          }
          return true;
        },
        10s);
  }

  std::unique_ptr<ProxyProcess> redis_;
};

#if defined(FASTWS_UNDER_TSAN) || defined(FASTWS_UNDER_ASAN)
constexpr std::size_t clients_per_node = 34;
#else
constexpr std::size_t clients_per_node = 334;  // 1,002 clients over three nodes
#endif

TEST_F(RedisScaleout, EverySubscriberOnEveryNodeGetsEveryMessageOnceInPublisherOrder) {
  constexpr std::size_t node_count = 3;
  constexpr std::size_t per_publisher = 100;
  std::vector<std::unique_ptr<Node>> nodes;
  for (std::size_t i = 0; i < node_count; ++i) {
    nodes.push_back(std::make_unique<Node>(subscribe_on_open("room"), test_redis_options(port())));
  }
  NumberedSubscribers clients;
  for (std::size_t i = 0; i < node_count; ++i)
    clients.connect(nodes[i]->url(), clients_per_node, i);
  ASSERT_TRUE(clients.wait_open(20s)) << clients.opened.load() << " of " << clients.size();
  ASSERT_TRUE(wait_subscribed(nodes, 1));
  EXPECT_EQ(redis_subscribers(port(), "room"), 3);  // one subscription per node, not per client

  // Every node publishes at once, each from its own thread.
  std::vector<std::thread> publishers;
  for (std::size_t i = 0; i < node_count; ++i) {
    publishers.emplace_back(
        [&, i] { publish_numbered(nodes[i]->server(), "room", i, 0, per_publisher); });
  }
  for (auto& publisher : publishers) publisher.join();

  const std::size_t total = clients.size() * node_count * per_publisher;
  ASSERT_TRUE(clients.wait_received(total, 20s)) << clients.received.load() << " of " << total;
  std::this_thread::sleep_for(100ms);  // a duplicate would arrive now
  EXPECT_EQ(clients.received.load(), total);
  const std::vector<std::size_t> all = sequence(0, per_publisher);
  for (std::size_t group = 0; group < node_count; ++group) {
    EXPECT_EQ(clients.mismatches(group, {all, all, all}), 0u);
  }
  for (const auto& node : nodes) {
    const redis::Stats stats = node->scaleout().stats();
    EXPECT_EQ(stats.published, per_publisher);
    EXPECT_EQ(stats.lost, 0u);
    EXPECT_EQ(stats.received, (node_count - 1) * per_publisher);
    EXPECT_EQ(stats.own_skipped, per_publisher);  // Redis handed them back; delivered once
    EXPECT_EQ(stats.foreign, 0u);
    EXPECT_EQ(stats.topics, 1u);
  }
}

TEST_F(RedisScaleout, TopicJoinAndLeaveDriveOneSubscribeAndUnsubscribePerNode) {
  // Clients join and leave topics by message; two loops, so a topic is held on both.
  const auto handlers = [](Server& server) {
    server.on_message([](const Conn& conn, Message message) {
      const std::string_view text = message.text();
      if (text.starts_with("join ")) conn.subscribe(text.substr(5));
      if (text.starts_with("leave ")) conn.unsubscribe(text.substr(6));
    });
  };
  Node node(handlers, test_redis_options(port()), 2);
  ASSERT_TRUE(wait_until([&] { return node.scaleout().state() == State::connected; }, 10s));
  redis_cli(port(), "CONFIG RESETSTAT");
  const auto calls = [&](const std::string& command) {
    const std::string stats = redis_cli(port(), "INFO commandstats");
    const std::string key = "cmdstat_" + command + ":calls=";
    const auto at = stats.find(key);
    return at == std::string::npos ? 0 : std::stoi(stats.substr(at + key.size()));
  };

  Client client({.threads = 1});
  std::vector<Conn> members;
  for (int i = 0; i < 6; ++i) {
    ConnectResult result = client.connect_and_wait(node.url());
    ASSERT_TRUE(result) << result.error.reason;
    members.push_back(result.conn);
  }
  // Six members of "a" on two loops: one SUBSCRIBE, however they came.
  for (const Conn& member : members) member.send("join a");
  ASSERT_TRUE(wait_until([&] { return node.scaleout().stats().channels == 1; }, 5s));
  EXPECT_EQ(redis_subscribers(port(), "a"), 1);
  EXPECT_EQ(calls("subscribe"), 1);
  members[0].send("join b");
  ASSERT_TRUE(wait_until([&] { return node.scaleout().stats().channels == 2; }, 5s));
  EXPECT_EQ(redis_subscribers(port(), "b"), 1);
  EXPECT_EQ(node.scaleout().stats().topics, 2u);
  EXPECT_EQ(calls("subscribe"), 2);

  // Leaving one by one: "a" stays subscribed while anyone is in it.
  for (std::size_t i = 0; i + 1 < members.size(); ++i) members[i].send("leave a");
  members[0].send("leave b");
  ASSERT_TRUE(wait_until([&] { return node.scaleout().stats().channels == 1; }, 5s));
  EXPECT_EQ(redis_subscribers(port(), "b"), 0);
  EXPECT_EQ(redis_subscribers(port(), "a"), 1);
  EXPECT_EQ(calls("unsubscribe"), 1);
  // The last member goes by closing: its topics are left as well.
  members.back().close();
  ASSERT_TRUE(wait_until([&] { return node.scaleout().stats().channels == 0; }, 5s));
  EXPECT_EQ(redis_subscribers(port(), "a"), 0);
  EXPECT_EQ(redis_cli(port(), "PUBSUB CHANNELS"), "\n");  // an empty list
  EXPECT_EQ(node.scaleout().stats().topics, 0u);
  EXPECT_EQ(calls("unsubscribe"), 2);
  EXPECT_EQ(calls("subscribe"), 2);

  // Coming back subscribes again.
  members[1].send("join a");
  ASSERT_TRUE(wait_until([&] { return node.scaleout().stats().channels == 1; }, 5s));
  EXPECT_EQ(calls("subscribe"), 3);
}

TEST_F(RedisScaleout, WhatOtherProgramsPublishReachesSubscribersAsItIs) {
  redis::Options options = test_redis_options(port());
  options.channel_prefix = "app:";
  Node node(subscribe_on_open("news"), options);
  RecordingClient client;
  ASSERT_TRUE(client.client().connect_and_wait(node.url()));
  ASSERT_TRUE(wait_until([&] { return node.scaleout().stats().channels == 1; }, 5s));
  EXPECT_EQ(redis_cli(port(), "PUBSUB CHANNELS"), "app:news\n");

  EXPECT_EQ(redis_cli(port(), "PUBLISH app:news \"from a backend\""), "1\n");
  ASSERT_TRUE(client.received.wait_for(1));
  EXPECT_EQ(client.received.all()[0].text, "from a backend");
  // The counters may be written just after the delivery they count.
  EXPECT_TRUE(wait_until([&] { return node.scaleout().stats().received == 1; }, 2s));
  EXPECT_EQ(node.scaleout().stats().foreign, 1u);
}

}  // namespace
}  // namespace fastws::testing
