// Close status codes (RFC 6455 section 7.4) and the status a closed connection reports.
#pragma once

#include <cstdint>
#include <string>

namespace fastws {

// The codes RFC 6455 7.4.1 defines (and 1012-1014 from IANA's registry); applications use
// 3000-4999.
namespace close_code {
inline constexpr std::uint16_t normal = 1000;            // the purpose was fulfilled
inline constexpr std::uint16_t going_away = 1001;        // server shutting down, page left
inline constexpr std::uint16_t protocol_error = 1002;    // the peer broke RFC 6455
inline constexpr std::uint16_t unsupported_data = 1003;  // a kind of data it cannot accept
inline constexpr std::uint16_t no_status = 1005;  // never on the wire: the close frame had no code
inline constexpr std::uint16_t abnormal = 1006;   // never on the wire: no close frame at all
inline constexpr std::uint16_t invalid_payload = 1007;      // e.g. invalid UTF-8 in a text message
inline constexpr std::uint16_t policy_violation = 1008;     // e.g. a consumer too slow to keep up
inline constexpr std::uint16_t message_too_big = 1009;      // over max_message_size
inline constexpr std::uint16_t mandatory_extension = 1010;  // (client) an extension was missing
inline constexpr std::uint16_t internal_error = 1011;       // e.g. a callback threw
inline constexpr std::uint16_t service_restart = 1012;      // restarting: reconnect later
inline constexpr std::uint16_t try_again_later = 1013;      // overloaded: reconnect later
inline constexpr std::uint16_t bad_gateway = 1014;          // a gateway's upstream answered wrongly
}  // namespace close_code

// How a connection ended. `code` is what the peer sent (or 1005 / 1006 when it sent no code or
// no close frame); `error` is empty for a clean close and otherwise says what went wrong, e.g.
// "invalid UTF-8 in text message" with code 1007.
struct CloseStatus {
  std::uint16_t code = close_code::no_status;  // the close code (see close_code)
  std::string reason;                          // the close frame's reason text
  std::string error;                           // what went wrong; empty for a clean close
};

}  // namespace fastws
