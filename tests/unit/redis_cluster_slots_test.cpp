// Redis Cluster's key space for sharded pub/sub: channel slots as Redis computes them (CRC16,
// hash tags), and CLUSTER SLOTS read into ranges and masters, refused when incomplete.
#include "cluster_slots.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <tuple>

namespace fastws::redis::detail {
namespace {

TEST(RedisClusterSlots, SlotsAreRedisOwn) {
  // CLUSTER KEYSLOT answers, and the specification's CRC16 check value ("123456789" -> 0x31C3).
  EXPECT_EQ(slot_of("foo"), 12182);
  EXPECT_EQ(slot_of("bar"), 5061);
  EXPECT_EQ(slot_of("123456789"), 0x31C3 % 16384);
  EXPECT_EQ(slot_of(""), 0);
}

TEST(RedisClusterSlots, HashTagsPutChannelsInOneSlot) {
  EXPECT_EQ(slot_of("{room}.chat"), slot_of("room"));
  EXPECT_EQ(slot_of("app:{room}:presence"), slot_of("room"));
  EXPECT_EQ(slot_of("{a}{b}"), slot_of("a"));       // the first tag only
  EXPECT_EQ(slot_of("{}room"), slot_of("{}room"));  // an empty tag: the whole name
  EXPECT_NE(slot_of("{}room"), slot_of(""));
  EXPECT_NE(slot_of("room{"), slot_of("room"));  // unclosed: the whole name
}

RespValue parse(std::string_view text) {
  RespValue value;
  const RespParse parsed =
      parse_tree({reinterpret_cast<const std::byte*>(text.data()), text.size()}, {}, value);
  EXPECT_EQ(parsed.status, RespStatus::complete) << parsed.error;
  return value;
}

// [[first, last, [host, port, id]], ...]
std::string slots_reply(std::initializer_list<std::tuple<int, int, std::string, int>> ranges) {
  std::ostringstream text;
  text << '*' << ranges.size() << "\r\n";
  for (const auto& [first, last, host, port] : ranges) {
    text << "*3\r\n:" << first << "\r\n:" << last << "\r\n*3\r\n$" << host.size() << "\r\n"
         << host << "\r\n:" << port << "\r\n$2\r\nid\r\n";
  }
  return text.str();
}

TEST(RedisClusterSlots, ClusterSlotsGivesRangesAndMasters) {
  std::string error;
  const auto ranges = parse_cluster_slots(
      parse(slots_reply({{0, 5460, "10.0.0.1", 7000}, {5461, 16383, "", 7001}})), "seed", error);
  ASSERT_TRUE(ranges) << error;
  ASSERT_EQ(ranges->size(), 2u);
  EXPECT_EQ((*ranges)[0].first, 0);
  EXPECT_EQ((*ranges)[0].last, 5460);
  EXPECT_EQ((*ranges)[0].host, "10.0.0.1");
  EXPECT_EQ((*ranges)[0].port, 7000);
  EXPECT_EQ((*ranges)[1].host, "seed");  // "" is the node that answered
}

TEST(RedisClusterSlots, RefusesIncompleteOrMisshapenReplies) {
  std::string error;
  EXPECT_FALSE(parse_cluster_slots(parse(slots_reply({{0, 100, "h", 1}})), "", error));
  EXPECT_EQ(error, "CLUSTER SLOTS: the cluster serves 101 of 16384 slots");
  EXPECT_FALSE(
      parse_cluster_slots(parse(slots_reply({{0, 16383, "h", 1}, {5, 5, "h", 2}})), "", error));
  EXPECT_EQ(error, "CLUSTER SLOTS: slot 5 is served twice");
  EXPECT_FALSE(parse_cluster_slots(parse("*1\r\n*2\r\n:0\r\n:16383\r\n"), "", error));
  EXPECT_EQ(error, "CLUSTER SLOTS: an entry is not [first, last, [host, port, ...], ...]");
  EXPECT_FALSE(
      parse_cluster_slots(parse("-ERR This instance has cluster support disabled\r\n"), "", error));
  EXPECT_EQ(error, "CLUSTER SLOTS refused: ERR This instance has cluster support disabled");
}

}  // namespace
}  // namespace fastws::redis::detail
