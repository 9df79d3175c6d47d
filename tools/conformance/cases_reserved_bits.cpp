// 3.x Reserved bits: with no extension negotiated every RSV bit must be 0, and a frame with one
// set fails the connection (RFC 6455 5.2).
#include <string>

#include "conformance/case_shapes.hpp"

namespace fastws::conformance {

namespace {
using namespace std::string_literals;
constexpr const char* rsv_must_be_zero =
    "The connection is failed immediately (1002/protocol error), since RSV must be 0 when no "
    "extension defining RSV meaning has been negotiated.";
}  // namespace

void add_reserved_bit_cases(Catalogue& catalogue) {
  catalogue.add(immediate_failure_case("3.1", "Send small text message with RSV = 1.",
                                       rsv_must_be_zero,
                                       {{.opcode = 1, .rsv = 1, .payload = "Hello, world!"}}));
  catalogue.add(echo_then_failure_case(
      "3.2", "Send small text message, then send again with RSV = 2, then send Ping.",
      {.opcode = 1, .rsv = 2, .payload = "Hello, world!"}, {}));
  catalogue.add(echo_then_failure_case(
      "3.3",
      "Send small text message, then send again with RSV = 3, then send Ping. Octets are sent "
      "in frame-wise chops.",
      {.opcode = 1, .rsv = 3, .payload = "Hello, world!"}, {.sync = true}));
  catalogue.add(echo_then_failure_case(
      "3.4",
      "Send small text message, then send again with RSV = 4, then send Ping. Octets are sent "
      "in octet-wise chops.",
      {.opcode = 1, .rsv = 4, .payload = "Hello, world!"}, {.chop = 1}));
  catalogue.add(immediate_failure_case(
      "3.5", "Send small binary message with RSV = 5.", rsv_must_be_zero,
      {{.opcode = 2, .rsv = 5, .payload = "\x00\xff\xfe\xfd\xfc\xfb\x00\xff"s}}));
  catalogue.add(immediate_failure_case("3.6", "Send Ping with RSV = 6.", rsv_must_be_zero,
                                       {{.opcode = 9, .rsv = 6, .payload = "Hello, world!"}}));
  catalogue.add(immediate_failure_case("3.7", "Send Close with RSV = 7.", rsv_must_be_zero,
                                       {{.opcode = 8, .rsv = 7}}));
}

}  // namespace fastws::conformance
