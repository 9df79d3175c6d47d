// 10.x Misc: a message the fuzzer auto-fragments (65536 octets in frames of 1300), echoed whole,
// with the frames sent counted.
#include <string>

#include "conformance/case_expectations.hpp"
#include "conformance/catalogue.hpp"

namespace fastws::conformance {

void add_auto_fragmentation_cases(Catalogue& catalogue) {
  catalogue.add(
      {.id = "10.1.1",
       .description = "Send text message with payload of length 65536 auto-fragmented with "
                      "autoFragmentSize = 1300.",
       .expectation = "Receive echo'ed text message (with payload as sent and transmitted frame "
                      "counts as expected). Clean close with normal code.",
       .script = [](CaseRun& run) {
         constexpr std::size_t length = 65536;
         constexpr std::size_t fragment = 1300;
         const std::string payload(length, '*');
         run.expect(Verdict::ok, {Event::text(payload)});
         run.expect_close(normal_close());
         run.send_message(payload, false, fragment);
         run.kill_after(Millis(10000));
         run.on_judged = [&run](Outcome& outcome) {
           if (!run.close_record().was_open) return;
           const auto count = [&run](unsigned opcode) {
             const auto found = run.frames_sent().find(opcode);
             return found == run.frames_sent().end() ? std::size_t{0} : found->second;
           };
           const std::size_t continuations = length / fragment;
           const std::size_t firsts = length % fragment > 0 ? 1 : 0;
           if (count(0) != continuations || count(1) != firsts) {
             outcome.behavior = Verdict::failed;
             outcome.result =
                 "Frames transmitted {0: " + std::to_string(count(0)) +
                 ", 1: " + std::to_string(count(1)) +
                 "} does not match what we expected {0: " + std::to_string(continuations) +
                 ", 1: " + std::to_string(firsts) + "}.";
           }
         };
       }});
}

}  // namespace fastws::conformance
