// 9.x Limits and performance: single messages up to 16 MiB, 4 MiB messages in fragments from 64
// octets to 4 MiB, 1 MiB messages written in chops from 64 to 2048 octets (10 us apart: they
// measure many small writes, not one frame trickling in), and 1000 round trips of small
// messages. The duration is part of the result. Beyond the official checks (type and length),
// the echo must equal what was sent.
#include <memory>
#include <string>

#include "conformance/case_expectations.hpp"
#include "conformance/catalogue.hpp"

namespace fastws::conformance {

namespace {

using namespace std::string_literals;

const std::string text_pattern = "BAsd7&jh23";
const std::string binary_pattern = "\x00\xfe\x23\xfa\xf0"s;

std::string size_words(std::size_t octets) {
  if (octets >= (1u << 20)) return std::to_string(octets >> 20) + "M";
  return std::to_string(octets >> 10) + "k";
}

std::string kind(bool binary) {
  return binary ? "binary" : "text";
}

// The echo of `sent` checked as the official suite does (type, then length), then byte for byte.
void judge_echo(CaseRun& run, const Event& echo, const std::string& sent, bool binary) {
  if (echo.binary != binary) {
    run.set_behavior(
        Verdict::failed,
        "Expected " + kind(binary) + " message with payload, but got " + kind(echo.binary) + ".");
  } else if (echo.data.size() != sent.size()) {
    run.set_behavior(Verdict::failed, "Expected " + kind(binary) +
                                          " message with payload of length " +
                                          std::to_string(sent.size()) + ", but got " +
                                          std::to_string(echo.data.size()) + ".");
  } else if (echo.data != sent) {
    run.set_behavior(Verdict::failed, "The echo differs from the message sent.");
  } else {
    run.set_behavior(Verdict::ok, "Received " + kind(binary) + " message of length " +
                                      std::to_string(sent.size()) + ".");
  }
  run.set_wirelog(true);
  run.send_close(1000);
}

// How one large message goes out.
struct Sending {
  std::size_t fragment = 0;  // payload octets per frame, 0: one frame
  std::size_t chop = 0;      // octets per write, 0: as the socket takes them
};

// The message is `pattern` repeated to `length` octets, built when the case runs.
CaseSpec large_message_case(std::string id, std::string description, bool binary,
                            std::string pattern, std::size_t length, Sending sending, Millis wait) {
  return {
      .id = std::move(id),
      .description = std::move(description),
      .expectation = "Receive echo'ed " + kind(binary) + " message (with payload as sent).",
      .report_time = true,
      .alone = true,
      .script = [binary, pattern, length, sending, wait](CaseRun& run) {
        const auto payload = std::make_shared<const std::string>(repeat_to_length(pattern, length));
        run.set_wirelog(false);
        run.expect_close(normal_close());
        run.set_behavior(Verdict::failed, "Did not receive message within " +
                                              std::to_string(wait.count() / 1000) + " seconds.");
        run.on_message = [&run, payload, binary](const Event& echo) {
          judge_echo(run, echo, *payload, binary);
        };
        if (sending.fragment != 0) {
          run.send_message(*payload, binary, sending.fragment);
        } else {
          run.send_frame({.opcode = binary ? 2u : 1u,
                          .payload = *payload,
                          .chop = sending.chop,
                          .pause = std::chrono::microseconds(10)});
        }
        run.close_after(wait);
      }};
}

void add_message_size_cases(Catalogue& catalogue) {
  const std::size_t sizes[] = {64u << 10, 256u << 10, 1u << 20, 4u << 20, 8u << 20, 16u << 20};
  const int text_waits[] = {10, 10, 100, 100, 100, 100};
  const int binary_waits[] = {10, 10, 10, 10, 100, 100};
  for (const bool binary : {false, true}) {
    for (std::size_t i = 0; i < std::size(sizes); ++i) {
      catalogue.add(large_message_case(
          std::string(binary ? "9.2." : "9.1.") + std::to_string(i + 1),
          "Send " + kind(binary) + " message with payload of length " + size_words(sizes[i]) + ".",
          binary, binary ? binary_pattern : text_pattern, sizes[i], {},
          Millis(1000 * (binary ? binary_waits[i] : text_waits[i]))));
    }
  }
}

void add_fragmented_cases(Catalogue& catalogue) {
  const std::size_t fragments[] = {64,        256,        1u << 10, 4u << 10, 16u << 10,
                                   64u << 10, 256u << 10, 1u << 20, 4u << 20};
  for (const bool binary : {false, true}) {
    for (std::size_t i = 0; i < std::size(fragments); ++i) {
      const std::string fragment_words =
          fragments[i] < 1024 ? std::to_string(fragments[i]) : size_words(fragments[i]);
      catalogue.add(large_message_case(
          std::string(binary ? "9.4." : "9.3.") + std::to_string(i + 1),
          "Send fragmented " + kind(binary) +
              " message with message payload of length 4M. Sent out in fragments of " +
              fragment_words + ".",
          binary, binary ? "\xfe" : "*", 4u << 20, {.fragment = fragments[i]}, Millis(100'000)));
    }
  }
}

void add_chopped_cases(Catalogue& catalogue) {
  const std::size_t chops[] = {64, 128, 256, 512, 1024, 2048};
  for (const bool binary : {false, true}) {
    for (std::size_t i = 0; i < std::size(chops); ++i) {
      catalogue.add(
          large_message_case(std::string(binary ? "9.6." : "9.5.") + std::to_string(i + 1),
                             "Send " + kind(binary) +
                                 " message with payload of length 1M. Sent out data in chops "
                                 "of " +
                                 std::to_string(chops[i]) + " octets.",
                             binary, binary ? binary_pattern : text_pattern, 1u << 20,
                             {.chop = chops[i]}, Millis(1'000'000)));
    }
  }
}

// 9.7 / 9.8: 1000 messages one after the other, each sent when the previous echo is back.
void add_round_trip_cases(Catalogue& catalogue) {
  struct RoundTrips {
    std::size_t size;
    int wait_seconds;
  };
  const RoundTrips cases[] = {{0, 60}, {16, 60}, {64, 60}, {256, 120}, {1024, 240}, {4096, 480}};
  constexpr int count = 1000;
  for (const bool binary : {false, true}) {
    for (std::size_t i = 0; i < std::size(cases); ++i) {
      const RoundTrips shape = cases[i];
      catalogue.add(
          {.id = std::string(binary ? "9.8." : "9.7.") + std::to_string(i + 1),
           .description = "Send " + std::to_string(count) + " " + kind(binary) +
                          " messages of payload size " + std::to_string(shape.size) +
                          " to measure implementation/network RTT (round trip time) / latency.",
           .expectation = "Receive echo'ed " + kind(binary) +
                          " messages (with payload as sent). Timeout case after " +
                          std::to_string(shape.wait_seconds) + " secs.",
           .report_time = true,
           .alone = true,
           .script = [binary, shape](CaseRun& run) {
             run.set_wirelog(false);
             run.expect_close(normal_close());
             run.set_behavior(
                 Verdict::failed,
                 "Case did not finish within " + std::to_string(shape.wait_seconds) + " seconds.");
             const auto payload =
                 std::make_shared<const std::string>(shape.size, binary ? '\xfe' : '*');
             auto sent = std::make_shared<int>(1);
             run.on_message = [&run, payload, binary, sent](const Event& echo) {
               if (echo.binary != binary || echo.data != *payload) {
                 run.set_behavior(Verdict::failed,
                                  "Echo'ed message type or payload differs from what I sent "
                                  "(got binary = " +
                                      std::string(echo.binary ? "true" : "false") +
                                      ", payload length = " + std::to_string(echo.data.size()) +
                                      ").");
               } else if (*sent < count) {
                 ++*sent;
                 run.send_frame({.opcode = binary ? 2u : 1u, .payload = *payload});
                 return;
               } else {
                 run.set_behavior(Verdict::ok, "Ok, received all echo'ed messages in time.");
               }
               run.set_wirelog(true);
               run.send_close(1000);
             };
             run.send_frame({.opcode = binary ? 2u : 1u, .payload = *payload});
             run.close_after(Millis(1000 * shape.wait_seconds));
           }});
    }
  }
}

}  // namespace

void add_limit_cases(Catalogue& catalogue) {
  add_message_size_cases(catalogue);
  add_fragmented_cases(catalogue);
  add_chopped_cases(catalogue);
  add_round_trip_cases(catalogue);
}

}  // namespace fastws::conformance
