// A running example program (build/.../examples/NAME) for the tests that talk to the examples
// as users would: started with --port 0, its port read from the URL it prints.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace fastws::testing {

// A program started with its standard output on a pipe, read a line at a time (each wait
// bounded), and stopped with SIGTERM.
class ChildProcess {
 public:
  explicit ChildProcess(const std::vector<std::string>& argv) {
    int out[2];
    if (::pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      std::vector<const char*> args;
      for (const std::string& arg : argv) args.push_back(arg.c_str());
      args.push_back(nullptr);
      ::execv(args[0], const_cast<char* const*>(args.data()));
      std::_Exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
  }
  ~ChildProcess() {
    if (pid_ > 0 && !stopped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }

  // The next line it prints (without the newline), or nothing if none comes within `limit`.
  std::optional<std::string> next_line(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (const auto end = pending_.find('\n'); end != std::string::npos) {
        std::string line = pending_.substr(0, end);
        pending_.erase(0, end + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd entry{out_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&entry, 1, static_cast<int>(left.count())) != 1) return {};
      char chunk[512];
      const ssize_t n = ::read(out_, chunk, sizeof chunk);
      if (n <= 0) return {};
      pending_.append(chunk, static_cast<std::size_t>(n));
      output_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  // Reads lines until one contains `text`; false if none does within `limit`.
  bool wait_for_line(std::string_view text, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (auto line = next_line(std::chrono::duration_cast<std::chrono::milliseconds>(
               deadline - std::chrono::steady_clock::now()))) {
      if (line->find(text) != std::string::npos) return true;
    }
    return false;
  }
  // Everything it printed so far (for failure messages).
  const std::string& output() const { return output_; }

  void terminate() { ::kill(pid_, SIGTERM); }
  // SIGTERM (again), then the exit status within 5 s (-1 if it had to be killed).
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
  pid_t pid_ = -1;
  int out_ = -1;
  std::string pending_;  // read but not returned as a line yet
  std::string output_;
  bool stopped_ = false;
};

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
    const std::optional<std::string> line = process_->next_line(std::chrono::seconds(10));
    std::smatch match;
    if (line &&
        std::regex_search(*line, match, std::regex(R"(listening on wss?://127\.0\.0\.1:(\d+)/)"))) {
      port_ = static_cast<std::uint16_t>(std::stoi(match[1]));
    }
  }

  bool built() const { return process_ && process_->started(); }
  std::uint16_t port() const { return port_; }

  // Asks for a graceful stop: the example closes its connections with 1001.
  void terminate() { process_->terminate(); }
  // SIGTERM (again), then the exit status within 5 s (-1 if it had to be killed). Peers that are
  // still open should be gone by now, or the server waits for them up to its close timeout.
  int stop() { return process_->stop(); }

 private:
  std::optional<ChildProcess> process_;
  std::uint16_t port_ = 0;
};

#define START_EXAMPLE(variable, name, ...)                             \
  Example variable(name __VA_OPT__(, ) __VA_ARGS__);                   \
  if (!variable.built()) GTEST_SKIP() << name << " is not built here"; \
  ASSERT_NE(variable.port(), 0) << name << " did not print its URL"

}  // namespace fastws::testing
