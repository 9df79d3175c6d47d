// The server an attack runs against: a fresh process per attack, pinned to one core when asked,
// with its output in an unlinked temporary file (a pipe nobody reads could fill and block it).
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/socket.hpp"

namespace fastws::attack {

class ServerProcess {
 public:
  ServerProcess() = default;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() { stop(); }

  // Starts `argv` (argv[0] a path) with its soft fd limit raised to the hard one (slowloris opens
  // a thousand connections) and, if `cpu` is set, pinned to that core; then waits up to 10 s
  // for its "listening on ...:PORT" line. False with `error` set if it did not come.
  bool start(const std::vector<std::string>& argv, std::optional<int> cpu, std::string& error) {
    char name[] = "/tmp/fastws_attack_server_XXXXXX";
    output_ = bench::Fd(mkostemp(name, O_CLOEXEC));
    if (!output_) {
      error = bench::errno_text("mkostemp");
      return false;
    }
    unlink(name);
    // Everything the child needs is built before fork(): between fork and exec only system
    // calls run.
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    if (cpu) CPU_SET(static_cast<unsigned>(*cpu), &cpus);
    const int output = output_.get();
    pid_ = fork();
    if (pid_ < 0) {
      error = bench::errno_text("fork");
      return false;
    }
    if (pid_ == 0) {
      if (cpu) sched_setaffinity(0, sizeof cpus, &cpus);
      rlimit files{};
      if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
      }
      dup2(output, STDOUT_FILENO);
      dup2(output, STDERR_FILENO);
      execv(args[0], args.data());
      _exit(127);
    }
    return wait_until_listening(argv[0], error);
  }

  pid_t pid() const noexcept { return pid_; }
  std::uint16_t port() const noexcept { return port_; }

  // The process has exited (crashed, or was killed by the kernel): it is reaped here.
  bool exited() {
    if (pid_ <= 0) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
    exit_status_ = status;
    pid_ = -1;
    return true;
  }

  // How it ended, once exited() said so: "exit 1", "signal 9".
  std::string exit_text() const {
    if (!exit_status_) return "running";
    if (WIFSIGNALED(*exit_status_)) return "signal " + std::to_string(WTERMSIG(*exit_status_));
    return "exit " + std::to_string(WEXITSTATUS(*exit_status_));
  }

  // SIGTERM (the servers stop gracefully on it), then SIGKILL if it has not exited in 5 s.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!exited() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill();
  }

  // SIGKILL, at once.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    if (waitpid(pid_, &status, 0) == pid_) exit_status_ = status;
    pid_ = -1;
  }

  // What the server printed so far (for error messages).
  std::string output() const {
    std::string text;
    char buffer[4096];
    for (off_t at = 0;;) {
      const ssize_t n = pread(output_.get(), buffer, sizeof buffer, at);
      if (n <= 0) break;
      text.append(buffer, static_cast<std::size_t>(n));
      at += n;
    }
    return text;
  }

 private:
  bool wait_until_listening(const std::string& binary, std::string& error) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string text = output();
      const auto at = text.find("listening on ");
      const auto end = at == std::string::npos ? at : text.find('\n', at);
      if (end != std::string::npos) {
        const std::string line = text.substr(at, end - at);
        const std::string host = "127.0.0.1:";
        if (const auto address = line.find(host); address != std::string::npos) {
          port_ = static_cast<std::uint16_t>(std::atoi(line.c_str() + address + host.size()));
        }
        if (port_ != 0) return true;
        error = binary + " printed no 127.0.0.1 port in '" + line + "'";
        return false;
      }
      if (exited()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    error = binary + " did not print 'listening on' within 10 s (" + exit_text() +
            "); its output: " + output();
    return false;
  }

  bench::Fd output_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::optional<int> exit_status_;
};

}  // namespace fastws::attack
