// Runs a shell command for the tests that drive outside peers (python3-websockets, browsers)
// and keeps what it printed, so a failing test can show the peer's own account.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace fastws::test {

// Runs `command` with /bin/sh, appends its standard output to `output` and returns its exit
// status; -1 when it could not start or did not exit normally (killed by a signal). Callers
// add "2>&1" to keep its errors too, and bound it themselves (coreutils `timeout`).
inline int run_command(const std::string& command, std::string& output) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  char chunk[512];
  while (std::fgets(chunk, sizeof chunk, pipe) != nullptr) output += chunk;
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace fastws::test
