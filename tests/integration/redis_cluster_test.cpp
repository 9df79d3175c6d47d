// Scale-out through a three-shard Redis Cluster with sharded pub/sub: three redis-server
// processes with cluster-enabled, joined by `redis-cli --cluster create`; three fastws nodes
// pointed at one of them learn the slots, hold each topic's channel on the shard serving it
// (SSUBSCRIBE), publish with SPUBLISH there, and every subscriber gets every message exactly once
// and in order per publisher and topic.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster_slots.hpp"
#include "net_test_support.hpp"
#include "redis_test_support.hpp"

namespace fastws::testing {
namespace {

constexpr std::size_t shard_count = 3;
constexpr std::size_t topic_count = 9;

std::string topic_name(std::size_t topic) {
  std::string name = "t";
  name += std::to_string(topic);
  return name;
}

class RedisCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    FASTWS_REQUIRE_PROGRAM(program, "redis-server", "redis-server");
    FASTWS_REQUIRE_PROGRAM(cli, "redis-cli", "redis-tools");
    std::string members;
    for (std::size_t i = 0; i < shard_count; ++i) {
      shards_.push_back(start_redis(program,
                                    "cluster-enabled yes\ncluster-node-timeout 5000\n"
                                    "cluster-config-file " +
                                        directory_.file("nodes-{port}.conf") + "\n"));
      ASSERT_TRUE(shards_.back()->ready()) << shards_.back()->log();
      members += " 127.0.0.1:" + std::to_string(shards_.back()->port());
    }
    std::string output;
    ASSERT_EQ(fastws::test::run_command("timeout 20 " + cli + " --cluster create" + members +
                                            " --cluster-replicas 0 --cluster-yes 2>&1",
                                        output),
              0)
        << output;
    ASSERT_TRUE(wait_until(
        [&] {
          for (const auto& shard : shards_) {
            if (redis_cli(shard->port(), "CLUSTER INFO").find("cluster_state:ok") ==
                std::string::npos) {
              return false;
            }
          }
          return true;
        },
        10s));
  }

  // The shard whose node serves `topic`'s channel now, by CLUSTER SLOTS's count of its holders.
  std::size_t holder_of(const std::string& topic, int expected_holders) const {
    for (std::size_t shard = 0; shard < shard_count; ++shard) {
      std::string command = "PUBSUB SHARDNUMSUB ";
      command += topic;
      if (redis_cli(shards_[shard]->port(), command) ==
          topic + "\n" + std::to_string(expected_holders) + "\n") {
        return shard;
      }
    }
    return shard_count;
  }

  std::string id_of(std::size_t shard) const {
    std::string id = redis_cli(shards_[shard]->port(), "CLUSTER MYID");
    if (!id.empty()) id.pop_back();  // the newline
    return id;
  }

  redis::Options cluster_options() const {
    redis::Options options = test_redis_options(shards_.front()->port());
    options.cluster = true;
    return options;
  }

  net::test::TempDir directory_;
  std::vector<std::unique_ptr<ProxyProcess>> shards_;
};

TEST_F(RedisCluster, ShardedPubSubReachesEverySubscriberOnceInOrder) {
  constexpr std::size_t node_count = 3;
  constexpr std::size_t clients_per_node = 20;
  constexpr std::size_t per_publisher = 30;
  const auto handlers = [](Server& server) {
    server.on_open([](const Conn& conn) {
      for (std::size_t topic = 0; topic < topic_count; ++topic) {
        EXPECT_TRUE(conn.subscribe(topic_name(topic)));
      }
    });
  };
  std::vector<std::unique_ptr<Node>> nodes;
  for (std::size_t i = 0; i < node_count; ++i) {
    nodes.push_back(std::make_unique<Node>(handlers, cluster_options()));
  }
  NumberedSubscribers clients;
  for (std::size_t i = 0; i < node_count; ++i)
    clients.connect(nodes[i]->url(), clients_per_node, i);
  ASSERT_TRUE(clients.wait_open(10s));
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& node : nodes) {
          if (node->scaleout().state() != redis::State::connected ||
              node->scaleout().stats().channels != topic_count) {
            return false;
          }
        }
        return true;
      },
      10s));
  // Each channel is held where its slot is, by each node once, and the topics span every shard.
  std::set<std::size_t> shards_used;
  for (std::size_t topic = 0; topic < topic_count; ++topic) {
    std::size_t holders = 0;
    for (std::size_t shard = 0; shard < shard_count; ++shard) {
      std::string command = "PUBSUB SHARDNUMSUB ";
      command += topic_name(topic);
      const std::string answer = redis_cli(shards_[shard]->port(), command);
      if (answer == topic_name(topic) + "\n3\n") {
        ++holders;
        shards_used.insert(shard);
      }
    }
    EXPECT_EQ(holders, 1u) << topic_name(topic) << " slot "
                           << redis::detail::slot_of(topic_name(topic));
  }
  EXPECT_EQ(shards_used.size(), shard_count);

  // Publisher ids: node * topic_count + topic, so that order is checked per publisher and topic
  // (shards deliver independently of each other).
  std::vector<std::thread> publishers;
  for (std::size_t i = 0; i < node_count; ++i) {
    publishers.emplace_back([&, i] {
      for (std::size_t sequence = 0; sequence < per_publisher; ++sequence) {
        for (std::size_t topic = 0; topic < topic_count; ++topic) {
          nodes[i]->server().publish(topic_name(topic),
                                     numbered(i * topic_count + topic, sequence));
        }
      }
    });
  }
  for (auto& publisher : publishers) publisher.join();
  const std::size_t total = clients.size() * node_count * topic_count * per_publisher;
  ASSERT_TRUE(clients.wait_received(total, 20s)) << clients.received.load() << " of " << total;
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(clients.received.load(), total);
  std::array<std::vector<std::size_t>, NumberedSubscribers::max_publishers> expected;
  for (std::size_t id = 0; id < node_count * topic_count; ++id)
    expected[id] = sequence(0, per_publisher);
  for (std::size_t group = 0; group < node_count; ++group) {
    EXPECT_EQ(clients.mismatches(group, expected), 0u);
  }
  for (const auto& node : nodes) {
    const redis::Stats stats = node->scaleout().stats();
    EXPECT_EQ(stats.published, topic_count * per_publisher);
    EXPECT_EQ(stats.lost, 0u);
    EXPECT_EQ(stats.own_skipped, topic_count * per_publisher);
    EXPECT_EQ(stats.received, (node_count - 1) * topic_count * per_publisher);
  }
}

// A slot moves to another shard (CLUSTER SETSLOT ... NODE): Redis unsubscribes its channels on
// the old shard, the nodes learn the slots again, subscribe where the channel is now, and a
// publish reaches everyone again.
TEST_F(RedisCluster, ChannelsFollowTheirSlotToAnotherShard) {
  const auto handlers = [](Server& server) {
    server.on_open([](const Conn& conn) { EXPECT_TRUE(conn.subscribe("moving")); });
  };
  Node first(handlers, cluster_options());
  Node second(handlers, cluster_options());
  NumberedSubscribers clients;
  clients.connect(first.url(), 5, 0);
  clients.connect(second.url(), 5, 1);
  ASSERT_TRUE(clients.wait_open(10s));
  const auto subscribed_everywhere = [&] {
    return first.scaleout().state() == redis::State::connected &&
           second.scaleout().state() == redis::State::connected &&
           first.scaleout().stats().channels == 1 && second.scaleout().stats().channels == 1;
  };
  ASSERT_TRUE(wait_until(subscribed_everywhere, 10s));
  const std::size_t source = holder_of("moving", 2);
  ASSERT_LT(source, shard_count);
  const std::size_t target = (source + 1) % shard_count;
  publish_numbered(first.server(), "moving", 0, 0, 10);
  ASSERT_TRUE(clients.wait_received(10 * 10, 5s));

  // The order Redis documents for CLUSTER SETSLOT ... NODE: the new owner first, the source
  // after the others. The source's unsubscribe then sends the nodes to read the slots from a
  // shard that already knows the new owner (with the source first, they could read the old map
  // and subscribe at the source again: seen as a flaky failure here; see the issue 14 note).
  std::vector<std::size_t> order = {target};
  for (std::size_t shard = 0; shard < shard_count; ++shard) {
    if (shard != target && shard != source) order.push_back(shard);
  }
  order.push_back(source);
  const std::string slot = std::to_string(redis::detail::slot_of("moving"));
  for (const std::size_t shard : order) {
    EXPECT_EQ(
        redis_cli(shards_[shard]->port(), "CLUSTER SETSLOT " + slot + " NODE " + id_of(target)),
        "OK\n");
  }
  ASSERT_TRUE(wait_until([&] { return holder_of("moving", 2) == target; }, 10s))
      << "the channel did not follow its slot";
  ASSERT_TRUE(wait_until(subscribed_everywhere, 10s));
  publish_numbered(first.server(), "moving", 0, 10, 10);
  publish_numbered(second.server(), "moving", 1, 0, 10);
  ASSERT_TRUE(clients.wait_received(10 * 30, 5s)) << clients.received.load();
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(clients.received.load(), 10u * 30);
  const std::array<std::vector<std::size_t>, NumberedSubscribers::max_publishers> expected{
      sequence(0, 20), sequence(0, 10)};
  EXPECT_EQ(clients.mismatches(0, expected), 0u);
  EXPECT_EQ(clients.mismatches(1, expected), 0u);
  EXPECT_EQ(first.scaleout().stats().lost, 0u);
}

}  // namespace
}  // namespace fastws::testing
