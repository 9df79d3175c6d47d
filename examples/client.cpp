// The client: dial a WebSocket server with a header, send a few messages ("hello 1" ...),
// print everything that comes back, close once they all came back. The same Conn and callbacks as
// the server examples.
//
//   client [ws://127.0.0.1:8080/] [--header "Name: value"]... [--count N] [--ca FILE] [--insecure]
//
// Exits 0 once every message came back and the close handshake ended, 1 when the connection
// failed (the reason on stderr), 2 on bad arguments.
#include <fastws/fastws.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <string_view>

namespace {

struct Args {
  std::string url = "ws://127.0.0.1:8080/";
  fastws::ConnectOptions connect;
  fastws::ClientOptions options;
  int count = 3;
};

bool parse(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--header" && has_value) {
      const std::string_view field = argv[++i];
      const auto colon = field.find(':');
      if (colon == std::string_view::npos) return false;
      std::string_view value = field.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      args.connect.headers.emplace_back(std::string(field.substr(0, colon)), std::string(value));
    } else if (arg == "--count" && has_value) {
      args.count = std::atoi(argv[++i]);
    } else if (arg == "--ca" && has_value) {
      args.options.tls.ca_file = argv[++i];
    } else if (arg == "--backend" && has_value) {
      const auto named = fastws::io_backend_named(argv[++i]);
      if (!named) return false;
      args.options.backend = *named;
    } else if (arg == "--insecure") {
      args.options.tls.insecure_skip_verification = true;
    } else if (!arg.starts_with("--")) {
      args.url = arg;
    } else {
      return false;
    }
  }
  return args.count >= 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse(argc, argv, args)) {
    std::fprintf(stderr,
                 "usage: client [URL] [--header \"Name: value\"]... [--count N] [--ca FILE] "
                 "[--insecure] [--backend epoll|io_uring]\n");
    return 2;
  }
  fastws::Client client(args.options);
  std::atomic<int> echoed{0};
  std::promise<fastws::CloseStatus> closed;
  client.on_message([&](const fastws::Conn& conn, fastws::Message message) {
    std::printf("received: %.*s\n", static_cast<int>(message.text().size()), message.text().data());
    std::fflush(stdout);
    // The server may greet first; what we count are our messages coming back.
    if (message.text().starts_with("hello ") && ++echoed == args.count) {
      conn.close(fastws::close_code::normal, "done");
    }
  });
  client.on_close(
      [&](const fastws::Conn&, const fastws::CloseStatus& status) { closed.set_value(status); });

  fastws::ConnectResult result = client.connect_and_wait(args.url, std::move(args.connect));
  if (!result) {
    std::fprintf(stderr, "cannot open %s: %s\n", args.url.c_str(), result.error.error.c_str());
    return 1;
  }
  std::printf("connected to %s\n", args.url.c_str());
  for (int i = 1; i <= args.count; ++i) {
    const fastws::SendStatus status = result.conn.send("hello " + std::to_string(i));
    if (status == fastws::SendStatus::dropped || status == fastws::SendStatus::closed ||
        status == fastws::SendStatus::invalid) {
      std::fprintf(stderr, "message %d not sent: %s\n", i, fastws::to_string(status));
      return 1;
    }
  }
  if (args.count == 0) result.conn.close(fastws::close_code::normal, "done");
  std::future<fastws::CloseStatus> end = closed.get_future();
  if (end.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    std::fprintf(stderr, "no close within 10 s\n");
    return 1;
  }
  const fastws::CloseStatus status = end.get();
  std::printf("closed: %u %s\n", static_cast<unsigned>(status.code), status.reason.c_str());
  return echoed == args.count && status.code == fastws::close_code::normal ? 0 : 1;
}
