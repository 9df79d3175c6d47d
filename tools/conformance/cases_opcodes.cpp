// 4.x Opcodes: the reserved non-control (3-7) and control (0xB-0xF) opcodes fail the connection
// (RFC 6455 5.2).
#include <string>

#include "conformance/case_shapes.hpp"

namespace fastws::conformance {

namespace {

constexpr const char* fails_at_once = "The connection is failed immediately.";

}  // namespace

void add_opcode_cases(Catalogue& catalogue) {
  // Each group: a bare frame, one with a payload, then the three echo-first variants (the last
  // written in octet-wise chops).
  struct Group {
    const char* prefix;  // "4.1."
    const char* kind;    // "non-control"
    unsigned first;      // the first reserved opcode of the group
  };
  for (const Group group : {Group{"4.1.", "non-control", 3}, Group{"4.2.", "control", 11}}) {
    const std::string kind = group.kind;
    const auto opcode = [&](unsigned offset) { return group.first + offset; };
    const auto name = [&](unsigned offset) {
      return "reserved " + kind + " Opcode = " + std::to_string(opcode(offset));
    };
    catalogue.add(immediate_failure_case(group.prefix + std::string("1"),
                                         "Send frame with " + name(0) + ".", fails_at_once,
                                         {{.opcode = opcode(0), .payload = ""}}));
    catalogue.add(immediate_failure_case(
        group.prefix + std::string("2"), "Send frame with " + name(1) + " and non-empty payload.",
        fails_at_once, {{.opcode = opcode(1), .payload = "reserved opcode payload"}}));
    catalogue.add(echo_then_failure_case(
        group.prefix + std::string("3"),
        "Send small text message, then send frame with " + name(2) + ", then send Ping.",
        {.opcode = opcode(2)}, {}));
    catalogue.add(echo_then_failure_case(group.prefix + std::string("4"),
                                         "Send small text message, then send frame with " +
                                             name(3) + " and non-empty payload, then send Ping.",
                                         {.opcode = opcode(3), .payload = "Hello, world!"}, {}));
    catalogue.add(echo_then_failure_case(
        group.prefix + std::string("5"),
        "Send small text message, then send frame with " + name(4) +
            " and non-empty payload, then send Ping. Octets are sent in octet-wise chops.",
        {.opcode = opcode(4), .payload = "Hello, world!"}, {.chop = 1}));
  }
}

}  // namespace fastws::conformance
