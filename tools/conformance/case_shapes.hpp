// Case shapes several groups share: a frame the peer must fail the connection on, and a valid
// message followed by such a frame (the echo must come back, then the connection fails).
#pragma once

#include <string>

#include "conformance/catalogue.hpp"

namespace fastws::conformance {

// Sends `frames` (in one write) and expects the peer to fail the connection with 1002 at once.
CaseSpec immediate_failure_case(std::string id, std::string description, std::string expectation,
                                std::vector<FrameSpec> frames);

// Sends a text message, then `violation`, then a ping, each written as `shape` says (chop and
// sync are copied from it). OK: the message is echoed, then the connection fails with 1002 and
// the ping gets no pong; NON-STRICT: the connection fails before the echo.
CaseSpec echo_then_failure_case(std::string id, std::string description, FrameSpec violation,
                                const FrameSpec& shape);

}  // namespace fastws::conformance
