// RESP2, the protocol Redis speaks (https://redis.io/docs/reference/protocol-spec/), without
// I/O: commands as bytes out, replies parsed in place from bytes in.
//
// The scale-out links send few kinds of commands (AUTH, PING, PUBLISH, SUBSCRIBE, ...) and read
// few kinds of replies: +OK, :<count>, -errors, and pub/sub pushes such as
// ["message", channel, payload]. A reply is parsed where it lies in the input buffer: strings
// are views into it, so a payload reaches the WebSocket framing without another copy, and a
// reply costs no allocation. An array keeps its first `max_items` elements (pushes have three;
// longer or nested arrays are parsed whole, checked and skipped).
//
// Everything Redis sends is checked against limits (a bulk string's length, an array's count, the
// nesting depth), so a broken or hostile peer is refused with a reason rather than trusted with
// memory or the stack.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fastws::redis::detail {

enum class RespType : std::uint8_t { simple, error, integer, bulk, null, array };

struct RespItem {
  RespType type = RespType::null;
  std::string_view text;     // simple, error, bulk
  std::int64_t integer = 0;  // integer; array: its element count
};

struct RespReply : RespItem {
  static constexpr std::size_t max_items = 4;
  // An array's first elements (up to max_items); a nested array appears as an item of type
  // array with its count, without its elements.
  std::array<RespItem, max_items> items{};
  std::size_t item_count = 0;
  std::span<const std::byte> raw;  // the reply's bytes, for parse_tree()

  // Element `i` of an array reply, or a null item when there is none.
  const RespItem& item(std::size_t i) const noexcept {
    static const RespItem none;
    return i < item_count ? items[i] : none;
  }
};

// A whole reply as a tree, copied out of the input: for the rare replies whose nested arrays
// matter (CLUSTER SLOTS). It allocates; pushes never go through it.
struct RespValue {
  RespType type = RespType::null;
  std::string text;
  std::int64_t integer = 0;
  std::vector<RespValue> elements;
};

struct RespLimits {
  std::size_t max_bulk_length = 64 * 1024 * 1024;
  std::size_t max_array_length = 1024 * 1024;
  std::size_t max_depth = 8;
};

enum class RespStatus : std::uint8_t { complete, incomplete, invalid };

struct RespParse {
  RespStatus status = RespStatus::incomplete;
  std::size_t consumed = 0;  // complete: the reply's bytes
  const char* error = "";    // invalid: why (a static string)
};

// Parses the first reply in `input`. Complete: `reply` holds it, with views into `input`.
// Incomplete: more bytes are needed (nothing is kept between calls: parse again from the same
// start once more arrived). Invalid: the stream cannot be read further.
RespParse parse_reply(std::span<const std::byte> input, const RespLimits& limits, RespReply& reply);
// The same for a reply wanted whole (an array's every element, nested arrays included).
RespParse parse_tree(std::span<const std::byte> input, const RespLimits& limits, RespValue& value);

// --- commands: an array of bulk strings ---
void append_array_header(std::vector<std::byte>& out, std::size_t count);
void append_bulk_header(std::vector<std::byte>& out, std::size_t length);
void append_raw(std::vector<std::byte>& out, std::string_view bytes);
void append_raw(std::vector<std::byte>& out, std::span<const std::byte> bytes);
void append_crlf(std::vector<std::byte>& out);
void append_bulk(std::vector<std::byte>& out, std::string_view bytes);
// A whole command of plain arguments: append_command(out, {"AUTH", user, password}).
void append_command(std::vector<std::byte>& out, std::span<const std::string_view> arguments);
inline void append_command(std::vector<std::byte>& out,
                           std::initializer_list<std::string_view> arguments) {
  append_command(out, std::span<const std::string_view>(arguments.begin(), arguments.size()));
}

}  // namespace fastws::redis::detail
