// 7.x Close handling (RFC 6455 5.5.1, 7.1, 7.4): the closing handshake with frames around it,
// close payload lengths and reasons, every valid close code and invalid ones. The fuzzer
// always starts the handshake; a wrong close code in the answer fails the case.
#include <functional>
#include <string>

#include "conformance/catalogue.hpp"

namespace fastws::conformance {

namespace {

const std::string invalid_utf8 =
    "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64";

ExpectedClose clean_close_with(std::vector<std::uint16_t> codes) {
  return {.closed_by_me = true, .codes = std::move(codes)};
}

ExpectedClose protocol_error_close(std::vector<std::uint16_t> codes = {1002}) {
  return {.closed_by_me = true, .codes = std::move(codes), .require_clean = false};
}

// In the close cases an answer with the wrong close code fails the behaviour, not only the close.
void wrong_code_fails(CaseRun& run) {
  run.on_judged = [](Outcome& outcome) {
    if (outcome.behavior_close != Verdict::wrong_code) return;
    outcome.behavior = Verdict::failed;
    outcome.result = outcome.result_close;
  };
}

// The spec leaves the outcome open: reported, not judged. `explain` words the result from the
// outcome the events would have had.
void informational(CaseRun& run, std::function<std::string(const Outcome&)> explain) {
  run.on_judged = [explain = std::move(explain)](Outcome& outcome) {
    outcome.result = explain(outcome);
    outcome.behavior = Verdict::informational;
    outcome.behavior_close = Verdict::informational;
  };
}

// A case whose script starts the closing handshake itself; `send` does the sending.
CaseSpec close_case(std::string id, std::string description, std::string expectation,
                    ExpectedClose expected_close, std::function<void(CaseRun&)> send) {
  return {
      .id = std::move(id),
      .description = std::move(description),
      .expectation = std::move(expectation),
      .script = [expected_close = std::move(expected_close), send = std::move(send)](CaseRun& run) {
        run.suppress_auto_close();
        run.expect(Verdict::ok, {});
        run.expect_close(expected_close);
        wrong_code_fails(run);
        send(run);
        run.kill_after(Millis(1000));
      }};
}

void add_basic_close_cases(Catalogue& catalogue) {
  catalogue.add({.id = "7.1.1",
                 .description = "Send a message followed by a close frame",
                 .expectation = "Echoed message followed by clean close with normal code.",
                 .script = [](CaseRun& run) {
                   run.expect(Verdict::ok, {Event::text("Hello World!")});
                   run.expect_close(clean_close_with({1000}));
                   wrong_code_fails(run);
                   run.send_frame({.opcode = 1, .payload = "Hello World!"});
                   run.kill_after(Millis(1000));
                 }});
  catalogue.add(close_case("7.1.2", "Send two close frames",
                           "Clean close with normal code. Second close frame ignored.",
                           clean_close_with({1000}), [](CaseRun& run) {
                             run.send_close(1000);
                             run.send_frame({.opcode = 8});
                           }));
  catalogue.add(close_case("7.1.3", "Send a ping after close message",
                           "Clean close with normal code, no pong.", clean_close_with({1000}),
                           [](CaseRun& run) {
                             run.send_close(1000);
                             run.send_frame({.opcode = 9});
                           }));
  catalogue.add(close_case("7.1.4", "Send text message after sending a close frame.",
                           "Clean close with normal code. Text message ignored.",
                           clean_close_with({1000}), [](CaseRun& run) {
                             run.send_close(1000);
                             run.send_frame({.opcode = 1, .payload = "Hello World!"});
                           }));
  catalogue.add(close_case("7.1.5", "Send message fragment1 followed by close then fragment",
                           "Clean close with normal code.", clean_close_with({1000}),
                           [](CaseRun& run) {
                             run.send_frame({.opcode = 1, .fin = false, .payload = "fragment1"});
                             run.send_close(1000);
                             run.send_frame({.opcode = 0, .payload = "fragment2"});
                           }));
  catalogue.add(
      {.id = "7.1.6",
       .description = "Send 256K message followed by close then a ping",
       .expectation = "Case outcome depends on implementation defined close behavior. Message "
                      "and close frame are sent back to back. If the close frame is processed "
                      "before the text message write is complete (as can happen in asynchronous "
                      "processing models) the close frame is processed first and the text "
                      "message may not be received or may only be partially received.",
       .script = [](CaseRun& run) {
         run.suppress_auto_close();
         run.expect(Verdict::ok, {Event::text("Hello World!")});
         run.expect(Verdict::non_strict, {});
         run.expect_close(clean_close_with({1000}));
         informational(run, [](const Outcome& outcome) -> std::string {
           if (outcome.behavior == Verdict::ok) return "Text message was processed before close.";
           if (outcome.behavior == Verdict::non_strict) {
             return "Close was processed before text message could be returned.";
           }
           return outcome.result;
         });
         run.send_frame({.opcode = 1, .payload = repeat_to_length("BAsd7&jh23", 256u << 10)});
         run.send_frame({.opcode = 1, .payload = "Hello World!"});
         run.send_close(1000);
         run.send_frame({.opcode = 9});
         run.kill_after(Millis(1000));
       }});
}

void add_close_payload_cases(Catalogue& catalogue) {
  catalogue.add(close_case("7.3.1",
                           "Send a close frame with payload length 0 (no close code, no close "
                           "reason)",
                           "Clean close with normal code.", clean_close_with({1000}),
                           [](CaseRun& run) { run.send_close(std::nullopt); }));
  catalogue.add(close_case("7.3.2", "Send a close frame with payload length 1",
                           "Clean close with protocol error or drop TCP.", protocol_error_close(),
                           [](CaseRun& run) { run.send_close(std::nullopt, "a"); }));
  catalogue.add(close_case("7.3.3",
                           "Send a close frame with payload length 2 (regular close with a code)",
                           "Clean close with normal code.", clean_close_with({1000}),
                           [](CaseRun& run) { run.send_close(1000); }));
  catalogue.add(close_case("7.3.4", "Send a close frame with close code and close reason",
                           "Clean close with normal code.", clean_close_with({1000}),
                           [](CaseRun& run) { run.send_close(1000, "Hello World!"); }));
  catalogue.add(close_case(
      "7.3.5", "Send a close frame with close code and close reason of maximum length (123)",
      "Clean close with normal code.", clean_close_with({1000}),
      [](CaseRun& run) { run.send_close(1000, std::string(123, '*')); }));
  catalogue.add(close_case("7.3.6",
                           "Send a close frame with close code and close reason which is too "
                           "long (124) - total frame payload 126 octets",
                           "Clean close with protocol error code or dropped TCP connection.",
                           protocol_error_close(),
                           [](CaseRun& run) { run.send_close(1000, std::string(124, '*')); }));
  catalogue.add(close_case("7.5.1", "Send a close frame with invalid UTF8 payload",
                           "Clean close with protocol error or invalid utf8 code or dropped TCP.",
                           protocol_error_close({1002, 1007}),
                           [](CaseRun& run) { run.send_close(1000, invalid_utf8); }));
}

void add_close_code_cases(Catalogue& catalogue) {
  const std::uint16_t valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009,
                                 1010, 1011, 3000, 3999, 4000, 4999};
  for (std::size_t i = 0; i < std::size(valid); ++i) {
    const std::uint16_t code = valid[i];
    catalogue.add(close_case(
        "7.7." + std::to_string(i + 1), "Send close with valid close code " + std::to_string(code),
        "Clean close with normal or echoed code", clean_close_with({1000, code}),
        [code](CaseRun& run) { run.send_close(code); }));
  }
  const std::uint16_t invalid[] = {0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999};
  for (std::size_t i = 0; i < std::size(invalid); ++i) {
    const std::uint16_t code = invalid[i];
    catalogue.add(close_case("7.9." + std::to_string(i + 1),
                             "Send close with invalid close code " + std::to_string(code),
                             "Clean close with protocol error code or drop TCP",
                             protocol_error_close(),
                             [code](CaseRun& run) { run.send_close(code); }));
  }
  for (const auto& [id, code] : {std::pair{"7.13.1", 5000}, std::pair{"7.13.2", 65535}}) {
    const auto wire_code = static_cast<std::uint16_t>(code);
    catalogue.add({.id = id,
                   .description = "Send close with close code " + std::to_string(code),
                   .expectation = "Actual events are undefined by the spec.",
                   .script = [wire_code](CaseRun& run) {
                     run.suppress_auto_close();
                     run.expect(Verdict::ok, {});
                     run.expect_close(protocol_error_close({1000, wire_code, 1002}));
                     informational(run, [](const Outcome&) -> std::string {
                       return "Actual events are undefined by the spec.";
                     });
                     run.send_close(wire_code);
                     run.kill_after(Millis(1000));
                   }});
  }
}

}  // namespace

void add_close_cases(Catalogue& catalogue) {
  add_basic_close_cases(catalogue);
  add_close_payload_cases(catalogue);
  add_close_code_cases(catalogue);
}

}  // namespace fastws::conformance
