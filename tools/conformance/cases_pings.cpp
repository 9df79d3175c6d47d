// 2.x Pings and pongs (RFC 6455 5.5.2, 5.5.3): a pong echoes each ping's payload, control frames
// carry at most 125 octets, unsolicited pongs are ignored.
#include <string>

#include "conformance/case_expectations.hpp"
#include "conformance/catalogue.hpp"

namespace fastws::conformance {

namespace {

using namespace std::string_literals;

// A ping with `payload` (written in `chop`-octet pieces) answered by a pong with the same.
CaseSpec ping_case(std::string id, std::string description, std::string payload,
                   std::size_t chop = 0, Millis close_after = Millis(1000)) {
  return {.id = std::move(id),
          .description = std::move(description),
          .expectation =
              "Pong (with the payload echo'ed) is sent in reply to the Ping. Clean "
              "close with normal code.",
          .script = [payload, chop, close_after](CaseRun& run) {
            run.expect(Verdict::ok, {Event::pong(payload)});
            run.expect_close(normal_close());
            run.send_frame({.opcode = 9, .payload = payload, .chop = chop});
            run.close_after(close_after);
          }};
}

CaseSpec ten_pings_case(std::string id, std::string description, std::size_t chop) {
  return {.id = std::move(id),
          .description = std::move(description),
          .expectation =
              "Pongs for our Pings with all the payloads (not required by the spec, "
              "but checked). Clean close with normal code.",
          .script = [chop](CaseRun& run) {
            Events pongs;
            for (int i = 0; i < 10; ++i) {
              const std::string payload = "payload-" + std::to_string(i);
              pongs.push_back(Event::pong(payload));
              run.send_frame({.opcode = 9, .payload = payload, .chop = chop});
            }
            run.expect(Verdict::ok, pongs);
            run.expect_close(normal_close());
            run.close_after(Millis(3000));
          }};
}

}  // namespace

void add_ping_cases(Catalogue& catalogue) {
  catalogue.add(ping_case("2.1", "Send ping without payload.", ""));
  catalogue.add(ping_case("2.2", "Send ping with small text payload.", "Hello, world!"));
  catalogue.add(ping_case("2.3", "Send ping with small binary (non UTF-8) payload.",
                          "\x00\xff\xfe\xfd\xfc\xfb\x00\xff"s));
  catalogue.add(
      ping_case("2.4", "Send ping with binary payload of 125 octets.", std::string(125, '\xfe')));
  catalogue.add({.id = "2.5",
                 .description = "Send ping with binary payload of 126 octets.",
                 .expectation = "Connection is failed immediately (1002/Protocol Error), since "
                                "control frames may have a payload of 125 octets at most.",
                 .script = [](CaseRun& run) {
                   run.expect(Verdict::ok, {});
                   run.expect_close(peer_fails());
                   run.send_frame({.opcode = 9, .payload = std::string(126, '\xfe')});
                   run.kill_after(Millis(1000));
                 }});
  catalogue.add(ping_case("2.6",
                          "Send ping with binary payload of 125 octets, sent in octet-wise chops.",
                          std::string(125, '\xfe'), 1, Millis(2000)));
  for (const bool with_payload : {false, true}) {
    catalogue.add({.id = with_payload ? "2.8" : "2.7",
                   .description = with_payload
                                      ? "Send unsolicited pong with payload. Verify nothing is "
                                        "received. Clean close with normal code."
                                      : "Send unsolicited pong without payload. Verify nothing is "
                                        "received. Clean close with normal code.",
                   .expectation = "Nothing.",
                   .script = [with_payload](CaseRun& run) {
                     run.expect(Verdict::ok, {});
                     run.expect_close(normal_close());
                     run.send_frame(
                         {.opcode = 10, .payload = with_payload ? "unsolicited pong payload" : ""});
                     run.send_close(1000);
                     run.close_after(Millis(1000));
                   }});
  }
  catalogue.add({.id = "2.9",
                 .description = "Send unsolicited pong with payload. Send ping with payload. "
                                "Verify pong for ping is received.",
                 .expectation = "Nothing in reply to our own Pong, but a Pong with the payload "
                                "echo'ed in reply to the Ping. Clean close with normal code.",
                 .script = [](CaseRun& run) {
                   run.expect(Verdict::ok, {Event::pong("ping payload")});
                   run.expect_close(normal_close());
                   run.send_frame({.opcode = 10, .payload = "unsolicited pong payload"});
                   run.send_frame({.opcode = 9, .payload = "ping payload"});
                   run.close_after(Millis(1000));
                 }});
  catalogue.add(ten_pings_case("2.10", "Send 10 Pings with payload.", 0));
  catalogue.add(ten_pings_case(
      "2.11", "Send 10 Pings with payload. Send out octets in octet-wise chops.", 1));
}

}  // namespace fastws::conformance
