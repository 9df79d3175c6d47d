// Close frame payloads (RFC 6455 sections 5.5.1 and 7.4).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/role.hpp"

namespace fastws::protocol {

// True for codes a peer may put in a close frame: 1000-1003, 1007-1014, 3000-4999.
// (1004-1006, 1015, below 1000, 1016-2999 and 5000 and above must never be on the wire.)
bool is_valid_wire_close_code(std::uint16_t code) noexcept;

struct ClosePayload {
  std::uint16_t code = 1005;  // 1005 (no status) when the payload is empty
  std::string_view reason;    // points into the parsed payload
  ProtocolError error;        // 1002 for a 1-byte payload or a bad code, 1007 for a non-UTF-8 reason
};

ClosePayload parse_close_payload(const std::byte* data, std::size_t size) noexcept;

// Writes code (big endian) and reason into `out` (at least 125 bytes); the reason is cut to 123
// bytes at a UTF-8 boundary. Returns the payload size.
std::size_t write_close_payload(std::byte* out, std::uint16_t code, std::string_view reason) noexcept;

}  // namespace fastws::protocol
