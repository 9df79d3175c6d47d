// fastws_bench: a load generator for WebSocket (and plain TCP) echo and broadcast servers.
//
//   fastws_bench echo --port N [--connections 100 --size 16 --pipeline 1|K|0 --deflate ...]
//   fastws_bench idle --port N [--connections 10000 --server-pid PID ...]
//   fastws_bench broadcast --port N [--connections 1000 --size 1024 --window 32 --queued M ...]
//   fastws_bench rate --port N [--connections 100 --rate 10000 --duration 10 ...]
//   fastws_bench handshakes --port N [--concurrency 32 --duration 5 ...]
//   fastws_bench churn --port N --server-pid PID [--connections 10000 --churn 200 --duration 600]
//
// It has to be much cheaper per message than the server it measures, so every byte it sends is
// built before the run, writes are large batches, and echoes are checked by comparing bytes
// rather than parsing frames. See tools/bench/ for the pieces.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "bench/broadcast_command.hpp"
#include "bench/churn_command.hpp"
#include "bench/echo_command.hpp"
#include "bench/flags.hpp"
#include "bench/handshakes_command.hpp"
#include "bench/idle_command.hpp"
#include "bench/rate_command.hpp"

namespace {

// One subcommand: its name, what it measures, its flags, and how to run it once they are set.
struct Command {
  std::string_view name;
  std::string_view summary;
  std::vector<fastws::bench::Flag> flags;
  int (*run)(const void* options);
  const void* options;
};

template <typename Options, int (*Run)(const Options&)>
int run_with(const void* options) {
  return Run(*static_cast<const Options*>(options));
}

void print_usage(const std::vector<Command>& commands) {
  std::printf("usage: fastws_bench echo|idle|broadcast|rate|handshakes|churn --port N [flags]\n");
  for (const Command& command : commands) {
    std::printf("\n%.*s: %.*s\n%s", static_cast<int>(command.name.size()), command.name.data(),
                static_cast<int>(command.summary.size()), command.summary.data(),
                fastws::bench::flags_help(command.flags).c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace fastws::bench;
  EchoOptions echo;
  IdleOptions idle;
  BroadcastOptions broadcast;
  RateOptions rate;
  HandshakeOptions handshakes;
  ChurnOptions churn;
  const std::vector<Command> commands = {
      {"echo", "echo messages per second (median of 1 s samples), and per server CPU-second",
       echo_flags(echo), run_with<EchoOptions, run_echo>, &echo},
      {"idle", "server resident memory per idle open connection", idle_flags(idle),
       run_with<IdleOptions, run_idle>, &idle},
      {"broadcast",
       "deliveries per second of one message to many connections, or (--queued) server memory "
       "per queued delivery",
       broadcast_flags(broadcast), run_with<BroadcastOptions, run_broadcast>, &broadcast},
      {"rate",
       "tcpkali's rated test: messages sent at a fixed rate, MiB and messages sent and echoed, "
       "server CPU",
       rate_flags(rate), run_with<RateOptions, run_rate>, &rate},
      {"handshakes",
       "connections opened, upgraded and closed per second, and per server CPU-second",
       handshake_flags(handshakes), run_with<HandshakeOptions, run_handshakes>, &handshakes},
      {"churn",
       "server memory while a population of connections is replaced at a steady rate, with "
       "traffic",
       churn_flags(churn), run_with<ChurnOptions, run_churn>, &churn},
  };
  const std::string_view name = argc > 1 ? argv[1] : "";
  for (const Command& command : commands) {
    if (command.name != name) continue;
    std::string error;
    if (!apply_flags(argc, argv, 2, command.flags, error)) {
      std::fprintf(stderr, "fastws_bench %s: %s (see fastws_bench --help)\n", argv[1],
                   error.c_str());
      return 2;
    }
    return command.run(command.options);
  }
  print_usage(commands);
  return name == "--help" || name == "-h" ? 0 : 2;
}
