// fastws_attack: runs the attacks of issue 16 against fresh server processes and prints, per
// attack, the server's peak RSS, its file descriptors before and after, its CPU after the
// attack, and the round trips of a well-behaved client beside the attack (p50/p99/max, failures).
//
//   fastws_attack [--quick] [--only NAME,NAME] [--build-dir build/release] [--list]
//                 [--server-cpu 0 --client-cpu 1 | --no-pin] [--rss-cap-mib N] [--rss-bound-mib N]
//   bench/run_attack.sh [same flags]   (builds what it needs first)
//
// Each attack starts its own server (examples/echo, chat, topics of the build directory, and
// bench/streamed_echo_server) with one event loop, pinned to --server-cpu, while this process
// (the attack and the well-behaved client, one thread each) is pinned to --client-cpu; without
// two usable CPUs nothing is pinned. The well-behaved client sends a 64-byte message every
// 10-100 ms and waits 2 s at most for each reply.
//
// Every attack is bounded in count and time, and is stopped early when the server's RSS passes
// --rss-cap-mib (1024; 512 in quick mode). Each has a memory bound (peak server RSS; 256 MiB for
// 30 connections holding compressed messages, 64 MiB for the others), a no-fd-leak bound, and
// its own checks (no damaged streamed message, close 1009 on a deflate bomb, every slowloris
// connection cut). Times are printed, never judged. Exit status: 0 when every bound and check
// held, 1 when one failed or an attack could not run, 2 on a usage error.
//
// --quick runs the cheap sizes only (about a minute on two cores); the full run adds 50
// assembling connections, 20k and 40k topic joins, and 10 s floods instead of 3 s.
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "attack/attack_plan.hpp"
#include "attack/measure.hpp"
#include "attack/report.hpp"
#include "bench/flags.hpp"

namespace {

struct Options {
  fastws::attack::RunConfig run;
  bool quick = false;
  bool list = false;
  bool no_pin = false;
  std::string only;
  unsigned server_cpu = 0;
  unsigned client_cpu = 1;
  unsigned rss_cap_mib = 0;    // 0: the mode's default
  unsigned rss_bound_mib = 0;  // 0: each attack's own bound
};

std::vector<fastws::bench::Flag> flags(Options& o) {
  using fastws::bench::string_flag;
  using fastws::bench::switch_flag;
  using fastws::bench::uint_flag;
  return {
      switch_flag("quick", o.quick, "the cheap sizes only (about a minute)"),
      string_flag("only", o.only, "comma-separated attack names (all)"),
      switch_flag("list", o.list, "list the attacks and their bounds, run nothing"),
      string_flag("build-dir", o.run.build_dir, "where the servers are built (build/release)"),
      uint_flag("server-cpu", o.server_cpu, 0, 4095, "core for the server (0)"),
      uint_flag("client-cpu", o.client_cpu, 0, 4095, "core for attacks and client (1)"),
      switch_flag("no-pin", o.no_pin, "pin nothing"),
      uint_flag("rss-cap-mib", o.rss_cap_mib, 16, 1u << 20,
                "stop an attack at this server RSS (1024; quick 512)"),
      uint_flag("rss-bound-mib", o.rss_bound_mib, 1, 1u << 20,
                "one memory bound for every attack (each its own)"),
  };
}

// Pins this process to the client core and returns the server's, when both are usable.
std::optional<int> pin(const Options& options) {
  cpu_set_t allowed;
  if (options.no_pin || options.server_cpu == options.client_cpu ||
      sched_getaffinity(0, sizeof allowed, &allowed) != 0 ||
      !CPU_ISSET(options.server_cpu, &allowed) || !CPU_ISSET(options.client_cpu, &allowed)) {
    std::printf("(not pinned: --no-pin, or CPUs %u and %u are not both usable)\n",
                options.server_cpu, options.client_cpu);
    return std::nullopt;
  }
  cpu_set_t client;
  CPU_ZERO(&client);
  CPU_SET(options.client_cpu, &client);
  sched_setaffinity(0, sizeof client, &client);
  std::printf("(server on CPU %u; attacks and the well-behaved client on CPU %u)\n",
              options.server_cpu, options.client_cpu);
  return static_cast<int>(options.server_cpu);
}

// The attacks --only names, in plan order; false (with `error`) for a name that is not one.
bool select(std::vector<fastws::attack::Attack>& plan, const std::string& only,
            std::string& error) {
  if (only.empty()) return true;
  std::set<std::string> names;
  std::istringstream list(only);
  for (std::string name; std::getline(list, name, ',');) names.insert(name);
  std::vector<fastws::attack::Attack> chosen;
  for (auto& attack : plan) {
    if (names.erase(attack.name) != 0) chosen.push_back(std::move(attack));
  }
  if (!names.empty()) {
    error = "no attack named '" + *names.begin() + "' in this mode (see --list)";
    return false;
  }
  plan = std::move(chosen);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  const auto table = flags(options);
  const std::string_view first = argc > 1 ? argv[1] : "";
  if (first == "--help" || first == "-h") {
    std::printf("usage: fastws_attack [flags]\n%s", fastws::bench::flags_help(table).c_str());
    return 0;
  }
  std::string error;
  if (!fastws::bench::apply_flags(argc, argv, 1, table, error)) {
    std::fprintf(stderr, "fastws_attack: %s (see fastws_attack --help)\n", error.c_str());
    return 2;
  }
  auto plan = fastws::attack::attack_plan(options.quick);
  if (!select(plan, options.only, error)) {
    std::fprintf(stderr, "fastws_attack: %s\n", error.c_str());
    return 2;
  }
  if (options.list) {
    for (const auto& attack : plan) {
      std::printf("%-22s %-22s peak RSS under %.0f MiB: %s\n", attack.name.c_str(),
                  attack.server.name.c_str(), attack.max_peak_rss_mib.value_or(0),
                  attack.what.c_str());
    }
    return 0;
  }
  options.run.rss_cap_mib =
      options.rss_cap_mib != 0 ? options.rss_cap_mib : (options.quick ? 512 : 1024);
  if (options.rss_bound_mib != 0) options.run.rss_bound_mib = options.rss_bound_mib;
  if (options.quick) options.run.cpu_window = std::chrono::milliseconds(500);
  options.run.server_cpu = pin(options);

  std::vector<fastws::attack::AttackRow> rows;
  for (const auto& attack : plan) {
    rows.push_back(fastws::attack::measure(attack, options.run));
    fastws::attack::print_row(rows.back());
  }
  fastws::attack::print_table(rows);
  std::string failed;
  for (const auto& row : rows) {
    if (row.failed()) failed += " " + row.attack->name;
  }
  if (failed.empty()) {
    std::printf("every bound held (%zu attacks)\n", rows.size());
    return 0;
  }
  std::printf("FAILED:%s\n", failed.c_str());
  return 1;
}
