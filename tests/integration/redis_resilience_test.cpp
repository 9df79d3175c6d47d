// Scale-out when Redis is away or refuses us: killed and started again mid-run (local delivery
// never stops, each publish Redis could not take is counted lost, exactly, remote delivery and
// the subscriptions come back), never there at all, and authentication (requirepass, ACL users,
// a wrong password, a user without access to the channels) with the refusal reported.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "client_test_support.hpp"
#include "redis_test_support.hpp"

namespace fastws::testing {
namespace {

using redis::State;

// What a node's callbacks reported: the lost publishes and the states with their reasons.
struct Reports {
  std::atomic<std::uint64_t> lost{0};
  Recorded<std::string> lost_reasons;
  Recorded<std::string> states;  // "connected", "disconnected: <reason>"

  redis::Options options(redis::Options base) {
    base.on_lost = [this](std::uint64_t count, std::string_view reason) {
      lost.fetch_add(count);
      lost_reasons.add(std::string(reason));
    };
    base.on_state = [this](State state, std::string_view reason) {
      states.add(state == State::connected ? "connected" : "disconnected: " + std::string(reason));
    };
    return base;
  }
  bool any_state_contains(const std::string& text) const {
    for (const std::string& state : states.all()) {
      if (state.find(text) != std::string::npos) return true;
    }
    return false;
  }
};

class RedisResilience : public ::testing::Test {
 protected:
  void SetUp() override {
    FASTWS_REQUIRE_PROGRAM(program, "redis-server", "redis-server");
    program_ = program;
  }

  std::string program_;
};

TEST_F(RedisResilience, RedisKilledAndRestartedLocalDeliveryGoesOnLossCountedExactly) {
  constexpr std::size_t node_count = 3;
  constexpr std::size_t clients_per_node = 30;
  constexpr std::size_t batch = 50;
  auto redis_server = start_redis(program_);
  ASSERT_TRUE(redis_server->ready());
  const std::uint16_t port = redis_server->port();

  std::array<Reports, node_count> reports;
  std::vector<std::unique_ptr<Node>> nodes;
  for (std::size_t i = 0; i < node_count; ++i) {
    nodes.push_back(std::make_unique<Node>(subscribe_on_open("room"),
                                           reports[i].options(test_redis_options(port))));
  }
  NumberedSubscribers clients;
  for (std::size_t i = 0; i < node_count; ++i)
    clients.connect(nodes[i]->url(), clients_per_node, i);
  ASSERT_TRUE(clients.wait_open(10s));
  const auto all_nodes = [&](const std::function<bool(const Node&)>& condition) {
    return wait_until(
        [&] {
          for (const auto& node : nodes) {
            if (!condition(*node)) return false;
          }
          return true;
        },
        10s);
  };
  const auto subscribed = [](const Node& node) {
    return node.scaleout().state() == State::connected && node.scaleout().stats().channels == 1;
  };
  ASSERT_TRUE(all_nodes(subscribed));

  // 1. Redis up: everyone gets everything.
  for (std::size_t i = 0; i < node_count; ++i)
    publish_numbered(nodes[i]->server(), "room", i, 0, batch);
  std::size_t expected = clients.size() * node_count * batch;
  ASSERT_TRUE(clients.wait_received(expected, 10s));
  // Every PUBLISH acknowledged before Redis goes: none of them can be counted lost.
  ASSERT_TRUE(
      all_nodes([](const Node& node) { return node.scaleout().stats().published == batch; }));

  // 2. Redis killed: each node still reaches its own subscribers; every publish is lost for the
  //    others, and counted.
  redis_server->kill_now();
  ASSERT_TRUE(
      all_nodes([](const Node& node) { return node.scaleout().state() == State::disconnected; }));
  for (std::size_t i = 0; i < node_count; ++i) {
    publish_numbered(nodes[i]->server(), "room", i, batch, batch);
  }
  expected += clients.size() * batch;  // local subscribers only
  ASSERT_TRUE(clients.wait_received(expected, 10s))
      << clients.received.load() << " of " << expected;
  ASSERT_TRUE(all_nodes([](const Node& node) { return node.scaleout().stats().lost == batch; }));

  // 3. Redis back on its port: the nodes reconnect and subscribe again by themselves.
  redis_server = start_redis(program_, {}, port);
  ASSERT_TRUE(redis_server->ready());
  ASSERT_TRUE(all_nodes(subscribed));
  EXPECT_EQ(redis_subscribers(port, "room"), 3);
  for (std::size_t i = 0; i < node_count; ++i) {
    publish_numbered(nodes[i]->server(), "room", i, 2 * batch, batch);
  }
  expected += clients.size() * node_count * batch;
  ASSERT_TRUE(clients.wait_received(expected, 10s))
      << clients.received.load() << " of " << expected;
  std::this_thread::sleep_for(100ms);  // anything more would arrive now
  EXPECT_EQ(clients.received.load(), expected);

  // Exactly: each publisher's own clients got all three batches; the others the first and the
  // third, in order, nothing twice.
  std::vector<std::size_t> without_outage = sequence(0, batch);
  const std::vector<std::size_t> third = sequence(2 * batch, batch);
  without_outage.insert(without_outage.end(), third.begin(), third.end());
  const std::vector<std::size_t> everything = sequence(0, 3 * batch);
  for (std::size_t group = 0; group < node_count; ++group) {
    std::array<std::vector<std::size_t>, NumberedSubscribers::max_publishers> expectation;
    for (std::size_t publisher = 0; publisher < node_count; ++publisher) {
      expectation[publisher] = publisher == group ? everything : without_outage;
    }
    EXPECT_EQ(clients.mismatches(group, expectation), 0u) << "clients of node " << group;
  }
  for (std::size_t i = 0; i < node_count; ++i) {
    const redis::Stats stats = nodes[i]->scaleout().stats();
    EXPECT_EQ(stats.published, 2 * batch);
    EXPECT_EQ(stats.lost, batch);
    EXPECT_EQ(reports[i].lost.load(), batch);  // the callback told the same
    EXPECT_EQ(stats.received, 2 * (node_count - 1) * batch);
    EXPECT_EQ(stats.reconnects, 1u);
    EXPECT_TRUE(reports[i].any_state_contains("closed the connection")) << i;
  }
}

TEST_F(RedisResilience, WithoutRedisLocalDeliveryGoesOnAndEveryPublishIsCountedLost) {
  Reports reports;
  const std::uint16_t nobody = free_loopback_port();
  Node node(subscribe_on_open("room"), reports.options(test_redis_options(nobody)));
  RecordingClient client;
  ASSERT_TRUE(client.client().connect_and_wait(node.url()));
  ASSERT_TRUE(wait_until([&] { return node.scaleout().state() == State::disconnected; }, 5s));
  for (int i = 0; i < 20; ++i) node.server().publish("room", "local " + std::to_string(i));
  ASSERT_TRUE(client.received.wait_for(20));
  EXPECT_EQ(client.received.all()[19].text, "local 19");
  ASSERT_TRUE(wait_until([&] { return reports.lost.load() == 20; }, 2s));
  EXPECT_EQ(node.scaleout().stats().lost, 20u);
  EXPECT_EQ(node.scaleout().stats().published, 0u);
  EXPECT_NE(reports.lost_reasons.all()[0].find("no connection to Redis"), std::string::npos)
      << reports.lost_reasons.all()[0];
  EXPECT_TRUE(
      reports.any_state_contains("cannot connect to redis://127.0.0.1:" + std::to_string(nobody)));
}

TEST_F(RedisResilience, PasswordAndAclUsersAuthenticate) {
  auto redis_server = start_redis(program_,
                                  "requirepass s3cret\n"
                                  "user alice on >alice-pw ~* &* +@all\n");
  ASSERT_TRUE(redis_server->ready());
  expect_connected_pair(test_redis_options(redis_server->port(), ":s3cret@"));
  expect_connected_pair(test_redis_options(redis_server->port(), "alice:alice-pw@"));
}

TEST_F(RedisResilience, RefusalsAreReportedAndNothingConnects) {
  auto redis_server = start_redis(program_,
                                  "requirepass s3cret\n"
                                  "user bob on >bob-pw ~* +@all\n");  // no channel: no &pattern
  ASSERT_TRUE(redis_server->ready());
  {
    Reports reports;
    Node node([](Server&) {}, reports.options(test_redis_options(redis_server->port(), ":wrong@")));
    ASSERT_TRUE(wait_until([&] { return reports.any_state_contains("WRONGPASS"); }, 5s));
    std::this_thread::sleep_for(300ms);  // a few retries later: still refused
    EXPECT_NE(node.scaleout().state(), State::connected);
    EXPECT_NE(reports.states.all()[0].find("Redis refused AUTH"), std::string::npos);
  }
  {
    Reports reports;
    Node node(subscribe_on_open("room"),
              reports.options(test_redis_options(redis_server->port(), "bob:bob-pw@")));
    RecordingClient client;
    ASSERT_TRUE(client.client().connect_and_wait(node.url()));
    ASSERT_TRUE(wait_until([&] { return reports.any_state_contains("NOPERM"); }, 5s));
    EXPECT_TRUE(reports.any_state_contains("Redis refused a subscription"));
    EXPECT_NE(node.scaleout().state(), State::connected);
  }
}

}  // namespace
}  // namespace fastws::testing
