// Test helpers shared by the frame codec tests: byte vectors written as hex, and driving a
// FrameHeaderParser over an input cut into pieces.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/frame_header.hpp"

namespace fastws::protocol::testing {

inline std::vector<std::byte> bytes(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

inline std::vector<std::byte> text_bytes(std::string_view text) {
  const auto* data = reinterpret_cast<const std::byte*>(text.data());
  return {data, data + text.size()};
}

inline std::vector<std::byte> concat(std::vector<std::byte> a, const std::vector<std::byte>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Every field in one line, so a mismatch shows all of it.
inline std::string describe(const FrameHeader& h) {
  std::ostringstream out;
  out << "fin=" << h.fin << " rsv=" << h.rsv1 << h.rsv2 << h.rsv3
      << " opcode=" << static_cast<int>(h.opcode) << " masked=" << h.masked << " key=" << std::hex;
  for (std::byte b : h.mask) out << std::to_integer<int>(b) << '.';
  out << std::dec << " length=" << h.payload_length;
  return out.str();
}

struct ParseOutcome {
  FrameHeaderParser::Status status = FrameHeaderParser::Status::need_more;
  std::size_t consumed = 0;  // summed over all calls
  std::string header;        // describe(header()) when done
  std::uint16_t close_code = 0;
  std::string reason;
  bool left_bytes_behind = false;  // need_more returned before the piece was used up

  bool operator==(const ParseOutcome&) const = default;
};

inline std::ostream& operator<<(std::ostream& out, const ParseOutcome& o) {
  return out << "status=" << static_cast<int>(o.status) << " consumed=" << o.consumed << " ["
             << o.header << "] close_code=" << o.close_code << " reason='" << o.reason << "'"
             << (o.left_bytes_behind ? " LEFT BYTES BEHIND" : "");
}

// Feeds `input` to a fresh parser in pieces ending at each of `cuts` (ascending) and then at the
// end, stopping at the first verdict, as a session does while bytes trickle in.
inline ParseOutcome parse_pieces(const std::vector<std::byte>& input, const FrameHeaderRules& rules,
                                 std::vector<std::size_t> cuts = {}) {
  cuts.push_back(input.size());
  FrameHeaderParser parser;
  ParseOutcome outcome;
  std::size_t pos = 0;
  for (std::size_t cut : cuts) {
    if (cut <= pos) continue;
    std::size_t used = 0;
    outcome.status = parser.parse(input.data() + pos, cut - pos, used, rules);
    pos += used;
    outcome.consumed += used;
    if (outcome.status != FrameHeaderParser::Status::need_more) break;
    // need_more promises that the whole piece was taken into the parser's state.
    if (pos != cut) {
      outcome.left_bytes_behind = true;
      break;
    }
  }
  if (outcome.status == FrameHeaderParser::Status::done) outcome.header = describe(parser.header());
  if (outcome.status == FrameHeaderParser::Status::error) {
    outcome.close_code = parser.error().close_code;
    outcome.reason = parser.error().reason;
  }
  return outcome;
}

inline ParseOutcome parse_one_byte_at_a_time(const std::vector<std::byte>& input,
                                             const FrameHeaderRules& rules) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < input.size(); ++i) cuts.push_back(i);
  return parse_pieces(input, rules, cuts);
}

}  // namespace fastws::protocol::testing
