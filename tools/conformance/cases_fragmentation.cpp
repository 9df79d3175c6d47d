// 5.x Fragmentation (RFC 6455 5.4): fragmented messages with control frames in between, and the
// sequences a peer must refuse (fragmented control frames, continuations with nothing to
// continue, a new message inside a fragmented one). Each shape is played as one write, as
// frame-wise writes and as octet-wise writes.
#include <string>

#include "conformance/case_expectations.hpp"
#include "conformance/case_shapes.hpp"

namespace fastws::conformance {

namespace {

constexpr const char* nothing_to_continue =
    "The connection is failed immediately, since there is no message to continue.";

// How a case writes its frames: in one write, frame-wise, or octet-wise.
struct Writing {
  const char* words;  // appended to the description
  std::size_t chop;
  bool sync;
};
constexpr Writing in_one_chop{"sent in one chop", 0, false};
constexpr Writing frame_wise{"sent in per-frame chops", 0, true};
constexpr Writing octet_wise{"sent in octet-wise chops", 1, false};

FrameSpec written(FrameSpec frame, const Writing& writing) {
  frame.chop = writing.chop;
  frame.sync = writing.sync;
  return frame;
}

CaseSpec two_fragments_case(std::string id, const char* octets_words, const Writing& writing,
                            bool ping_between) {
  std::string description = ping_between ? "Send text Message fragmented into 2 fragments, one "
                                           "ping with payload in-between."
                                         : "Send text Message fragmented into 2 fragments.";
  if (octets_words != nullptr) description += std::string(" Octets are sent in ") + octets_words;
  return {.id = std::move(id),
          .description = description,
          .expectation = ping_between ? "A pong is received, then the message is echo'ed back."
                                      : "Message is processed and echo'ed back to us.",
          .script = [writing, ping_between](CaseRun& run) {
            Events expected;
            if (ping_between) expected.push_back(Event::pong("ping payload"));
            expected.push_back(Event::text("fragment1fragment2"));
            run.expect(Verdict::ok, expected);
            run.expect_close(normal_close());
            run.send_frame(written({.opcode = 1, .fin = false, .payload = "fragment1"}, writing));
            if (ping_between) {
              run.send_frame(written({.opcode = 9, .payload = "ping payload"}, writing));
            }
            run.send_frame(written({.opcode = 0, .payload = "fragment2"}, writing));
            run.close_after(Millis(1000));
          }};
}

// A continuation frame (final or not) where there is nothing to continue, then a text message.
CaseSpec stray_continuation_case(std::string id, bool fin, const Writing& writing) {
  return immediate_failure_case(
      std::move(id),
      std::string("Send unfragmented Text Message after Continuation Frame with FIN = ") +
          (fin ? "true" : "false") + ", where there is nothing to continue, " + writing.words + ".",
      nothing_to_continue,
      {written({.opcode = 0, .fin = fin, .payload = "non-continuation payload"}, writing),
       written({.opcode = 1, .payload = "Hello, world!"}, writing)});
}

CaseSpec stray_continuation_twice_case(std::string id, bool fin) {
  std::vector<FrameSpec> frames;
  for (int i = 0; i < 2; ++i) {
    frames.push_back({.opcode = 0, .fin = fin, .payload = "fragment1"});
    frames.push_back({.opcode = 1, .fin = false, .payload = "fragment2"});
    frames.push_back({.opcode = 0, .payload = "fragment3"});
  }
  return immediate_failure_case(
      std::move(id),
      std::string("Repeated 2x: Continuation Frame with FIN = ") + (fin ? "true" : "false") +
          " (where there is nothing to continue), then text Message fragmented into 2 fragments.",
      nothing_to_continue, frames);
}

// 5.19 / 5.20: a fragmented message with pings in between, its second half a second later.
CaseSpec pings_inside_message_case(std::string id, bool sync) {
  return {.id = std::move(id),
          .description =
              sync ? "Same as Case 5.19, but send all frames with SYNC = True (each frame in a "
                     "write of its own; the octets sent are the same)."
                   : "A fragmented text message is sent in multiple frames. After sending the "
                     "first 2 frames of the text message, a Ping is sent. Then we wait 1s, then "
                     "we send 2 more text fragments, another Ping and then the final text "
                     "fragment. Everything is legal.",
          .expectation =
              "The peer immediately answers the first Ping before it has received the "
              "last text message fragment. The peer pong's back the Ping's payload "
              "exactly, and echo's the payload of the fragmented message back to us.",
          .script = [sync](CaseRun& run) {
            run.expect(Verdict::ok, {Event::pong("pongme 1!"), Event::pong("pongme 2!"),
                                     Event::text("fragment1fragment2fragment3fragment4fragment5")});
            run.expect_close(normal_close());
            run.send_frame({.opcode = 1, .fin = false, .payload = "fragment1", .sync = sync});
            run.send_frame({.opcode = 0, .fin = false, .payload = "fragment2", .sync = sync});
            run.send_frame({.opcode = 9, .payload = "pongme 1!", .sync = sync});
            run.continue_later(Millis(1000), "A", [&run, sync] {
              run.send_frame({.opcode = 0, .fin = false, .payload = "fragment3", .sync = sync});
              run.send_frame({.opcode = 0, .fin = false, .payload = "fragment4", .sync = sync});
              run.send_frame({.opcode = 9, .payload = "pongme 2!", .sync = sync});
              run.send_frame({.opcode = 0, .payload = "fragment5", .sync = sync});
              run.close_after(Millis(1000));
            });
          }};
}

}  // namespace

void add_fragmentation_cases(Catalogue& catalogue) {
  constexpr const char* control_not_fragmented =
      "Connection is failed immediately, since control message MUST NOT be fragmented.";
  catalogue.add(immediate_failure_case("5.1", "Send Ping fragmented into 2 fragments.",
                                       control_not_fragmented,
                                       {{.opcode = 9, .fin = false, .payload = "fragment1"},
                                        {.opcode = 0, .payload = "fragment2"}}));
  catalogue.add(immediate_failure_case("5.2", "Send Pong fragmented into 2 fragments.",
                                       control_not_fragmented,
                                       {{.opcode = 10, .fin = false, .payload = "fragment1"},
                                        {.opcode = 0, .payload = "fragment2"}}));
  catalogue.add(two_fragments_case("5.3", nullptr, in_one_chop, false));
  catalogue.add(two_fragments_case("5.4", "frame-wise chops.", frame_wise, false));
  catalogue.add(two_fragments_case("5.5", "octet-wise chops.", octet_wise, false));
  catalogue.add(two_fragments_case("5.6", nullptr, in_one_chop, true));
  catalogue.add(two_fragments_case("5.7", "frame-wise chops.", frame_wise, true));
  catalogue.add(two_fragments_case("5.8", "octet-wise chops.", octet_wise, true));
  catalogue.add(stray_continuation_case("5.9", true, in_one_chop));
  catalogue.add(stray_continuation_case("5.10", true, frame_wise));
  catalogue.add(stray_continuation_case("5.11", true, octet_wise));
  catalogue.add(stray_continuation_case("5.12", false, in_one_chop));
  catalogue.add(stray_continuation_case("5.13", false, frame_wise));
  catalogue.add(stray_continuation_case("5.14", false, octet_wise));
  catalogue.add({.id = "5.15",
                 .description = "Send text Message fragmented into 2 fragments, then "
                                "Continuation Frame with FIN = false where there is nothing to "
                                "continue, then unfragmented Text Message, all sent in one chop.",
                 .expectation = nothing_to_continue,
                 .script = [](CaseRun& run) {
                   run.expect(Verdict::ok, {Event::text("fragment1fragment2")});
                   run.expect(Verdict::non_strict, {});
                   run.expect_close(peer_fails());
                   run.send_frame({.opcode = 1, .fin = false, .payload = "fragment1"});
                   run.send_frame({.opcode = 0, .payload = "fragment2"});
                   run.send_frame({.opcode = 0, .fin = false, .payload = "fragment3"});
                   run.send_frame({.opcode = 1, .payload = "fragment4"});
                   run.kill_after(Millis(1000));
                 }});
  catalogue.add(stray_continuation_twice_case("5.16", false));
  catalogue.add(stray_continuation_twice_case("5.17", true));
  catalogue.add(immediate_failure_case(
      "5.18",
      "Send text Message fragmented into 2 fragments, with both frame opcodes set to text, sent "
      "in one chop.",
      "The connection is failed immediately, since all data frames after the initial data frame "
      "must have opcode 0.",
      {{.opcode = 1, .fin = false, .payload = "fragment1"},
       {.opcode = 1, .payload = "fragment2"}}));
  catalogue.add(pings_inside_message_case("5.19", false));
  catalogue.add(pings_inside_message_case("5.20", true));
}

}  // namespace fastws::conformance
