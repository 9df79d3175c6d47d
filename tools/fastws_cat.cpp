// fastws-cat: a command-line WebSocket client and server, in the spirit of websocat and wscat.
//
//   fastws-cat [options] ws[s]://host[:port]/path     send input lines, print what arrives
//   fastws-cat --listen [HOST:]PORT [--one]             serve clients the same way
//
// Each exit code names one way of failing (cat/exit_codes.hpp; --help lists them). The parts are
// in tools/cat/.
#include <signal.h>

#include <cstdio>
#include <string>

#include "cat/connect_mode.hpp"
#include "cat/diagnostics.hpp"
#include "cat/exit_codes.hpp"
#include "cat/listen_mode.hpp"
#include "cat/options.hpp"
#include "cat/wakeup.hpp"

int main(int argc, char** argv) {
  using namespace fastws::cat;
  const CommandLine command_line = parse_command_line(argc, argv);
  switch (command_line.outcome) {
    case CommandLine::Outcome::help:
      std::fputs(usage().c_str(), stdout);
      return exit_ok;
    case CommandLine::Outcome::usage_error:
      print_error(command_line.error + " (see fastws-cat --help)");
      return exit_usage;
    case CommandLine::Outcome::run:
      break;
  }
  // A reader that went away (`fastws-cat ... | head -1`) fails a write, reported as such.
  ::signal(SIGPIPE, SIG_IGN);
  const Wakeup wakeup;
  const CatOptions& options = command_line.options;
  return options.listen ? run_listen(options, wakeup) : run_connect(options, wakeup);
}
