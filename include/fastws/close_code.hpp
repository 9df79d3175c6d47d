// Close status codes (RFC 6455 section 7.4) and the status a closed connection reports.
#pragma once

#include <cstdint>
#include <string>

namespace fastws {

namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t unsupported_data = 1003;
inline constexpr std::uint16_t no_status = 1005;  // never on the wire: the close frame had no code
inline constexpr std::uint16_t abnormal = 1006;   // never on the wire: no close frame at all
inline constexpr std::uint16_t invalid_payload = 1007;
inline constexpr std::uint16_t policy_violation = 1008;
inline constexpr std::uint16_t message_too_big = 1009;
inline constexpr std::uint16_t mandatory_extension = 1010;
inline constexpr std::uint16_t internal_error = 1011;
inline constexpr std::uint16_t service_restart = 1012;
inline constexpr std::uint16_t try_again_later = 1013;
inline constexpr std::uint16_t bad_gateway = 1014;
}  // namespace close_code

// How a connection ended. `code` is what the peer sent (or 1005 / 1006 when it sent no code or
// no close frame); `error` is empty for a clean close and otherwise says what went wrong, e.g.
// "invalid UTF-8 in text message" with code 1007.
struct CloseStatus {
  std::uint16_t code = close_code::no_status;
  std::string reason;
  std::string error;
};

}  // namespace fastws
