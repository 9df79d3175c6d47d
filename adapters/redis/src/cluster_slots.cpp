#include "cluster_slots.hpp"

#include <array>

namespace fastws::redis::detail {

namespace {

// CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), the cluster specification's CRC16.
constexpr std::array<std::uint16_t, 256> crc_table = [] {
  std::array<std::uint16_t, 256> table{};
  for (unsigned byte = 0; byte < 256; ++byte) {
    unsigned crc = byte << 8;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
    table[byte] = static_cast<std::uint16_t>(crc);
  }
  return table;
}();

std::uint16_t crc16(std::string_view bytes) noexcept {
  unsigned crc = 0;
  for (char c : bytes) {
    crc = (crc << 8) ^ crc_table[((crc >> 8) ^ static_cast<unsigned char>(c)) & 0xff];
  }
  return static_cast<std::uint16_t>(crc);
}

bool is_slot(const RespValue& value) {
  return value.type == RespType::integer && value.integer >= 0 &&
         value.integer < static_cast<std::int64_t>(slot_count);
}

}  // namespace

std::uint16_t slot_of(std::string_view channel) noexcept {
  // Only the part between the first '{' and the next '}' counts, when it is not empty.
  const auto open = channel.find('{');
  if (open != std::string_view::npos) {
    const auto close = channel.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      channel = channel.substr(open + 1, close - open - 1);
    }
  }
  return static_cast<std::uint16_t>(crc16(channel) % slot_count);
}

std::optional<std::vector<SlotRange>> parse_cluster_slots(const RespValue& reply,
                                                          std::string_view asked_host,
                                                          std::string& error) {
  if (reply.type != RespType::array) {
    error = reply.type == RespType::error ? "CLUSTER SLOTS refused: " + reply.text
                                          : "CLUSTER SLOTS answered something else than slots";
    return std::nullopt;
  }
  std::vector<SlotRange> ranges;
  std::vector<bool> served(slot_count);
  std::size_t covered = 0;
  for (const RespValue& entry : reply.elements) {
    const bool shaped = entry.type == RespType::array && entry.elements.size() >= 3 &&
                        is_slot(entry.elements[0]) && is_slot(entry.elements[1]) &&
                        entry.elements[0].integer <= entry.elements[1].integer;
    const RespValue* master = shaped ? &entry.elements[2] : nullptr;
    if (master == nullptr || master->type != RespType::array || master->elements.size() < 2 ||
        master->elements[0].type != RespType::bulk ||
        master->elements[1].type != RespType::integer || master->elements[1].integer <= 0 ||
        master->elements[1].integer > 65535) {
      error = "CLUSTER SLOTS: an entry is not [first, last, [host, port, ...], ...]";
      return std::nullopt;
    }
    SlotRange range;
    range.first = static_cast<std::uint16_t>(entry.elements[0].integer);
    range.last = static_cast<std::uint16_t>(entry.elements[1].integer);
    range.host =
        master->elements[0].text.empty() ? std::string(asked_host) : master->elements[0].text;
    range.port = static_cast<std::uint16_t>(master->elements[1].integer);
    for (std::size_t slot = range.first; slot <= range.last; ++slot) {
      if (served[slot]) {
        error = "CLUSTER SLOTS: slot " + std::to_string(slot) + " is served twice";
        return std::nullopt;
      }
      served[slot] = true;
      ++covered;
    }
    ranges.push_back(std::move(range));
  }
  if (covered != slot_count) {
    error = "CLUSTER SLOTS: the cluster serves " + std::to_string(covered) + " of " +
            std::to_string(slot_count) + " slots";
    return std::nullopt;
  }
  return ranges;
}

}  // namespace fastws::redis::detail
