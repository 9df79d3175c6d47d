// Which end of the connection a protocol object speaks for.
#pragma once

#include <cstdint>

namespace fastws::protocol {

// server: receives masked frames, sends unmasked ones. client: the opposite (RFC 6455 5.1).
enum class Role : std::uint8_t { server, client };

// A protocol violation found in the input: the close code to send and a fixed, readable reason.
struct ProtocolError {
  std::uint16_t close_code = 0;  // 0: no error
  const char* reason = "";       // static string, never freed
  explicit operator bool() const noexcept { return close_code != 0; }
};

}  // namespace fastws::protocol
