// fastws-conformance: an Autobahn-equivalent WebSocket conformance runner. It plays the
// official suite's case catalogue (same case numbers, same verdicts) against an implementation:
//
//   fastws-conformance test-server URL [--cases PATTERNS] [--report DIR] [--agent NAME]
//                                      [--require-ok] [--chop-pause-us N] [--jobs N]
//                                      [--ca FILE | --insecure]
//       the fuzzing client: tests the server at URL (ws://host:port/path or wss://...), each
//       case on a fresh connection, N cases at a time (default: the number of cores; the 9.x
//       cases, whose durations are performance figures, each with no other); wss:// checks the
//       server's certificate against the CAs in FILE (default: the system's), or not at all
//   fastws-conformance test-client [--port N] [--host H] [--cases PATTERNS] [--report DIR]
//                                  [--require-ok] [--once] [--cert FILE --key FILE]
//       the fuzzing server: a client under test connects to ws://H:N/ (127.0.0.1:9001) as to
//       the official one: /getCaseCount, /runCase?case=N&agent=A, /updateReports?agent=A;
//       a client may play several cases at a time (the 9.x cases wait until they are alone);
//       with --cert and --key (PEM) to wss://H:N/
//   fastws-conformance list [--cases PATTERNS]
//       the catalogue: case ids and descriptions
//
// PATTERNS: comma-separated case ids and globs, "-" excludes: "1.*,9.1.*,12.2.3", "*,-9.*".
// Prints a line per case and a summary; writes DIR/index.json (agent -> case -> behavior,
// behaviorClose, duration, remoteCloseCode, reportfile), a JSON file per case and
// DIR/index.html. Exit status: 0 when every case passed (OK, NON-STRICT, INFORMATIONAL, or
// UNIMPLEMENTED when the peer declines permessage-deflate) and closed as expected, 1 when a
// case FAILED or closed FAILED / UNCLEAN / WRONG CODE (with --require-ok: anything but OK, and
// INFORMATIONAL where that is the only outcome), 2 on a usage error.
#include <cstdio>
#include <string>
#include <string_view>

#include "bench/flags.hpp"
#include "conformance/catalogue.hpp"
#include "conformance/test_client_command.hpp"
#include "conformance/test_server_command.hpp"

namespace {

using fastws::bench::Flag;

constexpr const char* usage =
    "usage: fastws-conformance test-server URL [--cases PATTERNS] [--report DIR] [--agent NAME]\n"
    "                                          [--require-ok] [--chop-pause-us N] [--jobs N]\n"
    "                                          [--ca FILE | --insecure]\n"
    "       fastws-conformance test-client [--port N] [--host H] [--cases PATTERNS] [--report "
    "DIR]\n"
    "                                      [--require-ok] [--once] [--cert FILE --key FILE]\n"
    "       fastws-conformance list [--cases PATTERNS]\n";

int list_cases(const std::string& patterns) {
  const auto catalogue = fastws::conformance::build_catalogue();
  std::string error;
  const auto selected = fastws::conformance::select_cases(catalogue, patterns, error);
  if (selected.empty()) {
    std::fprintf(stderr, "fastws-conformance: %s\n", error.c_str());
    return 2;
  }
  for (const auto* spec : selected) {
    std::printf("%-8s %s\n", spec->id.c_str(), spec->description.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view command = argc > 1 ? argv[1] : "";
  if (command.empty() || command == "--help" || command == "-h") {
    std::printf("%s", usage);
    return command.empty() ? 2 : 0;
  }
  std::string error;
  if (command == "list") {
    std::string patterns = "*";
    const std::vector<Flag> flags = {
        fastws::bench::string_flag("cases", patterns, "case patterns (all)")};
    if (!fastws::bench::apply_flags(argc, argv, 2, flags, error)) {
      std::fprintf(stderr, "fastws-conformance list: %s\n%s", error.c_str(), usage);
      return 2;
    }
    return list_cases(patterns);
  }
  if (command == "test-server") {
    fastws::conformance::TestServerOptions options;
    if (argc < 3 || std::string_view(argv[2]).starts_with("--")) {
      std::fprintf(stderr, "fastws-conformance test-server: missing URL\n%s", usage);
      return 2;
    }
    options.url = argv[2];
    const std::vector<Flag> flags = {
        fastws::bench::string_flag("cases", options.cases, "case patterns (all)"),
        fastws::bench::string_flag("report", options.report_directory,
                                   "report directory (reports/servers)"),
        fastws::bench::string_flag("agent", options.agent,
                                   "name in the reports (the server's Server field)"),
        fastws::bench::switch_flag("require-ok", options.require_ok,
                                   "fail on anything but OK (and INFORMATIONAL where that is "
                                   "the only outcome)"),
        fastws::bench::uint_flag("chop-pause-us", options.chop_pause_us, 0, 1'000'000,
                                 "pause after each chopped or sync write (1000)"),
        fastws::bench::uint_flag("jobs", options.jobs, 1, 256,
                                 "cases played at a time (the number of cores)"),
        fastws::bench::string_flag("ca", options.ca_file,
                                   "wss://: trusted CAs, a PEM file (the system's)"),
        fastws::bench::switch_flag("insecure", options.insecure,
                                   "wss://: do not check the server's certificate"),
    };
    if (!fastws::bench::apply_flags(argc, argv, 3, flags, error)) {
      std::fprintf(stderr, "fastws-conformance test-server: %s\n%s%s", error.c_str(), usage,
                   fastws::bench::flags_help(flags).c_str());
      return 2;
    }
    if (options.insecure && !options.ca_file.empty()) {
      std::fprintf(stderr,
                   "fastws-conformance test-server: --ca and --insecure exclude each other\n");
      return 2;
    }
    return fastws::conformance::run_test_server(options);
  }
  if (command == "test-client") {
    fastws::conformance::TestClientOptions options;
    const std::vector<Flag> flags = {
        fastws::bench::uint_flag("port", options.port, 0, 65535,
                                 "port to listen on (9001; 0: any)"),
        fastws::bench::string_flag("host", options.host, "IPv4 address to listen on (127.0.0.1)"),
        fastws::bench::string_flag("cases", options.cases, "case patterns (all)"),
        fastws::bench::string_flag("report", options.report_directory,
                                   "report directory (reports/clients)"),
        fastws::bench::switch_flag("require-ok", options.require_ok,
                                   "fail on anything but OK (and INFORMATIONAL where that is "
                                   "the only outcome)"),
        fastws::bench::switch_flag("once", options.once,
                                   "exit after the first /updateReports, with the run's status"),
        fastws::bench::uint_flag("chop-pause-us", options.chop_pause_us, 0, 1'000'000,
                                 "pause after each chopped or sync write (1000)"),
        fastws::bench::string_flag("cert", options.certificate_file,
                                   "serve wss://: certificate chain (PEM)"),
        fastws::bench::string_flag("key", options.key_file, "serve wss://: private key (PEM)"),
    };
    if (!fastws::bench::apply_flags(argc, argv, 2, flags, error)) {
      std::fprintf(stderr, "fastws-conformance test-client: %s\n%s%s", error.c_str(), usage,
                   fastws::bench::flags_help(flags).c_str());
      return 2;
    }
    if (options.certificate_file.empty() != options.key_file.empty()) {
      std::fprintf(stderr, "fastws-conformance test-client: --cert and --key go together\n");
      return 2;
    }
    return fastws::conformance::run_test_client(options);
  }
  std::fprintf(stderr, "fastws-conformance: unknown command '%s'\n%s", argv[1], usage);
  return 2;
}
