// Command-line options shared by the example servers: --host H --port N (default 8080),
// --threads N, --backend epoll|io_uring (IoBackend), --compress, --cert FILE --key FILE for TLS
// (wss://), and --redis URL to scale out through Redis (redis://[user:pass@]host:port, rediss://
// for TLS; --redis-cluster when it names a node of a Redis Cluster): publish() then reaches the
// subscribers of every example server attached to the same Redis (fastws/redis.hpp).
#pragma once

#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>

#include "fastws/options.hpp"

// A flag of one example's own ("--root DIR"): its value goes to `value`.
struct ExtraFlag {
  const char* name;
  const char* usage;  // as the usage line shows it: "[--root DIR]"
  std::string* value;
};

struct ExampleArgs {
  std::string host = "127.0.0.1";
  unsigned short port = 8080;
  bool compress = false;
  unsigned threads = 0;
  fastws::IoBackend backend = fastws::IoBackend::automatic;
  std::string certificate_file;
  std::string key_file;
  std::string redis_url;
  bool redis_cluster = false;

  ExampleArgs(int argc, char** argv, std::initializer_list<ExtraFlag> extra = {}) {
    for (int i = 1; i < argc; ++i) {
      auto value = [&]() -> const char* {
        if (i + 1 >= argc) usage(argv[0], extra);
        return argv[++i];
      };
      const ExtraFlag* own = nullptr;
      for (const ExtraFlag& flag : extra) {
        if (std::strcmp(argv[i], flag.name) == 0) own = &flag;
      }
      if (own != nullptr) {
        *own->value = value();
      } else if (std::strcmp(argv[i], "--host") == 0) {
        host = value();
      } else if (std::strcmp(argv[i], "--port") == 0) {
        port = static_cast<unsigned short>(std::atoi(value()));
      } else if (std::strcmp(argv[i], "--threads") == 0) {
        threads = static_cast<unsigned>(std::atoi(value()));
      } else if (std::strcmp(argv[i], "--backend") == 0) {
        const auto named = fastws::io_backend_named(value());
        if (!named) usage(argv[0], extra);
        backend = *named;
      } else if (std::strcmp(argv[i], "--compress") == 0) {
        compress = true;
      } else if (std::strcmp(argv[i], "--cert") == 0) {
        certificate_file = value();
      } else if (std::strcmp(argv[i], "--key") == 0) {
        key_file = value();
      } else if (std::strcmp(argv[i], "--redis") == 0) {
        redis_url = value();
      } else if (std::strcmp(argv[i], "--redis-cluster") == 0) {
        redis_cluster = true;
      } else {
        usage(argv[0], extra);
      }
    }
    if (certificate_file.empty() != key_file.empty()) usage(argv[0], extra);
    if (redis_cluster && redis_url.empty()) usage(argv[0], extra);
  }

  bool secure() const { return !certificate_file.empty(); }

  // The server options these flags ask for; each example adds its own.
  fastws::ServerOptions options() const {
    fastws::ServerOptions options;
    options.host = host;
    options.port = port;
    options.threads = threads;
    options.backend = backend;
    options.compression.enabled = compress;
    options.tls.certificate_file = certificate_file;
    options.tls.key_file = key_file;
    return options;
  }

  [[noreturn]] static void usage(const char* program, std::initializer_list<ExtraFlag> extra = {}) {
    std::fprintf(stderr,
                 "usage: %s [--host H] [--port N] [--threads N] [--backend epoll|io_uring] "
                 "[--compress] "
                 "[--cert PEM --key PEM] [--redis redis://[user:pass@]host:port [--redis-cluster]]",
                 program);
    for (const ExtraFlag& flag : extra) std::fprintf(stderr, " %s", flag.usage);
    std::fprintf(stderr, "\n");
    std::exit(2);
  }
};

#include <cstdio>

#include "fastws/redis.hpp"
#include "fastws/server.hpp"
#include "stop_on_signal.hpp"

// What serve() prints after the WebSocket URL: a note, or (page) the address of the page the
// example serves on "/".
struct ServeNote {
  const char* text = "";
  bool page = false;
};

// What an example does with a send's status. written, backpressure (waiting in the connection's
// buffer) and queued (sent from another thread) mean the bytes go out; closed means the
// connection is going away and nothing needs doing. dropped means the library refused the send:
// the peer does not read fast enough (its buffer is at max_buffered_bytes) or the send was
// invalid (the examples send only valid frames, so for them it means a slow reader). The
// client must not miss messages silently, so the example says so on stderr and closes the
// connection with 1008 and a reason. Later sends report closed: this speaks once per
// connection. Returns true when the bytes go out.
inline bool went_out(const fastws::Conn& conn, fastws::SendStatus status, const char* what) {
  if (status != fastws::SendStatus::dropped) return status != fastws::SendStatus::closed;
  std::fprintf(stderr, "%s to %s was dropped: closing the connection\n", what,
               conn.remote_address().c_str());
  conn.close(fastws::close_code::policy_violation, "send refused: the client reads too slowly");
  return false;
}

// A Redis URL without its credentials, for printing.
inline std::string without_credentials(const std::string& url) {
  const auto scheme = url.find("://");
  const auto at = url.rfind('@');
  if (scheme == std::string::npos || at == std::string::npos) return url;
  return url.substr(0, scheme + 3) + url.substr(at + 1);
}

// --redis: attaches the scale-out (the server keeps it), which says on stderr when Redis comes
// and goes. False when the URL is wrong (said on stderr).
inline bool attach_redis(fastws::Server& server, const char* name, const ExampleArgs& args) {
  if (args.redis_url.empty()) return true;
  fastws::redis::Options options;
  options.url = args.redis_url;
  options.cluster = args.redis_cluster;
  options.on_state = [name](fastws::redis::State state, std::string_view reason) {
    if (state == fastws::redis::State::connected) {
      std::fprintf(stderr, "%s: connected to Redis\n", name);
    } else {
      std::fprintf(stderr, "%s: Redis unavailable (%.*s); local delivery goes on\n", name,
                   static_cast<int>(reason.size()), reason.data());
    }
  };
  try {
    fastws::redis::attach(server, options);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s: %s\n", name, error.what());
    return false;
  }
  // On stderr: scripts read the port from the last number of the stdout line.
  std::fprintf(stderr, "%s: scale-out through %s\n", name,
               without_credentials(args.redis_url).c_str());
  return true;
}

// Listens, makes Ctrl-C / SIGTERM stop the server gracefully, prints the URL once ready (tests
// wait for that line) and runs until stopped. Returns the process exit code.
inline int serve(fastws::Server& server, const char* name, const ExampleArgs& args,
                 ServeNote note = {}) {
  if (!attach_redis(server, name, args)) return 2;
  if (auto error = server.listen()) {
    std::fprintf(stderr, "%s: cannot listen on %s:%u: %s\n", name, args.host.c_str(), args.port,
                 error.message().c_str());
    return 1;
  }
  const StopOnSignal stop_on_signal(server);
  const bool v6 = args.host.find(':') != std::string::npos;
  const std::string address =
      (v6 ? "[" + args.host + "]" : args.host) + ":" + std::to_string(server.port()) + "/";
  std::printf("%s listening on %s://%s", name, args.secure() ? "wss" : "ws", address.c_str());
  if (note.page) {
    std::printf(" - page on %s://%s", args.secure() ? "https" : "http", address.c_str());
  }
  std::printf("%s\n", note.text);
  std::fflush(stdout);
  server.run();
  return 0;
}
