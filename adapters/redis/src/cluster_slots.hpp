// Redis Cluster's key space as the scale-out needs it for sharded pub/sub (SPUBLISH,
// SSUBSCRIBE): the hash slot of a channel (one of 16,384: CRC16 of its name, or of the part in
// its first non-empty {hash tag}, as for keys), and which node serves each slot, from CLUSTER
// SLOTS. https://redis.io/docs/reference/cluster-spec/
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "resp.hpp"

namespace fastws::redis::detail {

inline constexpr std::size_t slot_count = 16384;

std::uint16_t slot_of(std::string_view channel) noexcept;

struct SlotRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  std::string host;  // the master's address, as the cluster announces it
  std::uint16_t port = 0;
};

// The ranges and their masters from CLUSTER SLOTS's reply: [[first, last, [host, port, id...],
// replicas...], ...]. An empty host means the node that answered (`asked_host`). nullopt, with
// `error`, when the reply has another shape or misses a slot.
std::optional<std::vector<SlotRange>> parse_cluster_slots(const RespValue& reply,
                                                          std::string_view asked_host,
                                                          std::string& error);

}  // namespace fastws::redis::detail
