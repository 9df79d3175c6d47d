// fastws_bench: a load generator for WebSocket (and plain TCP) echo servers.
//
//   fastws_bench echo --port N [--connections 100 --size 16 --pipeline 1|K|0 --duration 5 ...]
//   fastws_bench idle --port N [--connections 10000 --server-pid PID ...]
//
// It has to be much cheaper per message than the server it measures, so every byte it sends is
// built before the run, writes are large batches, and echoes are checked by comparing bytes
// rather than parsing frames. See tools/bench/ for the pieces.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "bench/echo_command.hpp"
#include "bench/flags.hpp"
#include "bench/idle_command.hpp"

namespace {

void print_usage(const std::vector<fastws::bench::Flag>& echo_flags,
                 const std::vector<fastws::bench::Flag>& idle_flags) {
  std::printf(
      "usage: fastws_bench echo|idle --port N [flags]\n\n"
      "echo: echo messages per second (median of 1 s samples), and per server CPU-second\n%s\n"
      "idle: server resident memory per idle open connection\n%s",
      fastws::bench::flags_help(echo_flags).c_str(), fastws::bench::flags_help(idle_flags).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  fastws::bench::EchoOptions echo;
  fastws::bench::IdleOptions idle;
  const auto echo_flags = fastws::bench::echo_flags(echo);
  const auto idle_flags = fastws::bench::idle_flags(idle);
  const std::string_view command = argc > 1 ? argv[1] : "";
  if (command != "echo" && command != "idle") {
    print_usage(echo_flags, idle_flags);
    return command == "--help" || command == "-h" ? 0 : 2;
  }
  std::string error;
  if (!fastws::bench::apply_flags(argc, argv, 2, command == "echo" ? echo_flags : idle_flags,
                                  error)) {
    std::fprintf(stderr, "fastws_bench %s: %s (see fastws_bench --help)\n", argv[1], error.c_str());
    return 2;
  }
  return command == "echo" ? fastws::bench::run_echo(echo) : fastws::bench::run_idle(idle);
}
