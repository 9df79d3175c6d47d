// The expected closes the case groups share (RFC 6455 7.1.2, 7.4.1).
#pragma once

#include <cstdint>

#include "conformance/verdict.hpp"

namespace fastws::conformance {

// The fuzzer closes once the peer has answered as expected: a clean close with 1000.
inline ExpectedClose normal_close() {
  return {.closed_by_me = true, .codes = {1000}};
}

// The peer must fail the connection itself, with `code` (or no code), cleanly or not.
inline ExpectedClose peer_fails(std::uint16_t code = 1002) {
  return {.closed_by_me = false, .codes = {code}, .require_clean = false};
}

// Invalid UTF-8: the peer must fail the connection with 1007; the fuzzer closing first means
// the peer never noticed, which fails the behaviour too.
inline ExpectedClose peer_fails_on_utf8() {
  return {.closed_by_me = false,
          .codes = {1007},
          .require_clean = false,
          .wrong_endpoint_is_fatal = true};
}

}  // namespace fastws::conformance
