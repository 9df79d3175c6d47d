// fastws-cat's command line: where to connect (or listen), what the request carries, and how
// input lines and arriving messages are treated.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace fastws::cat {

enum class BinaryOutput : std::uint8_t {
  hex,  // a line of lowercase hex digits per message
  raw,  // the bytes as they are, nothing added
};

struct CatOptions {
  // Connect mode: the URL (ws://... or wss://...).
  std::string url;
  // Listen mode (--listen [HOST:]PORT): where to serve; the host is 127.0.0.1 unless given.
  std::string listen_host;
  std::uint16_t listen_port = 0;
  bool listen = false;
  bool one = false;  // serve one client, end when it leaves

  // The request (connect mode).
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> subprotocols;  // in listen mode: the ones the server accepts
  std::string origin;
  std::string proxy;
  bool insecure = false;
  std::string ca_file;
  // A client certificate (connect mode), or the server's certificate (listen mode: wss).
  std::string certificate_file;
  std::string key_file;

  bool compress = false;  // permessage-deflate: offered, or accepted in listen mode
  std::chrono::milliseconds ping_interval{0};
  std::chrono::milliseconds connect_timeout{10'000};  // TCP connect, and again the handshake

  bool binary_input = false;  // input lines go as binary messages
  BinaryOutput binary_output = BinaryOutput::hex;
  bool close_on_eof = true;  // the end of input closes with 1000 (and ends listen mode)
  bool show_close = false;   // print the close code and reason
  bool quiet = false;        // no informational lines on standard error
};

struct CommandLine {
  enum class Outcome : std::uint8_t { run, help, usage_error };
  Outcome outcome = Outcome::run;
  CatOptions options;
  std::string error;  // for usage_error
};

CommandLine parse_command_line(int argc, char** argv);

// The --help text, exit codes included.
std::string usage();

}  // namespace fastws::cat
