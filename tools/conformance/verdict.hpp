// What a case expects and how it came out, in the official suite's terms: a behaviour verdict
// from the events received (messages, pongs, the fuzzer's own timeouts), and a close verdict
// from how the connection ended.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fastws::conformance {

enum class Verdict {
  ok,
  non_strict,     // passes, but misses a SHOULD or a canonical behaviour (e.g. not fail-fast)
  informational,  // the spec leaves the outcome open; reported, never judged
  unimplemented,  // the peer declined the feature the case tests (permessage-deflate)
  failed,
  wrong_code,       // close verdicts only: a close code outside the expected ones
  unclean,          // close verdicts only: no clean close where one was required
  failed_by_client  // close verdicts only: the fuzzing client had to drop the TCP connection
};

// "OK", "NON-STRICT", ... as the official reports spell them.
std::string_view verdict_name(Verdict verdict) noexcept;

// One thing the fuzzer observed, compared with the expected sequences.
struct Event {
  enum class Kind { message, ping, pong, timeout };
  Kind kind = Kind::message;
  std::string data;     // payload, or the timeout's tag
  bool binary = false;  // messages only

  static Event text(std::string data) { return {Kind::message, std::move(data), false}; }
  static Event binary_message(std::string data) { return {Kind::message, std::move(data), true}; }
  static Event pong(std::string data) { return {Kind::pong, std::move(data), false}; }
  static Event timeout(std::string tag) { return {Kind::timeout, std::move(tag), false}; }

  bool operator==(const Event&) const = default;
};

using Events = std::vector<Event>;

// How the connection is expected to end.
struct ExpectedClose {
  bool closed_by_me = true;  // the fuzzer starts the closing handshake
  std::vector<std::uint16_t> codes = {1000};
  bool require_clean = true;
  // For UTF-8 cases: the peer closing second means it never saw the invalid text at all.
  bool wrong_endpoint_is_fatal = false;
};

// The connection's end as the fuzzer saw it.
struct CloseRecord {
  bool was_open = false;       // the opening handshake completed
  bool closed_by_me = false;   // the fuzzer sent the first close frame
  bool failed_by_me = false;   // the fuzzer failed the connection (protocol error, time out)
  bool dropped_by_me = false;  // the fuzzer closed the TCP connection
  bool was_clean = false;      // a closing handshake completed before TCP closed
  std::string not_clean_reason;
  std::optional<std::uint16_t> local_code;
  std::string local_reason;
  std::optional<std::uint16_t> remote_code;
  std::string remote_reason;
};

struct Outcome {
  Verdict behavior = Verdict::failed;
  Verdict behavior_close = Verdict::failed;
  std::string result = "Actual events differ from any expected.";
  std::string result_close = "TCP connection was dropped without close handshake";
};

// The official judgement: the behaviour is the verdict of the first expected sequence equal to
// what was received (`outcome.behavior` unchanged when none is), the close verdict checks who
// closed first, cleanliness, the code, and (client role) who dropped TCP.
void judge(const std::vector<std::pair<Verdict, Events>>& expected, const Events& received,
           const ExpectedClose& expected_close, const CloseRecord& close, bool fuzzer_is_client,
           Outcome& outcome);

}  // namespace fastws::conformance
