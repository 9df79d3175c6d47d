// The fastws side of the broadcast benchmark: every message a client sends goes to every open
// connection with Server::broadcast (framed once; each loop writes the shared bytes to its
// connections). Compared with bench/load/tcp_broadcast_server by bench/run_broadcast.sh.
//
// With --topics N the same fan-out goes through topics instead: every connection joins the topic
// "everyone" and kRoomsPerConnection of N other topics, and messages are published to
// "everyone". The other topics are there only to be not touched: a publish must cost the same
// however many of them exist.
//
// Usage: fastws_broadcast_server [--port N] [--threads N] [--topics N]
//        (default port 9001, one event loop, broadcast; prints "listening on 127.0.0.1:N")
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fastws/fastws.hpp"
#include "stop_on_signal.hpp"

namespace {

constexpr std::uint64_t kRoomsPerConnection = 10;

}  // namespace

int main(int argc, char** argv) {
  int port = 9001;
  int threads = 1;
  long topics = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--port") == 0) port = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--topics") == 0) topics = std::atol(argv[i + 1]);
  }
  if (port <= 0 || port > 65535 || threads <= 0 || topics < 0) {
    std::fprintf(stderr, "usage: %s [--port N] [--threads N] [--topics N]\n", argv[0]);
    return 2;
  }
  fastws::Server server({.host = "127.0.0.1",
                         .port = static_cast<std::uint16_t>(port),
                         .threads = static_cast<unsigned>(threads)});
  if (topics == 0) {
    server.on_message([&server](const fastws::Conn&, fastws::Message message) {
      server.broadcast(message.data(), message.opcode());
    });
  } else {
    const auto rooms = static_cast<std::uint64_t>(topics);
    server.on_open([rooms](const fastws::Conn& conn) {
      conn.subscribe("everyone");
      for (std::uint64_t k = 0; k < kRoomsPerConnection; ++k) {
        conn.subscribe("room-" + std::to_string((conn.id() * kRoomsPerConnection + k) % rooms));
      }
    });
    server.on_message([&server](const fastws::Conn&, fastws::Message message) {
      server.publish("everyone", message.data(), message.opcode());
    });
  }
  if (auto error = server.listen()) {
    std::fprintf(stderr, "cannot listen on 127.0.0.1:%d: %s\n", port, error.message().c_str());
    return 1;
  }
  const StopOnSignal stop_on_signal(server);
  std::printf("listening on 127.0.0.1:%d\n", port);
  std::fflush(stdout);
  server.run();
}
