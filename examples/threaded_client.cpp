// One Client, one connection, messages sent from several threads at once: Conn may be used from
// any thread, a thread's sends go out in the order it made them, and so an echo server sends
// each thread's messages back in that order too. The callbacks run on the client's loop thread.
//
//   threaded_client [ws://127.0.0.1:8080/] [--threads N] [--messages N]
//
// Each of N threads sends --messages messages "thread:number"; the client checks that each
// thread's echoes come back complete and in order, prints a line per thread and closes.
// Exits 0 when they all did, 1 otherwise (a send refused, an echo missing or out of order, the
// connection failed), 2 on bad arguments.
#include <fastws/fastws.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

struct Args {
  std::string url = "ws://127.0.0.1:8080/";
  int threads = 4;
  int messages = 1000;
  fastws::IoBackend backend = fastws::IoBackend::automatic;
};

bool parse(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--threads" && has_value) {
      args.threads = std::atoi(argv[++i]);
    } else if (arg == "--messages" && has_value) {
      args.messages = std::atoi(argv[++i]);
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
  return args.threads > 0 && args.messages > 0;
}

// What came back from one sending thread: written by the loop thread (on_message), read by
// main at the end (atomics: main may look while a late echo still arrives).
struct Echoes {
  std::atomic<int> next{0};  // the number the next echo should carry
  std::atomic<bool> in_order{true};
};

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse(argc, argv, args)) {
    std::fprintf(
        stderr,
        "usage: threaded_client [URL] [--threads N] [--messages N] [--backend epoll|io_uring]\n");
    return 2;
  }
  const int total = args.threads * args.messages;
  std::vector<Echoes> echoes(static_cast<std::size_t>(args.threads));
  std::atomic<int> received{0};
  std::promise<void> all_back;

  fastws::Client client({.backend = args.backend});
  client.on_message([&](const fastws::Conn&, fastws::Message message) {
    const std::string text(message.text());
    const auto colon = text.find(':');
    Echoes& from = echoes.at(std::stoul(text.substr(0, colon)));
    if (std::stoi(text.substr(colon + 1)) != from.next) from.in_order = false;
    ++from.next;
    if (++received == total) all_back.set_value();
  });

  fastws::ConnectResult result = client.connect_and_wait(args.url);
  if (!result) {
    std::fprintf(stderr, "cannot open %s: %s\n", args.url.c_str(), result.error.error.c_str());
    return 1;
  }
  std::atomic<bool> refused{false};
  std::vector<std::thread> senders;
  for (int t = 0; t < args.threads; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < args.messages; ++i) {
        const fastws::SendStatus status =
            result.conn.send(std::to_string(t) + ":" + std::to_string(i));
        // queued (from this thread) or backpressure: it goes out; dropped, closed: it does not.
        if (status != fastws::SendStatus::queued && status != fastws::SendStatus::backpressure &&
            status != fastws::SendStatus::written) {
          std::fprintf(stderr, "thread %d: message %d not sent: %s\n", t, i,
                       fastws::to_string(status));
          refused = true;
          return;
        }
      }
    });
  }
  for (auto& sender : senders) sender.join();
  const bool complete = !refused && all_back.get_future().wait_for(std::chrono::seconds(10)) ==
                                        std::future_status::ready;
  result.conn.close(fastws::close_code::normal, "done");
  bool all_in_order = complete;
  for (int t = 0; t < args.threads; ++t) {
    const Echoes& from = echoes[static_cast<std::size_t>(t)];
    std::printf("thread %d: %d of %d echoes, %s\n", t, from.next.load(), args.messages,
                from.in_order ? "in order" : "OUT OF ORDER");
    all_in_order = all_in_order && from.in_order && from.next == args.messages;
  }
  std::printf("%s\n", all_in_order ? "all echoes came back in order" : "echoes missing");
  return all_in_order ? 0 : 1;
}
