// TopicRegistry: membership stays exact through any sequence of subscribes, unsubscribes and
// closes, and each subscriber's recorded slot points at itself after members move.
#include "connection/topic_registry.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace fastws::detail {
namespace {

struct Subscriber {
  int id = 0;
  TopicRegistry<Subscriber>::Subscriptions topics;
};

using Registry = TopicRegistry<Subscriber>;

std::set<int> member_ids(const Registry& registry, const std::string& topic) {
  std::set<int> ids;
  if (const auto* members = registry.members(topic)) {
    for (const auto& member : *members) {
      EXPECT_TRUE(ids.insert(member.subscriber->id).second) << "twice in " << topic;
    }
  }
  return ids;
}

// Every subscription of `subscriber` names a slot that holds it.
void expect_slots_point_home(const Subscriber& subscriber) {
  for (const auto& subscription : subscriber.topics) {
    const auto& members = subscription.topic->second;
    ASSERT_LT(subscription.slot, members.size());
    EXPECT_EQ(members[subscription.slot].subscriber, &subscriber);
  }
}

TEST(TopicRegistry, SubscribingTwiceKeepsOneMembership) {
  Registry registry;
  Subscriber ann{1, {}};
  registry.subscribe(ann, ann.topics, "room");
  registry.subscribe(ann, ann.topics, "room");
  EXPECT_EQ(member_ids(registry, "room"), std::set<int>{1});
  EXPECT_EQ(ann.topics.size(), 1u);
}

TEST(TopicRegistry, LeavingFromTheMiddleMovesTheLastMemberAndFixesItsSlot) {
  Registry registry;
  std::array<Subscriber, 3> people{Subscriber{0, {}}, Subscriber{1, {}}, Subscriber{2, {}}};
  for (auto& person : people) registry.subscribe(person, person.topics, "room");
  registry.unsubscribe(people[0].topics, "room");
  EXPECT_EQ(member_ids(registry, "room"), (std::set<int>{1, 2}));
  EXPECT_TRUE(people[0].topics.empty());
  expect_slots_point_home(people[1]);
  expect_slots_point_home(people[2]);
}

TEST(TopicRegistry, ATopicWithoutMembersIsForgottenAndUnknownNamesAreHarmless) {
  Registry registry;
  Subscriber ann{1, {}};
  registry.unsubscribe(ann.topics, "nowhere");
  registry.subscribe(ann, ann.topics, "a");
  registry.subscribe(ann, ann.topics, "b");
  EXPECT_EQ(registry.topic_count(), 2u);
  registry.unsubscribe_all(ann.topics);
  EXPECT_EQ(registry.topic_count(), 0u);
  EXPECT_EQ(registry.members("a"), nullptr);
  EXPECT_TRUE(ann.topics.empty());
}

// Random joins, leaves and closes against a plain map of sets.
TEST(TopicRegistry, MatchesASimpleModelThroughRandomJoinsLeavesAndCloses) {
  constexpr int kPeople = 40;
  const std::array<std::string, 6> names{"a", "b", "c", "lobby", "x-long-topic-name", ""};
  Registry registry;
  std::vector<Subscriber> people(kPeople);
  for (int i = 0; i < kPeople; ++i) people[static_cast<std::size_t>(i)].id = i;
  std::map<std::string, std::set<int>> model;
  std::mt19937 random(20261129);
  for (int step = 0; step < 20'000; ++step) {
    Subscriber& person = people[random() % kPeople];
    const std::string& name = names[random() % names.size()];
    switch (random() % 8) {
      case 0:  // closes: leaves everything
        registry.unsubscribe_all(person.topics);
        for (auto& [topic, ids] : model) ids.erase(person.id);
        break;
      case 1:
      case 2:
      case 3:
        registry.unsubscribe(person.topics, name);
        model[name].erase(person.id);
        break;
      default:
        registry.subscribe(person, person.topics, name);
        model[name].insert(person.id);
        break;
    }
    if (step % 97 != 0) continue;
    std::size_t live_topics = 0;
    for (const auto& [topic, ids] : model) {
      ASSERT_EQ(member_ids(registry, topic), ids) << "topic '" << topic << "' at step " << step;
      if (!ids.empty()) ++live_topics;
    }
    ASSERT_EQ(registry.topic_count(), live_topics);
    for (const Subscriber& someone : people)
      ASSERT_NO_FATAL_FAILURE(expect_slots_point_home(someone));
  }
}

}  // namespace
}  // namespace fastws::detail
