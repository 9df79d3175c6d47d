// What an attack is to fastws_attack: the server it runs against, the client beside it, the
// memory bound it is held to, and the function that runs it. Each attack is bounded in count and
// time, and ends early when asked (the server passed the RSS cap, or died).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "well_behaved_client.hpp"

namespace fastws::attack {

// A server program, found under the build directory, started with `args` and "--port 0".
struct ServerSpec {
  std::string name;    // for the table: "echo", "echo --compress"
  std::string binary;  // relative to the build directory
  std::vector<std::string> args;
  ClientProtocol client;
};

struct AttackContext {
  std::uint16_t port = 0;
  const std::atomic<bool>* stop = nullptr;  // end early when set

  bool stopped() const noexcept { return stop->load(std::memory_order_relaxed); }
};

// A verdict an attack reaches on its own ("closed 1009", "no damaged message"): like the memory
// bound, a failed one fails the run.
struct Check {
  std::string what;
  bool ok = false;
};

struct AttackOutcome {
  std::string details;  // " key=value" pairs for the result line
  std::vector<Check> checks;
  std::string error;  // the attack itself could not run (not a verdict on the server)

  void add(const std::string& key, const std::string& value) { details += " " + key + "=" + value; }
  void add(const std::string& key, std::uint64_t value) { add(key, std::to_string(value)); }
  void check(std::string what, bool ok) { checks.push_back({std::move(what), ok}); }
};

struct Attack {
  std::string name;  // one word for --only and the table: "http-pipeline"
  std::string what;  // one line for the result
  ServerSpec server;
  std::optional<double> max_peak_rss_mib;  // the memory bound; nothing: none
  std::function<AttackOutcome(const AttackContext&)> run;
};

}  // namespace fastws::attack
