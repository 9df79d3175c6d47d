#include "cat/options.hpp"

#include <charconv>
#include <cmath>
#include <string_view>

#include "bench/flags.hpp"
#include "cat/exit_codes.hpp"

namespace fastws::cat {

namespace {

using bench::Flag;

// "Name: value" -> {"Name", "value"}; the space after the colon is optional.
bool parse_header(std::string_view text, std::vector<std::pair<std::string, std::string>>& out) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view value = text.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  out.emplace_back(std::string(text.substr(0, colon)), std::string(value));
  return true;
}

// Seconds, fractions allowed ("0.5"), from 0 to a day.
bool parse_seconds(std::string_view text, std::chrono::milliseconds& out) {
  double seconds = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(seconds) ||
      seconds < 0 || seconds > 86'400) {
    return false;
  }
  out = std::chrono::milliseconds(std::llround(seconds * 1000));
  return true;
}

// "[HOST:]PORT", "[::1]:PORT".
bool parse_listen(std::string_view text, CatOptions& options) {
  std::string_view host = "127.0.0.1";
  std::string_view port = text;
  if (text.starts_with('[')) {
    const auto close = text.find("]:");
    if (close == std::string_view::npos) return false;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  std::uint64_t number = 0;
  if (host.empty() || !bench::parse_uint(port, 0, 65535, number)) return false;
  options.listen = true;
  options.listen_host = host;
  options.listen_port = static_cast<std::uint16_t>(number);
  return true;
}

Flag value_flag(std::string_view name, std::string_view help,
                std::function<bool(std::string_view)> set) {
  return {name, std::move(set), help};
}

Flag seconds_flag(std::string_view name, std::chrono::milliseconds& target, std::string_view help) {
  return value_flag(name, help,
                    [&target](std::string_view text) { return parse_seconds(text, target); });
}

Flag clear_flag(std::string_view name, bool& target, std::string_view help) {
  return {name,
          [&target](std::string_view) {
            target = false;
            return true;
          },
          help, false};
}

std::vector<Flag> cat_flags(CatOptions& o, bool& help) {
  return {
      value_flag("header", "(-H) \"Name: value\", an extra request header; repeatable",
                 [&o](std::string_view text) { return parse_header(text, o.headers); }),
      value_flag("subprotocol", "a subprotocol to offer (listen: to accept); repeatable",
                 [&o](std::string_view text) {
                   o.subprotocols.emplace_back(text);
                   return !text.empty();
                 }),
      bench::string_flag("origin", o.origin, "the Origin header to send"),
      bench::switch_flag("compress", o.compress, "offer (listen: accept) permessage-deflate"),
      seconds_flag("ping-interval", o.ping_interval, "SECONDS: ping after this much silence"),
      seconds_flag("connect-timeout", o.connect_timeout,
                   "SECONDS: for the TCP connect, and again for the handshake (10)"),
      bench::switch_flag("insecure", o.insecure, "accept any server certificate (wss://)"),
      bench::string_flag("ca", o.ca_file, "FILE: trust these CAs (PEM) instead of the system's"),
      bench::string_flag("cert", o.certificate_file,
                         "FILE: client certificate (PEM; listen: the server's, for wss)"),
      bench::string_flag("key", o.key_file, "FILE: its private key (PEM)"),
      bench::string_flag("proxy", o.proxy,
                         "URL: http://[user:pass@]host:port or socks5://..., or \"env\""),
      bench::switch_flag("binary", o.binary_input, "send input lines as binary messages"),
      value_flag("binary-output", "hex (default: one line per message) or raw (bytes as is)",
                 [&o](std::string_view text) {
                   if (text != "hex" && text != "raw") return false;
                   o.binary_output = text == "hex" ? BinaryOutput::hex : BinaryOutput::raw;
                   return true;
                 }),
      bench::switch_flag("close-on-eof", o.close_on_eof,
                         "at the end of input close with 1000 and wait for the peer (default)"),
      clear_flag("no-close-on-eof", o.close_on_eof,
                 "at the end of input keep printing until the peer closes"),
      bench::switch_flag("show-close", o.show_close, "print the close code and reason"),
      bench::switch_flag("quiet", o.quiet, "(-q) no informational lines on standard error"),
      value_flag("listen", "[HOST:]PORT: serve clients instead (host 127.0.0.1 by default)",
                 [&o](std::string_view text) { return parse_listen(text, o); }),
      bench::switch_flag("one", o.one, "with --listen: serve one client, end when it leaves"),
      bench::switch_flag("help", help, "(-h) this text"),
  };
}

std::string_view long_name(std::string_view arg) {
  if (arg == "-H") return "--header";
  if (arg == "-q") return "--quiet";
  if (arg == "-h") return "--help";
  return arg;
}

// What the options mean together: one mode, and only the options of that mode.
std::string check_combination(const CatOptions& o) {
  if (o.listen == !o.url.empty()) {
    return o.listen ? "a URL and --listen: choose one" : "no URL given";
  }
  if (o.one && !o.listen) return "--one goes with --listen";
  if (o.certificate_file.empty() != o.key_file.empty()) return "--cert and --key go together";
  if (o.listen) {
    if (!o.headers.empty()) return "--header is for connecting, not with --listen";
    if (!o.origin.empty()) return "--origin is for connecting, not with --listen";
    if (!o.proxy.empty()) return "--proxy is for connecting, not with --listen";
    if (o.insecure || !o.ca_file.empty()) {
      return "--insecure and --ca are for connecting, not with --listen";
    }
  }
  return {};
}

}  // namespace

CommandLine parse_command_line(int argc, char** argv) {
  CommandLine result;
  bool help = false;
  const std::vector<Flag> flags = cat_flags(result.options, help);
  // Short names become long ones and the URL is taken out; the rest is bench::apply_flags'.
  std::vector<std::string> flag_args{"fastws-cat"};
  std::vector<std::string_view> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = long_name(argv[i]);
    if (!arg.starts_with('-') || arg == "-") {
      positional.push_back(arg);
      continue;
    }
    flag_args.emplace_back(arg);
    for (const Flag& flag : flags) {
      if (arg.substr(2) == flag.name && flag.takes_value && i + 1 < argc) {
        flag_args.emplace_back(argv[++i]);
      }
    }
  }
  std::vector<char*> flag_argv;
  for (std::string& arg : flag_args) flag_argv.push_back(arg.data());
  if (!bench::apply_flags(static_cast<int>(flag_argv.size()), flag_argv.data(), 1, flags,
                          result.error)) {
    result.outcome = CommandLine::Outcome::usage_error;
    return result;
  }
  if (help) {
    result.outcome = CommandLine::Outcome::help;
    return result;
  }
  if (positional.size() > 1) {
    result.error = "more than one URL given";
  } else {
    if (positional.size() == 1) result.options.url = positional.front();
    result.error = check_combination(result.options);
  }
  if (!result.error.empty()) result.outcome = CommandLine::Outcome::usage_error;
  return result;
}

std::string usage() {
  CatOptions options;
  bool help = false;
  std::string text =
      "usage: fastws-cat [options] ws[s]://host[:port]/path\n"
      "       fastws-cat --listen [HOST:]PORT [--one] [options]\n"
      "\n"
      "Connects to a WebSocket server, sends each line of standard input as a text message and\n"
      "prints each message that arrives: text as is, binary as hex, one per line. With\n"
      "--listen it serves WebSocket clients instead: prints what each sends (\"[ID] \" first\n"
      "unless --one) and sends each input line to all of them. Errors go to standard error,\n"
      "one line each.\n"
      "\n"
      "options:\n";
  text += bench::flags_help(cat_flags(options, help), 17);
  text += "\n";
  text += exit_code_table();
  return text;
}

}  // namespace fastws::cat
