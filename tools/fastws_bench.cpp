// fastws_bench: a load generator for WebSocket (and plain TCP) echo and broadcast servers.
//
//   fastws_bench echo --port N [--connections 100 --size 16 --pipeline 1|K|0 --duration 5 ...]
//   fastws_bench idle --port N [--connections 10000 --server-pid PID ...]
//   fastws_bench broadcast --port N [--connections 1000 --size 1024 --window 32 --queued M ...]
//
// It has to be much cheaper per message than the server it measures, so every byte it sends is
// built before the run, writes are large batches, and echoes are checked by comparing bytes
// rather than parsing frames. See tools/bench/ for the pieces.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "bench/broadcast_command.hpp"
#include "bench/echo_command.hpp"
#include "bench/flags.hpp"
#include "bench/idle_command.hpp"

namespace {

void print_usage(const std::vector<fastws::bench::Flag>& echo_flags,
                 const std::vector<fastws::bench::Flag>& idle_flags,
                 const std::vector<fastws::bench::Flag>& broadcast_flags) {
  std::printf(
      "usage: fastws_bench echo|idle|broadcast --port N [flags]\n\n"
      "echo: echo messages per second (median of 1 s samples), and per server CPU-second\n%s\n"
      "idle: server resident memory per idle open connection\n%s\n"
      "broadcast: deliveries per second of one message to many connections, or (--queued) "
      "server memory per queued delivery\n%s",
      fastws::bench::flags_help(echo_flags).c_str(), fastws::bench::flags_help(idle_flags).c_str(),
      fastws::bench::flags_help(broadcast_flags).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  fastws::bench::EchoOptions echo;
  fastws::bench::IdleOptions idle;
  const auto echo_flags = fastws::bench::echo_flags(echo);
  const auto idle_flags = fastws::bench::idle_flags(idle);
  fastws::bench::BroadcastOptions broadcast;
  const auto broadcast_flags = fastws::bench::broadcast_flags(broadcast);
  const std::string_view command = argc > 1 ? argv[1] : "";
  if (command != "echo" && command != "idle" && command != "broadcast") {
    print_usage(echo_flags, idle_flags, broadcast_flags);
    return command == "--help" || command == "-h" ? 0 : 2;
  }
  std::string error;
  const auto& flags = command == "echo"   ? echo_flags
                      : command == "idle" ? idle_flags
                                          : broadcast_flags;
  if (!fastws::bench::apply_flags(argc, argv, 2, flags, error)) {
    std::fprintf(stderr, "fastws_bench %s: %s (see fastws_bench --help)\n", argv[1], error.c_str());
    return 2;
  }
  if (command == "broadcast") return fastws::bench::run_broadcast(broadcast);
  return command == "echo" ? fastws::bench::run_echo(echo) : fastws::bench::run_idle(idle);
}
