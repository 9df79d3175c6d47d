// A client that follows a feed (the broadcast example's clock, a market-data stream) and, when
// the connection is lost (the server restarts, the network drops), dials again with
// exponential backoff and jitter, printing each attempt. Each connection is a Conn of its own:
// on_open says which one is current.
//
//   reconnecting_client [ws://127.0.0.1:8080/] [--initial-delay MS] [--max-delay MS]
//                       [--max-attempts N] [--count N]
//
// Runs until Ctrl-C / SIGTERM (exit 0), or until --count messages arrived (exit 0), or until it
// gives up after --max-attempts failed attempts in a row (exit 1; 0 = never, the default).
// Exits 2 on bad arguments.
#include <fastws/fastws.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

namespace {

struct Args {
  std::string url = "ws://127.0.0.1:8080/";
  fastws::ReconnectPolicy reconnect{.initial_delay = std::chrono::milliseconds(250)};
  long count = 0;  // 0: no limit
  fastws::IoBackend backend = fastws::IoBackend::automatic;
};

bool parse(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--initial-delay" && has_value) {
      args.reconnect.initial_delay = std::chrono::milliseconds(std::atol(argv[++i]));
    } else if (arg == "--max-delay" && has_value) {
      args.reconnect.max_delay = std::chrono::milliseconds(std::atol(argv[++i]));
    } else if (arg == "--max-attempts" && has_value) {
      args.reconnect.max_attempts = static_cast<unsigned>(std::atol(argv[++i]));
    } else if (arg == "--count" && has_value) {
      args.count = std::atol(argv[++i]);
    } else if (arg == "--backend" && has_value) {
      const auto named = fastws::io_backend_named(argv[++i]);
      if (!named) return false;
      args.backend = *named;
    } else if (!arg.starts_with("--")) {
      args.url = arg;
    } else {
      return false;
    }
  }
  return args.count >= 0;
}

volatile std::sig_atomic_t interrupted = 0;

void print(const char* format, auto... values) {
  std::printf(format, values...);
  std::fflush(stdout);  // a line at a time, also into a pipe
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse(argc, argv, args)) {
    std::fprintf(stderr,
                 "usage: reconnecting_client [URL] [--initial-delay MS] [--max-delay MS] "
                 "[--max-attempts N] [--count N] [--backend epoll|io_uring]\n");
    return 2;
  }
  std::signal(SIGINT, [](int) { interrupted = 1; });
  std::signal(SIGTERM, [](int) { interrupted = 1; });

  std::atomic<int> exit_code{-1};  // set by a callback when the client is done
  std::atomic<long> received{0};
  std::atomic<int> connections{0};
  args.reconnect.on_attempt = [](fastws::ReconnectAttempt& attempt) {
    const fastws::CloseStatus& last = attempt.last_error;
    print("attempt %u after %lld ms (last: %u %s)\n", attempt.number,
          static_cast<long long>(attempt.delay.count()), static_cast<unsigned>(last.code),
          (last.error.empty() ? last.reason : last.error).c_str());
    return true;  // attempt.url and attempt.headers could be changed here (a fresh token)
  };

  fastws::Client client({.backend = args.backend});
  client.on_open([&](const fastws::Conn& conn) {
    print("connected to %s (connection #%d)\n", args.url.c_str(), ++connections);
    conn.send("hello");  // a feed would subscribe here, on every new connection
  });
  client.on_message([&](const fastws::Conn& conn, fastws::Message message) {
    print("received: %.*s\n", static_cast<int>(message.text().size()), message.text().data());
    if (++received == args.count) {
      conn.close(fastws::close_code::normal, "done");  // the application's close: no reconnect
      exit_code = 0;
    }
  });
  client.on_close([](const fastws::Conn&, const fastws::CloseStatus& status) {
    print("connection lost: %u %s\n", static_cast<unsigned>(status.code),
          (status.error.empty() ? status.reason : status.error).c_str());
  });
  // With reconnection on, on_error hears only of the failure that is not tried again.
  client.on_error([&](const fastws::Conn&, const fastws::CloseStatus& status) {
    std::fprintf(stderr, "giving up: %s\n", status.error.c_str());
    exit_code = 1;
  });

  client.connect(args.url, {.reconnect = args.reconnect});
  while (interrupted == 0 && exit_code < 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return exit_code < 0 ? 0 : exit_code.load();  // ~Client closes what is open with 1001
}
