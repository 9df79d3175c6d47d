// Close frame payloads: a 2-byte big-endian code, then a UTF-8 reason (RFC 6455 section 5.5.1).
#include "protocol/close_payload.hpp"

#include <algorithm>

#include "fastws/close_code.hpp"
#include "protocol/utf8.hpp"

namespace fastws::protocol {

namespace {

constexpr std::size_t code_size = 2;
// Control frame payloads are at most 125 bytes (RFC 6455 section 5.5), two of them the code.
constexpr std::size_t max_reason_size = 125 - code_size;

}  // namespace

bool is_valid_wire_close_code(std::uint16_t code) noexcept {
  // 3000-3999 are registered with IANA, 4000-4999 are private use (RFC 6455 section 7.4.2).
  if (code >= 3000 && code <= 4999) return true;
  // 1000-1003 and 1007-1011 are defined by RFC 6455 section 7.4.1, 1012-1014 were registered
  // later. 1004 is reserved; 1005, 1006 and 1015 only report a local condition and "MUST NOT be
  // set as a status code in a Close control frame". Everything else below 3000 is unassigned.
  if (code < close_code::normal || code > close_code::bad_gateway) return false;
  return code != 1004 && code != close_code::no_status && code != close_code::abnormal;
}

ClosePayload parse_close_payload(const std::byte* data, std::size_t size) noexcept {
  ClosePayload result;
  if (size == 0) return result;  // no code at all: reported as 1005 (RFC 6455 section 7.1.5)
  if (size == 1) {
    result.error = {close_code::protocol_error, "close payload of 1 byte"};
    return result;
  }
  result.code = static_cast<std::uint16_t>((std::to_integer<unsigned>(data[0]) << 8) |
                                           std::to_integer<unsigned>(data[1]));
  if (!is_valid_wire_close_code(result.code)) {
    result.error = {close_code::protocol_error, "invalid close code"};
    return result;
  }
  const std::byte* reason = data + code_size;
  const std::size_t reason_size = size - code_size;
  if (!is_valid_utf8(reason, reason_size)) {
    // RFC 6455 section 8.1: invalid UTF-8 fails the connection with 1007 (section 7.4.1).
    result.error = {close_code::invalid_payload, "close reason is not UTF-8"};
    return result;
  }
  result.reason = std::string_view(reinterpret_cast<const char*>(reason), reason_size);
  return result;
}

std::size_t write_close_payload(std::byte* out, std::uint16_t code,
                                std::string_view reason) noexcept {
  out[0] = static_cast<std::byte>(code >> 8);
  out[1] = static_cast<std::byte>(code & 0xFF);
  // Keep the longest prefix of at most 123 bytes that ends on a code point boundary and is valid
  // UTF-8, so that the peer never has to fail the connection over our reason (section 8.1).
  const auto* text = reinterpret_cast<const std::byte*>(reason.data());
  const std::size_t limit = std::min(reason.size(), max_reason_size);
  Utf8Validator validator;
  std::size_t kept = 0;
  for (std::size_t i = 0; i < limit && validator.feed(text + i, 1); ++i) {
    if (validator.at_boundary()) kept = i + 1;
  }
  std::copy_n(text, kept, out + code_size);
  return code_size + kept;
}

}  // namespace fastws::protocol
