// A program run by a test (a tool, an outside peer) as a child process: its standard output and
// error read through pipes, together or apart, and its standard input a pipe the test writes to
// when asked (else /dev/null). The destructor kills it (by its PID) and reaps it, so a failed
// assertion never leaves a process running.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace fastws::test {

class ChildProcess {
 public:
  struct Options {
    bool input = false;            // a pipe to its standard input (write_input, close_input)
    bool separate_errors = false;  // standard error apart (errors()), not mixed into output()
  };
  enum class Stream : std::uint8_t { output, errors };

  explicit ChildProcess(const std::vector<std::string>& argv) : ChildProcess(argv, Options{}) {}
  ChildProcess(const std::vector<std::string>& argv, Options options) {
    int out[2], err[2] = {-1, -1}, in[2] = {-1, -1};
    if (::pipe2(out, O_CLOEXEC) != 0) return;
    if (options.separate_errors && ::pipe2(err, O_CLOEXEC) != 0) return;
    if (options.input && ::pipe2(in, O_CLOEXEC) != 0) return;
    // A child that exits before reading all its input must fail the write, not kill the test.
    if (options.input) ::signal(SIGPIPE, SIG_IGN);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (options.input) {
      posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    } else {
      posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    }
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, options.separate_errors ? err[1] : out[1],
                                     STDERR_FILENO);
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    if (::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    out_ = out[0];
    if (options.separate_errors) {
      ::close(err[1]);
      err_ = err[0];
    }
    if (options.input) {
      ::close(in[0]);
      in_ = in[1];
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() {
    if (pid_ > 0 && !exit_status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    for (int fd : {out_, err_, in_}) {
      if (fd >= 0) ::close(fd);
    }
  }

  pid_t pid() const { return pid_; }
  // What it printed so far: standard output (with standard error unless separate_errors).
  const std::string& output() const { return output_; }
  const std::string& errors() const { return errors_; }

  // Writes to its standard input (blocking); false if it cannot (no pipe, or it is gone).
  bool write_input(std::string_view text) {
    while (!text.empty()) {
      const ssize_t n = ::write(in_, text.data(), text.size());
      if (n <= 0) return false;
      text.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Ends its standard input.
  void close_input() {
    if (in_ >= 0) ::close(in_);
    in_ = -1;
  }

  // Reads until a whole line of `stream` contains `text`, and returns that line; nothing if
  // `timeout` passes first or the stream ends.
  std::optional<std::string> wait_for_line(const std::string& text,
                                           std::chrono::milliseconds timeout,
                                           Stream stream = Stream::output) {
    const auto deadline = Clock::now() + timeout;
    const std::string& seen = stream == Stream::output ? output_ : errors_;
    for (;;) {
      const auto at = seen.find(text);
      const auto end = at == std::string::npos ? at : seen.find('\n', at);
      if (end != std::string::npos) {
        const auto newline_before = seen.rfind('\n', at);
        const auto begin = newline_before == std::string::npos ? 0 : newline_before + 1;
        return seen.substr(begin, end - begin);
      }
      if (!read_some(deadline)) return std::nullopt;
    }
  }

  // Like wait_for_line on the output, but only after the last line this returned: waiting twice
  // for the same text needs it printed twice.
  std::optional<std::string> wait_for_next_line(const std::string& text,
                                                std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      const auto at = output_.find(text, consumed_);
      const auto end = at == std::string::npos ? at : output_.find('\n', at);
      if (end != std::string::npos) {
        const auto newline_before = output_.rfind('\n', at);
        const auto begin = newline_before == std::string::npos || newline_before < consumed_
                               ? consumed_
                               : newline_before + 1;
        consumed_ = end + 1;
        return output_.substr(begin, end - begin);
      }
      if (!read_some(deadline)) return std::nullopt;
    }
  }

  // The number right after `marker` in the first line of `stream` that holds it (a port:
  // "listening on 127.0.0.1:" PORT), once printed; 0 if not within `timeout`.
  std::uint16_t wait_for_port(const std::string& marker, std::chrono::milliseconds timeout,
                              Stream stream = Stream::output) {
    const auto line = wait_for_line(marker, timeout, stream);
    if (!line) return 0;
    unsigned long port = 0;
    for (auto at = line->find(marker) + marker.size(); at < line->size(); ++at) {
      if ((*line)[at] < '0' || (*line)[at] > '9') break;
      port = port * 10 + static_cast<unsigned long>((*line)[at] - '0');
      if (port > 65535) return 0;
    }
    return static_cast<std::uint16_t>(port);
  }

  // Asks it to end (SIGTERM), as a service manager would.
  void terminate() const {
    if (pid_ > 0) ::kill(pid_, SIGTERM);
  }
  // SIGTERM (again), then its exit code within `timeout`; nothing if it had to be killed.
  std::optional<int> stop(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    terminate();
    return wait_exit(timeout);
  }

  // SIGTERM over and over, every 50 us, until it exits (as a supervisor repeating the signal or
  // a user pressing Ctrl-C twice would), so that one lands while the program tears down after
  // its graceful stop; its exit code as for wait_exit(). Only for programs that print little:
  // its output is not read meanwhile.
  std::optional<int> stop_insistently(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return exit_status_;
      }
      ::kill(pid_, SIGTERM);
      ::usleep(50);
    }
    return std::nullopt;
  }

  // Reads all output and waits for the exit; returns the exit code (128 + the signal's number
  // when a signal ended it), or nothing (the child is then killed by the destructor) if it did
  // not exit within `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (read_some(deadline)) {
    }
    // The pipes end with the exit, or the deadline came; it may also come up to a millisecond
    // early (poll() counts whole ones), with the child still running: the status is not waited
    // for beyond the deadline.
    for (;;) {
      int status = 0;
      const pid_t ended = ::waitpid(pid_, &status, WNOHANG);
      if (ended == pid_) {
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return exit_status_;
      }
      if (ended < 0 || Clock::now() >= deadline) return std::nullopt;
      ::usleep(1000);
    }
  }

 private:
  using Clock = std::chrono::steady_clock;

  // Appends what the pipes hold; false once both ended, or at the deadline.
  bool read_some(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if ((out_ < 0 && err_ < 0) || left.count() <= 0) return false;
    pollfd ready[2] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}};  // poll skips a negative fd
    if (::poll(ready, 2, static_cast<int>(left.count())) <= 0) return false;
    if (ready[0].revents != 0) read_into(out_, output_);
    if (ready[1].revents != 0) read_into(err_, errors_);
    return true;
  }

  static void read_into(int& fd, std::string& text) {
    char buffer[65536];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      text.append(buffer, static_cast<std::size_t>(n));
    } else {
      ::close(fd);
      fd = -1;
    }
  }

  pid_t pid_ = -1;
  int out_ = -1;
  int err_ = -1;
  int in_ = -1;
  std::string output_;
  std::string errors_;
  std::optional<int> exit_status_;
  std::size_t consumed_ = 0;  // output_ up to here was returned by wait_for_next_line
};

}  // namespace fastws::test
