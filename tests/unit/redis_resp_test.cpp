// RESP2 codec of the Redis scale-out: replies parsed in place (every prefix of a reply is
// incomplete, never wrong), binary-safe bulk strings, limits that refuse a hostile peer, and
// commands encoded byte for byte as redis-cli would send them.
#include "resp.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace fastws::redis::detail {
namespace {

std::span<const std::byte> bytes(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

std::string text(const std::vector<std::byte>& out) {
  return {reinterpret_cast<const char*>(out.data()), out.size()};
}

RespReply parse_whole(std::string_view input, const RespLimits& limits = {}) {
  RespReply reply;
  const RespParse parsed = parse_reply(bytes(input), limits, reply);
  EXPECT_EQ(parsed.status, RespStatus::complete) << parsed.error;
  EXPECT_EQ(parsed.consumed, input.size());
  return reply;
}

const char* refusal(std::string_view input, const RespLimits& limits = {}) {
  RespReply reply;
  const RespParse parsed = parse_reply(bytes(input), limits, reply);
  EXPECT_EQ(parsed.status, RespStatus::invalid) << input;
  return parsed.error;
}

TEST(RedisResp, ParsesEachScalarType) {
  EXPECT_EQ(parse_whole("+OK\r\n").type, RespType::simple);
  EXPECT_EQ(parse_whole("+OK\r\n").text, "OK");
  EXPECT_EQ(parse_whole("-WRONGPASS invalid password\r\n").type, RespType::error);
  EXPECT_EQ(parse_whole("-WRONGPASS invalid password\r\n").text, "WRONGPASS invalid password");
  EXPECT_EQ(parse_whole(":-42\r\n").integer, -42);
  EXPECT_EQ(parse_whole("$5\r\nhello\r\n").text, "hello");
  EXPECT_EQ(parse_whole("$0\r\n\r\n").text, "");
  EXPECT_EQ(parse_whole("$-1\r\n").type, RespType::null);
  EXPECT_EQ(parse_whole("*-1\r\n").type, RespType::null);
}

TEST(RedisResp, BulkStringsCarryAnyBytes) {
  const std::string payload("a\r\nb\0c\xff", 7);
  const std::string input = "$7\r\n" + payload + "\r\n";
  EXPECT_EQ(parse_whole(input).text, payload);
}

TEST(RedisResp, PushKeepsItsElementsAsViewsIntoTheInput) {
  const std::string input = "*3\r\n$7\r\nmessage\r\n$4\r\nroom\r\n$2\r\nhi\r\n";
  const RespReply reply = parse_whole(input);
  ASSERT_EQ(reply.type, RespType::array);
  EXPECT_EQ(reply.integer, 3);
  ASSERT_EQ(reply.item_count, 3u);
  EXPECT_EQ(reply.item(0).text, "message");
  EXPECT_EQ(reply.item(1).text, "room");
  EXPECT_EQ(reply.item(2).text, "hi");
  EXPECT_EQ(reply.item(2).text.data(), input.data() + input.size() - 4);  // not copied
  EXPECT_EQ(reply.item(3).type, RespType::null);                          // beyond the end
}

TEST(RedisResp, SubscribeConfirmationCarriesTheCount) {
  const RespReply reply = parse_whole("*3\r\n$9\r\nsubscribe\r\n$4\r\nroom\r\n:2\r\n");
  EXPECT_EQ(reply.item(0).text, "subscribe");
  EXPECT_EQ(reply.item(2).type, RespType::integer);
  EXPECT_EQ(reply.item(2).integer, 2);
}

TEST(RedisResp, LongAndNestedArraysAreParsedWholeAndKeepTheirFirstElements) {
  std::string input = "*6\r\n*2\r\n:1\r\n:2\r\n";
  for (char i = '0'; i < '5'; ++i) {
    input += "+e";
    input += i;
    input += "\r\n";
  }
  const RespReply reply = parse_whole(input);
  EXPECT_EQ(reply.integer, 6);
  EXPECT_EQ(reply.item_count, RespReply::max_items);
  EXPECT_EQ(reply.item(0).type, RespType::array);
  EXPECT_EQ(reply.item(0).integer, 2);
  EXPECT_EQ(reply.item(1).text, "e0");
  EXPECT_EQ(reply.item(3).text, "e2");
}

TEST(RedisResp, EveryPrefixOfARepliesStreamIsIncompleteThenTheWholeParses) {
  const std::string input = "*3\r\n$7\r\nmessage\r\n$4\r\nroom\r\n$12\r\nhello\r\nworld\r\n";
  for (std::size_t size = 0; size < input.size(); ++size) {
    RespReply reply;
    const RespParse parsed = parse_reply(bytes(input).first(size), {}, reply);
    EXPECT_EQ(parsed.status, RespStatus::incomplete) << size;
  }
  EXPECT_EQ(parse_whole(input).item(2).text, "hello\r\nworld");
}

TEST(RedisResp, OnlyTheFirstReplyIsConsumed) {
  RespReply reply;
  const RespParse parsed = parse_reply(bytes(":1\r\n:2\r\n"), {}, reply);
  ASSERT_EQ(parsed.status, RespStatus::complete);
  EXPECT_EQ(parsed.consumed, 4u);
  EXPECT_EQ(reply.integer, 1);
}

TEST(RedisResp, RefusesWhatIsNotRespTwo) {
  EXPECT_STREQ(refusal(">3\r\n"), "unknown RESP type byte (RESP2 expected)");
  EXPECT_STREQ(refusal(":12a\r\n"), "malformed integer");
  EXPECT_STREQ(refusal(":\r\n"), "malformed integer");
  EXPECT_STREQ(refusal(":99999999999999999999\r\n"), "malformed integer");
  EXPECT_STREQ(refusal("+OK\rX"), "CR without LF");
  EXPECT_STREQ(refusal("$3\r\nabcXY"), "bulk string not followed by CRLF");
  EXPECT_STREQ(refusal("$-2\r\n"), "negative bulk length");
  EXPECT_STREQ(refusal("*-5\r\n"), "negative array length");
}

TEST(RedisResp, LimitsRefuseHugeOrDeepReplies) {
  RespLimits limits;
  limits.max_bulk_length = 10;
  limits.max_array_length = 3;
  limits.max_depth = 3;
  EXPECT_STREQ(refusal("$11\r\n", limits), "bulk string longer than the limit");
  parse_whole("$10\r\n0123456789\r\n", limits);
  EXPECT_STREQ(refusal("*4\r\n", limits), "array longer than the limit");
  parse_whole("*1\r\n*1\r\n:1\r\n", limits);
  EXPECT_STREQ(refusal("*1\r\n*1\r\n*1\r\n:1\r\n", limits), "arrays nested too deep");
  // A line that never ends is refused once longer than any bulk string could be.
  EXPECT_STREQ(refusal("+xxxxxxxxxxxxxxxxxxxx", limits), "line without CRLF");
  RespReply reply;
  EXPECT_EQ(parse_reply(bytes("+xxxxxxxxx"), limits, reply).status, RespStatus::incomplete);
}

TEST(RedisResp, TreesKeepNestedArraysWhole) {
  const std::string input = "*2\r\n*3\r\n:0\r\n:9\r\n*2\r\n$1\r\nh\r\n:7\r\n$-1\r\n";
  RespValue tree;
  const RespParse parsed = parse_tree(bytes(input), {}, tree);
  ASSERT_EQ(parsed.status, RespStatus::complete);
  EXPECT_EQ(parsed.consumed, input.size());
  ASSERT_EQ(tree.elements.size(), 2u);
  const RespValue& range = tree.elements[0];
  ASSERT_EQ(range.elements.size(), 3u);
  EXPECT_EQ(range.elements[1].integer, 9);
  EXPECT_EQ(range.elements[2].elements[0].text, "h");
  EXPECT_EQ(range.elements[2].elements[1].integer, 7);
  EXPECT_EQ(tree.elements[1].type, RespType::null);
  // The flat parse of the same bytes names them whole in `raw`, for a tree later.
  RespReply reply;
  ASSERT_EQ(parse_reply(bytes(input + ":1\r\n"), {}, reply).status, RespStatus::complete);
  EXPECT_EQ(reply.raw.size(), input.size());
  EXPECT_EQ(parse_tree(bytes(input).first(input.size() - 1), {}, tree).status,
            RespStatus::incomplete);
}

TEST(RedisResp, EncodesCommandsAsArraysOfBulkStrings) {
  std::vector<std::byte> out;
  append_command(out, {"AUTH", "ann", "p@ss"});
  EXPECT_EQ(text(out), "*3\r\n$4\r\nAUTH\r\n$3\r\nann\r\n$4\r\np@ss\r\n");
  out.clear();
  append_command(out, {"PING"});
  EXPECT_EQ(text(out), "*1\r\n$4\r\nPING\r\n");
  out.clear();
  append_array_header(out, 2);
  append_bulk(out, "");
  append_bulk_header(out, 12345678901);
  EXPECT_EQ(text(out), "*2\r\n$0\r\n\r\n$12345678901\r\n");
}

}  // namespace
}  // namespace fastws::redis::detail
