// 6.x UTF-8 handling (RFC 6455 8.1): valid text in every fragmentation (empty fragments, splits
// inside code points), invalid text unfragmented and in 1-octet fragments, fail-fast on the
// first invalid octet (6.4.x: the rest of the message follows only after a pause), and the
// decoder test vectors (6.5-6.23).
#include <array>
#include <functional>
#include <string>

#include "conformance/case_expectations.hpp"
#include "conformance/catalogue.hpp"
#include "conformance/utf8_vectors.hpp"

namespace fastws::conformance {

namespace {

const std::string kosme = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";
const std::string greeting = "Hello-µ@ßöäüàá-UTF-8!!";

std::string as_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    out += digits[static_cast<unsigned char>(c) >> 4];
    out += digits[static_cast<unsigned char>(c) & 0xFu];
  }
  return out;
}

CaseSpec valid_text_case(std::string id, std::string description,
                         std::function<void(CaseRun&)> send, std::string echoed) {
  return {.id = std::move(id),
          .description = std::move(description),
          .expectation = "The message is echo'ed back to us.",
          .script = [send = std::move(send), echoed = std::move(echoed)](CaseRun& run) {
            run.expect(Verdict::ok, {Event::text(echoed)});
            run.expect_close(normal_close());
            send(run);
            run.close_after(Millis(1000));
          }};
}

// 6.4.x: the message in three parts with a second between them. A fail-fast peer closes on the
// second part (OK: only the first pause passed); one that validates late closes after the
// third (NON-STRICT: both pauses passed).
CaseSpec fail_fast_case(std::string id, std::string description, std::array<std::string, 3> parts,
                        bool one_frame) {
  return {.id = std::move(id),
          .description = description + "<br><br>MESSAGE PARTS:<br>PART1 = " + as_hex(parts[0]) +
                         "<br>PART2 = " + as_hex(parts[1]) + "<br>PART3 = " + as_hex(parts[2]),
          .expectation = std::string("The first ") + (one_frame ? "chop" : "frame") +
                         " is accepted, we expect to timeout on the first wait. The 2nd should be "
                         "rejected immediately (fail fast on UTF-8). If we timeout, we expect the "
                         "connection is failed at least then, since the complete message payload "
                         "is not valid UTF-8.",
          .script = [parts, one_frame](CaseRun& run) {
            run.expect(Verdict::ok, {Event::timeout("A")});
            run.expect(Verdict::non_strict, {Event::timeout("A"), Event::timeout("B")});
            run.expect_close(peer_fails_on_utf8());
            // Either three frames, or one frame whose bytes go out in three writes.
            std::array<std::string, 3> writes;
            if (one_frame) {
              const std::string wire =
                  run.encode({.opcode = 1, .payload = parts[0] + parts[1] + parts[2]});
              const std::size_t header =
                  wire.size() - parts[0].size() - parts[1].size() - parts[2].size();
              writes = {wire.substr(0, header + parts[0].size()),
                        wire.substr(header + parts[0].size(), parts[1].size()),
                        wire.substr(header + parts[0].size() + parts[1].size())};
            } else {
              writes = {run.encode({.opcode = 1, .fin = false, .payload = parts[0]}),
                        run.encode({.opcode = 0, .fin = false, .payload = parts[1]}),
                        run.encode({.opcode = 0, .payload = parts[2]})};
            }
            run.send_bytes(writes[0], true);
            run.continue_later(Millis(1000), "A", [&run, writes] {
              if (!run.is_open()) return;
              run.record(Event::timeout("A"));
              run.send_bytes(writes[1], true);
              run.continue_later(Millis(1000), "B", [&run, writes] {
                if (!run.is_open()) return;
                run.record(Event::timeout("B"));
                run.send_bytes(writes[2], true);
                run.kill_after(Millis(1000));
              });
            });
          }};
}

void add_fragment_cases(Catalogue& catalogue) {
  catalogue.add(valid_text_case(
      "6.1.1", "Send text message of length 0.",
      [](CaseRun& run) { run.send_frame({.opcode = 1}); }, ""));
  catalogue.add(valid_text_case(
      "6.1.2", "Send fragmented text message, 3 fragments each of length 0.",
      [](CaseRun& run) {
        run.send_frame({.opcode = 1, .fin = false});
        run.send_frame({.opcode = 0, .fin = false});
        run.send_frame({.opcode = 0});
      },
      ""));
  catalogue.add(valid_text_case(
      "6.1.3",
      "Send fragmented text message, 3 fragments, first and last of length 0, middle non-empty.",
      [](CaseRun& run) {
        run.send_frame({.opcode = 1, .fin = false});
        run.send_frame({.opcode = 0, .fin = false, .payload = "middle frame payload"});
        run.send_frame({.opcode = 0});
      },
      "middle frame payload"));
  catalogue.add(valid_text_case(
      "6.2.1", "Send a valid UTF-8 text message in one fragment.<br><br>MESSAGE:<br>" + greeting,
      [](CaseRun& run) { run.send_message(greeting, false); }, greeting));
  const std::string first_half = "Hello-µ@ßöä";
  catalogue.add(valid_text_case(
      "6.2.2",
      "Send a valid UTF-8 text message in two fragments, fragmented on UTF-8 code point "
      "boundary.",
      [first_half](CaseRun& run) {
        run.send_frame({.opcode = 1, .fin = false, .payload = first_half});
        run.send_frame({.opcode = 0, .payload = greeting.substr(first_half.size())});
      },
      greeting));
  for (const auto& [id, text] : {std::pair{"6.2.3", greeting}, std::pair{"6.2.4", kosme}}) {
    catalogue.add(valid_text_case(
        id,
        "Send a valid UTF-8 text message in fragments of 1 octet, resulting in frames ending on "
        "positions which are not code point ends.<br><br>MESSAGE:<br>" +
            text,
        [text](CaseRun& run) { run.send_message(text, false, 1); }, text));
  }
  const std::string invalid = kosme + "\xed\xa0\x80" + "edited";
  for (const bool octet_fragments : {false, true}) {
    catalogue.add(
        {.id = octet_fragments ? "6.3.2" : "6.3.1",
         .description = std::string(octet_fragments ? "Send invalid UTF-8 text message in "
                                                      "fragments of 1 octet."
                                                    : "Send invalid UTF-8 text message "
                                                      "unfragmented.") +
                        "<br><br>MESSAGE:<br>" + as_hex(invalid),
         .expectation = "The connection is failed immediately, since the payload is "
                        "not valid UTF-8.",
         .script = [invalid, octet_fragments](CaseRun& run) {
           run.expect(Verdict::ok, {});
           run.expect_close(peer_fails_on_utf8());
           run.send_message(invalid, false, octet_fragments ? 1 : 0);
           run.kill_after(Millis(1000));
         }});
  }
  // U+110000 in the UTF-8 integer scheme: invalid at its second octet (0x90), octet 12.
  const std::array<std::string, 3> by_sequence = {kosme, "\xf4\x90\x80\x80", "edited"};
  const std::string whole = by_sequence[0] + by_sequence[1] + by_sequence[2];
  const std::array<std::string, 3> by_octet = {whole.substr(0, 12), whole.substr(12, 1),
                                               whole.substr(13)};
  catalogue.add(fail_fast_case(
      "6.4.1",
      "Send invalid UTF-8 text message in 3 fragments (frames). First frame payload is valid, "
      "then wait, then 2nd frame which contains the payload making the sequence invalid, then "
      "wait, then 3rd frame with rest. PART2 is 0x110000 encoded as in the UTF-8 integer "
      "encoding scheme, but the codepoint is invalid (out of range).",
      by_sequence, false));
  catalogue.add(fail_fast_case("6.4.2",
                               "Same as Case 6.4.1, but in 2nd frame, we send only up to and "
                               "including the octet making the complete payload invalid.",
                               by_octet, false));
  catalogue.add(fail_fast_case("6.4.3",
                               "Same as Case 6.4.1, but we send message not in 3 frames, but in "
                               "3 chops of the same message frame.",
                               by_sequence, true));
  catalogue.add(fail_fast_case("6.4.4",
                               "Same as Case 6.4.2, but we send message not in 3 frames, but in "
                               "3 chops of the same message frame.",
                               by_octet, true));
}

void add_vector_cases(Catalogue& catalogue) {
  const auto groups = utf8_vector_groups();
  for (std::size_t group = 0; group < groups.size(); ++group) {
    for (std::size_t i = 0; i < groups[group].vectors.size(); ++i) {
      const Utf8Vector vector = groups[group].vectors[i];
      catalogue.add(
          {.id = "6." + std::to_string(group + 5) + "." + std::to_string(i + 1),
           .description = std::string("Send a text message with payload which is ") +
                          (vector.valid ? "" : "not ") + "valid UTF-8 in one fragment (" +
                          groups[group].title + ").<br><br>Payload: 0x" + as_hex(vector.bytes),
           .expectation = vector.valid ? "The message is echo'ed back to us."
                                       : "The connection is failed immediately, since the "
                                         "payload is not valid UTF-8.",
           .script = [vector](CaseRun& run) {
             if (vector.valid) {
               run.expect(Verdict::ok, {Event::text(vector.bytes)});
               run.expect_close(normal_close());
             } else {
               run.expect(Verdict::ok, {});
               run.expect_close(peer_fails_on_utf8());
             }
             run.send_message(vector.bytes, false);
             run.kill_after(Millis(500));
           }});
    }
  }
}

}  // namespace

void add_utf8_cases(Catalogue& catalogue) {
  add_fragment_cases(catalogue);
  add_vector_cases(catalogue);
}

}  // namespace fastws::conformance
