// What a Redis server (or whoever sits where it should be) sends the scale-out's links: the
// RESP2 parser never reads out of bounds, consumes exactly one reply or nothing, agrees with
// its tree form, calls every proper prefix of a reply incomplete, and the replies it yields
// survive the bridge's readers (CLUSTER SLOTS, the envelope).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "cluster_slots.hpp"
#include "envelope.hpp"
#include "resp.hpp"

using namespace fastws::redis::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);
  RespLimits limits;
  limits.max_bulk_length = 4096;
  limits.max_array_length = 1024;
  static const NodeId node = make_node_id();
  while (!input.empty()) {
    RespReply reply;
    const RespParse parsed = parse_reply(input, limits, reply);
    if (parsed.status != RespStatus::complete) break;
    if (parsed.consumed == 0 || parsed.consumed > input.size()) __builtin_trap();
    RespValue tree;
    const RespParse whole = parse_tree(input, limits, tree);
    if (whole.status != RespStatus::complete || whole.consumed != parsed.consumed) __builtin_trap();
    if (reply.raw.size() != parsed.consumed) __builtin_trap();
    if (parsed.consumed < 256) {
      for (std::size_t prefix = 0; prefix < parsed.consumed; ++prefix) {
        RespReply partial;
        if (parse_reply(input.first(prefix), limits, partial).status != RespStatus::incomplete) {
          __builtin_trap();
        }
      }
    }
    std::string error;
    (void)parse_cluster_slots(tree, "seed", error);
    for (std::size_t i = 0; i < reply.item_count; ++i) {
      const std::string_view text = reply.item(i).text;
      (void)unwrap({reinterpret_cast<const std::byte*>(text.data()), text.size()}, node);
      (void)slot_of(text);
    }
    input = input.subspan(parsed.consumed);
  }
  return 0;
}
