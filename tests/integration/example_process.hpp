// A running example program (build/.../examples/NAME) for the tests that talk to the examples
// as users would: started with --port 0, its port read from the URL it prints.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace fastws::testing {

// A running example: started with --port 0 (and `flags`), its port read from the line it prints.
class Example {
 public:
  explicit Example(const std::string& name, const std::vector<std::string>& flags = {}) {
    path_ = std::string(FASTWS_BINARY_DIR) + "/examples/" + name;
    if (::access(path_.c_str(), X_OK) != 0) return;
    int out[2];
    if (::pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      std::vector<const char*> argv = {path_.c_str(), "--port", "0", "--threads", "1"};
      for (const std::string& flag : flags) argv.push_back(flag.c_str());
      argv.push_back(nullptr);
      ::execv(path_.c_str(), const_cast<char* const*>(argv.data()));
      std::_Exit(127);
    }
    ::close(out[1]);
    output_ = ::fdopen(out[0], "r");
    char line[512];
    if (output_ != nullptr && std::fgets(line, sizeof line, output_) != nullptr) {
      std::smatch match;
      const std::string text(line);
      if (std::regex_search(text, match,
                            std::regex(R"(listening on wss?://127\.0\.0\.1:(\d+)/)"))) {
        port_ = static_cast<std::uint16_t>(std::stoi(match[1]));
      }
    }
  }
  ~Example() {
    if (pid_ > 0 && !stopped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (output_ != nullptr) std::fclose(output_);
  }

  bool built() const { return pid_ > 0; }
  std::uint16_t port() const { return port_; }

  // Asks for a graceful stop: the example closes its connections with 1001.
  void terminate() { ::kill(pid_, SIGTERM); }
  // SIGTERM (again), then the exit status within 5 s (-1 if it had to be killed). Peers that are
  // still open should be gone by now, or the server waits for them up to its close timeout.
  int stop() {
    stopped_ = true;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 500; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_)
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    return -1;
  }

 private:
  std::string path_;
  pid_t pid_ = -1;
  FILE* output_ = nullptr;
  std::uint16_t port_ = 0;
  bool stopped_ = false;
};

#define START_EXAMPLE(variable, name, ...)                             \
  Example variable(name __VA_OPT__(, ) __VA_ARGS__);                   \
  if (!variable.built()) GTEST_SKIP() << name << " is not built here"; \
  ASSERT_NE(variable.port(), 0) << name << " did not print its URL"

}  // namespace fastws::testing
