#include "conformance/case_shapes.hpp"

#include "conformance/case_expectations.hpp"

namespace fastws::conformance {

CaseSpec immediate_failure_case(std::string id, std::string description, std::string expectation,
                                std::vector<FrameSpec> frames) {
  return {.id = std::move(id),
          .description = std::move(description),
          .expectation = std::move(expectation),
          .script = [frames = std::move(frames)](CaseRun& run) {
            run.expect(Verdict::ok, {});
            run.expect_close(peer_fails());
            for (const FrameSpec& frame : frames) run.send_frame(frame);
            run.kill_after(Millis(1000));
          }};
}

CaseSpec echo_then_failure_case(std::string id, std::string description, FrameSpec violation,
                                const FrameSpec& shape) {
  violation.chop = shape.chop;
  violation.sync = shape.sync;
  return {
      .id = std::move(id),
      .description = std::move(description),
      .expectation =
          "Echo for first message is received, but then the connection is failed "
          "immediately. The Pong is not received.",
      .script = [violation, shape](CaseRun& run) {
        const std::string message = "Hello, world!";
        run.expect(Verdict::ok, {Event::text(message)});
        run.expect(Verdict::non_strict, {});
        run.expect_close(peer_fails());
        run.send_frame({.opcode = 1, .payload = message, .chop = shape.chop, .sync = shape.sync});
        run.send_frame(violation);
        run.send_frame({.opcode = 9, .chop = shape.chop, .sync = shape.sync});
        run.kill_after(Millis(1000));
      }};
}

}  // namespace fastws::conformance
