// The flags every fastws_bench subcommand shares: where the server is (--host, --port, --path)
// and how to talk to it (--mode). A subcommand's flag table starts with them.
#pragma once

#include <cstdio>
#include <iterator>
#include <string_view>
#include <vector>

#include "connector.hpp"
#include "flags.hpp"

namespace fastws::bench {

// A subcommand's flag table: --host, --port, --path and --mode, stored into `target`, then
// `own_flags`. `mode_help` says what ws and tcp mean for the subcommand; like every help text it
// must outlive the table (a string literal).
inline std::vector<Flag> flags_with_target(Target& target, std::string_view mode_help,
                                           std::vector<Flag> own_flags) {
  std::vector<Flag> flags = {
      string_flag("host", target.host, "server IPv4 address (127.0.0.1)"),
      uint_flag("port", target.port, 1, 65535, "server port (required)"),
      string_flag("path", target.path, "request path in ws mode (/)"),
      {"mode", [&target](std::string_view v) { return parse_mode(v, target.mode); }, mode_help},
  };
  flags.insert(flags.end(), std::make_move_iterator(own_flags.begin()),
               std::make_move_iterator(own_flags.end()));
  return flags;
}

// --deflate, for the subcommands whose messages may be compressed.
inline Flag deflate_flag(Target& target) {
  return switch_flag("deflate", target.deflate,
                     "ws mode: offer permessage-deflate with no context takeover; a server "
                     "that does not accept it fails the run");
}

// --port has no default: without it, says so as "<command>: --port is required" and returns false.
inline bool has_required_port(const Target& target, const char* command) {
  if (target.port != 0) return true;
  std::fprintf(stderr, "%s: --port is required\n", command);
  return false;
}

}  // namespace fastws::bench
