// 1.x Framing: text and binary messages of every length class (7-bit, 16-bit and 64-bit
// length fields, RFC 6455 5.2), one of them written in chops of 997 octets.
#include <string>

#include "conformance/case_expectations.hpp"
#include "conformance/catalogue.hpp"

namespace fastws::conformance {

void add_framing_cases(Catalogue& catalogue) {
  struct Length {
    std::size_t octets;
    std::size_t chop;
    Millis kill;
  };
  static constexpr Length lengths[] = {{0, 0, Millis(1000)},      {125, 0, Millis(1000)},
                                       {126, 0, Millis(1000)},    {127, 0, Millis(1000)},
                                       {128, 0, Millis(1000)},    {65535, 0, Millis(10000)},
                                       {65536, 0, Millis(10000)}, {65536, 997, Millis(10000)}};
  for (const bool binary : {false, true}) {
    const std::string kind = binary ? "binary" : "text";
    for (std::size_t i = 0; i < std::size(lengths); ++i) {
      const Length length = lengths[i];
      std::string description =
          "Send " + kind + " message with payload of length " + std::to_string(length.octets) + ".";
      if (length.chop != 0) {
        description += " Sent out data in chops of " + std::to_string(length.chop) + " octets.";
      }
      catalogue.add({
          .id = std::string(binary ? "1.2." : "1.1.") + std::to_string(i + 1),
          .description = description,
          .expectation = "Receive echo'ed " + kind +
                         " message (with payload as sent). Clean close with normal code.",
          .script =
              [binary, length](CaseRun& run) {
                const std::string payload(length.octets, binary ? '\xfe' : '*');
                run.expect(Verdict::ok,
                           {binary ? Event::binary_message(payload) : Event::text(payload)});
                run.expect_close(normal_close());
                run.send_frame(
                    {.opcode = binary ? 2u : 1u, .payload = payload, .chop = length.chop});
                run.kill_after(length.kill);
              },
      });
    }
  }
}

}  // namespace fastws::conformance
