// Fuzzes FrameHeaderParser over a stream of frames (RFC 6455 section 5.2).
//
// Input: one rules byte (bits 0-2: allowed RSV bits, bits 3-6: the max_payload_length class), one
// byte seeding the piece sizes, then the bytes received. Each input runs in both roles, once fed
// whole and once cut into pieces, with payloads skipped as a session skips them.
// Properties: the split run reports the same headers and errors at the same stream positions as
// the whole run; parse never takes more than it is given and need_more takes the whole piece;
// an accepted header obeys every rule (declared length within max_payload_length); and a parsed
// header written back with write_frame_header parses to the same header.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "protocol/frame_header.hpp"

namespace {

using fastws::protocol::FrameHeader;
using fastws::protocol::FrameHeaderParser;
using fastws::protocol::FrameHeaderRules;
using fastws::protocol::Role;

constexpr std::uint64_t limits[16] = {UINT64_MAX, 0,         1,          125,
                                      126,        127,       65535,      65536,
                                      65537,      16U << 20, 1ULL << 32, (1ULL << 63) - 1,
                                      1ULL << 63, 1000,      4096,       UINT64_MAX - 1};

void check(bool condition) {
  if (!condition) std::abort();
}

bool same_header(const FrameHeader& a, const FrameHeader& b) {
  return a.fin == b.fin && a.rsv1 == b.rsv1 && a.rsv2 == b.rsv2 && a.rsv3 == b.rsv3 &&
         a.opcode == b.opcode && a.masked == b.masked && (!a.masked || a.mask == b.mask) &&
         a.payload_length == b.payload_length;
}

// What the parser reported and where in the stream.
struct Event {
  std::size_t position = 0;
  FrameHeaderParser::Status status = FrameHeaderParser::Status::need_more;
  FrameHeader header{};
  std::uint16_t close_code = 0;
  const char* reason = "";

  bool operator==(const Event& other) const {
    return position == other.position && status == other.status &&
           same_header(header, other.header) && close_code == other.close_code &&
           std::strcmp(reason, other.reason) == 0;
  }
};

// Piece sizes from a small generator seeded by the input: mostly 1-16 bytes, sometimes the rest.
class Pieces {
 public:
  explicit Pieces(std::uint8_t seed) : state_(seed * 2654435761U + 1) {}
  std::size_t next(std::size_t remaining) {
    state_ = state_ * 1103515245U + 12345U;
    const std::uint32_t r = state_ >> 16;
    if (remaining == 0 || r % 8 == 0) return remaining;
    return std::min<std::size_t>(remaining, 1 + r % 16);
  }

 private:
  std::uint32_t state_;
};

void check_accepted(const FrameHeader& header, const FrameHeaderRules& rules) {
  check(!fastws::is_reserved(header.opcode));
  const unsigned rsv = (header.rsv1 ? 4U : 0U) | (header.rsv2 ? 2U : 0U) | (header.rsv3 ? 1U : 0U);
  check((rsv & ~unsigned{rules.allowed_rsv_bits}) == 0);
  if (fastws::is_control(header.opcode)) {
    check(header.fin && header.payload_length <= fastws::protocol::max_control_payload);
  }
  check(header.masked == (rules.role == Role::server));
  check(header.payload_length >> 63 == 0);
  check(header.payload_length <= rules.max_payload_length);

  std::byte written[fastws::protocol::max_frame_header_size];
  const std::size_t size = fastws::protocol::write_frame_header(written, header);
  check(size == fastws::protocol::frame_header_size(header.payload_length, header.masked));
  FrameHeaderParser reparser;
  std::size_t used = 0;
  check(reparser.parse(written, size, used, rules) == FrameHeaderParser::Status::done);
  check(used == size && same_header(reparser.header(), header));
}

// Runs the stream through one parser, skipping payloads, until the end or the first error.
// `pieces` null: every call gets all the remaining bytes.
std::vector<Event> run(const std::byte* stream, std::size_t size, const FrameHeaderRules& rules,
                       Pieces* pieces) {
  std::vector<Event> events;
  FrameHeaderParser parser;
  std::size_t pos = 0;
  std::uint64_t payload_left = 0;
  while (pos < size) {
    const std::size_t piece_end = pos + (pieces ? pieces->next(size - pos) : size - pos);
    while (pos < piece_end) {
      if (payload_left != 0) {
        const auto skip =
            static_cast<std::size_t>(std::min<std::uint64_t>(payload_left, piece_end - pos));
        pos += skip;
        payload_left -= skip;
        continue;
      }
      std::size_t used = 0;
      const auto status = parser.parse(stream + pos, piece_end - pos, used, rules);
      check(used <= piece_end - pos);
      pos += used;
      if (status == FrameHeaderParser::Status::need_more) {
        check(pos == piece_end);
        break;
      }
      Event event{pos, status};
      if (status == FrameHeaderParser::Status::error) {
        event.close_code = parser.error().close_code;
        event.reason = parser.error().reason;
        check(event.close_code == 1002 || event.close_code == 1009);
        check(event.reason != nullptr && *event.reason != '\0');
        events.push_back(event);
        return events;
      }
      event.header = parser.header();
      check_accepted(event.header, rules);
      events.push_back(event);
      payload_left = event.header.payload_length;
      parser.reset();
    }
  }
  return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const auto* stream = reinterpret_cast<const std::byte*>(data + 2);
  const std::size_t stream_size = size - 2;
  for (Role role : {Role::server, Role::client}) {
    const FrameHeaderRules rules{role, static_cast<std::uint8_t>(data[0] & 0x7),
                                 limits[(data[0] >> 3) & 0xF]};
    Pieces pieces(data[1]);
    check(run(stream, stream_size, rules, nullptr) == run(stream, stream_size, rules, &pieces));
  }
  return 0;
}
