// A running example program (build/.../examples/NAME) for the tests that talk to the examples
// as users would: started with --port 0, its port read from the URL it prints.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "support/child_process.hpp"

namespace fastws::testing {

std::string example_path(const std::string& name) {
  return std::string(FASTWS_BINARY_DIR) + "/examples/" + name;
}

// A running example: started with --port 0 (and `flags`; a later --port wins), its port read
// from the line it prints.
class Example {
 public:
  explicit Example(const std::string& name, const std::vector<std::string>& flags = {}) {
    const std::string path = example_path(name);
    if (::access(path.c_str(), X_OK) != 0) return;
    std::vector<std::string> argv = {path, "--port", "0", "--threads", "1"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    process_.emplace(argv);
    const std::optional<std::string> line =
        process_->wait_for_next_line("listening on ", std::chrono::seconds(10));
    std::smatch match;
    if (line &&
        std::regex_search(*line, match, std::regex(R"(listening on wss?://127\.0\.0\.1:(\d+)/)"))) {
      port_ = static_cast<std::uint16_t>(std::stoi(match[1]));
    }
  }

  bool built() const { return process_ && process_->pid() > 0; }
  std::uint16_t port() const { return port_; }

  // Asks for a graceful stop: the example closes its connections with 1001.
  void terminate() { process_->terminate(); }
  // SIGTERM (again), then the exit status within 5 s (-1 if it had to be killed). Peers that are
  // still open should be gone by now, or the server waits for them up to its close timeout.
  int stop() { return process_->stop().value_or(-1); }
  // SIGTERM every 50 us until it exits; the exit status (-1 if it had to be killed).
  int stop_insistently() { return process_->stop_insistently().value_or(-1); }
  // The exit status if it ends by itself within `timeout`, else -1 (it goes on running).
  int exit_status_within(std::chrono::milliseconds timeout) {
    return process_->wait_exit(timeout).value_or(-1);
  }

 private:
  std::optional<test::ChildProcess> process_;
  std::uint16_t port_ = 0;
};

#define START_EXAMPLE(variable, name, ...)                             \
  Example variable(name __VA_OPT__(, ) __VA_ARGS__);                   \
  if (!variable.built()) GTEST_SKIP() << name << " is not built here"; \
  ASSERT_NE(variable.port(), 0) << name << " did not print its URL"

}  // namespace fastws::testing
