#include "conformance/verdict.hpp"

#include <algorithm>

namespace fastws::conformance {

std::string_view verdict_name(Verdict verdict) noexcept {
  switch (verdict) {
    case Verdict::ok:
      return "OK";
    case Verdict::non_strict:
      return "NON-STRICT";
    case Verdict::informational:
      return "INFORMATIONAL";
    case Verdict::unimplemented:
      return "UNIMPLEMENTED";
    case Verdict::failed:
      return "FAILED";
    case Verdict::wrong_code:
      return "WRONG CODE";
    case Verdict::unclean:
      return "UNCLEAN";
    case Verdict::failed_by_client:
      return "FAILED BY CLIENT";
  }
  return "FAILED";
}

void judge(const std::vector<std::pair<Verdict, Events>>& expected, const Events& received,
           const ExpectedClose& expected_close, const CloseRecord& close, bool fuzzer_is_client,
           Outcome& outcome) {
  for (const auto& [verdict, events] : expected) {
    if (events == received) {
      outcome.behavior = verdict;
      outcome.result = "Actual events match at least one expected.";
      break;
    }
  }
  if (!close.was_open) {
    outcome.behavior_close = Verdict::failed;
    outcome.result_close = "The WebSocket opening handshake was never completed!";
    return;
  }
  const auto& codes = expected_close.codes;
  if (expected_close.closed_by_me != close.closed_by_me) {
    outcome.behavior_close = Verdict::failed;
    outcome.result_close = "The connection was failed by the wrong endpoint";
  } else if (expected_close.require_clean && !close.was_clean) {
    outcome.behavior_close = Verdict::unclean;
    outcome.result_close = "The spec requires the connection to be failed cleanly here";
  } else if (close.remote_code &&
             std::find(codes.begin(), codes.end(), *close.remote_code) == codes.end()) {
    outcome.behavior_close = Verdict::wrong_code;
    outcome.result_close = "The close code should have been";
    for (std::size_t i = 0; i < codes.size(); ++i) {
      outcome.result_close += i == 0 ? " " : ",";
      outcome.result_close += std::to_string(codes[i]);
    }
    outcome.result_close += " or empty";
  } else if (fuzzer_is_client && close.dropped_by_me) {
    outcome.behavior_close = Verdict::failed_by_client;
    outcome.result_close = "It is preferred that the server close the TCP connection";
  } else {
    outcome.behavior_close = Verdict::ok;
    outcome.result_close = "Connection was properly closed";
  }
  if (expected_close.wrong_endpoint_is_fatal && expected_close.closed_by_me != close.closed_by_me) {
    outcome.behavior = Verdict::failed;
  }
}

}  // namespace fastws::conformance
