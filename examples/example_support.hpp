// Command-line options shared by the example servers: --host H --port N (default 8080) and
// flags such as --compress.
#pragma once

#include <cstdlib>
#include <cstring>
#include <string>

struct ExampleArgs {
  std::string host = "127.0.0.1";
  unsigned short port = 8080;
  bool compress = false;
  unsigned threads = 0;

  ExampleArgs(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      auto value = [&]() -> const char* {
        if (i + 1 >= argc) usage(argv[0]);
        return argv[++i];
      };
      if (std::strcmp(argv[i], "--host") == 0) {
        host = value();
      } else if (std::strcmp(argv[i], "--port") == 0) {
        port = static_cast<unsigned short>(std::atoi(value()));
      } else if (std::strcmp(argv[i], "--threads") == 0) {
        threads = static_cast<unsigned>(std::atoi(value()));
      } else if (std::strcmp(argv[i], "--compress") == 0) {
        compress = true;
      } else {
        usage(argv[0]);
      }
    }
  }

  [[noreturn]] static void usage(const char* program) {
    std::fprintf(stderr, "usage: %s [--host H] [--port N] [--threads N] [--compress]\n", program);
    std::exit(2);
  }
};

#include <csignal>
#include <cstdio>

#include "fastws/server.hpp"

// Listens, makes Ctrl-C / SIGTERM stop the server gracefully, prints the URL once ready (tests
// wait for that line) and runs until stopped. Returns the process exit code.
inline int serve(fastws::Server& server, const char* name, const ExampleArgs& args,
                 const char* note = "") {
  static fastws::Server* running = nullptr;
  if (auto error = server.listen()) {
    std::fprintf(stderr, "%s: cannot listen on %s:%u: %s\n", name, args.host.c_str(), args.port,
                 error.message().c_str());
    return 1;
  }
  running = &server;
  std::signal(SIGINT, [](int) { running->stop(); });
  std::signal(SIGTERM, [](int) { running->stop(); });
  bool v6 = args.host.find(':') != std::string::npos;
  std::printf("%s listening on ws://%s%s%s:%u/%s\n", name, v6 ? "[" : "", args.host.c_str(),
              v6 ? "]" : "", server.port(), note);
  std::fflush(stdout);
  server.run();
  return 0;
}
