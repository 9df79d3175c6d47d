// An echo server that sends every message back through a Conn::writer() in three pieces (the
// first third, the second, then finish() with the rest), with default options otherwise: the
// server fastws_attack's streamed-echo attack runs against, to see whether a client that pauses
// reading ever gets a damaged or unterminated message.
//
// Usage: streamed_echo_server [--port N] [--threads N]
//        (default port 9001, one event loop; port 0 picks a free one; prints
//        "listening on 127.0.0.1:N")
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fastws/fastws.hpp"
#include "stop_on_signal.hpp"

int main(int argc, char** argv) {
  int port = 9001;
  int threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--port") == 0) port = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
  }
  if (port < 0 || port > 65535 || threads <= 0) {
    std::fprintf(stderr, "usage: %s [--port N] [--threads N]\n", argv[0]);
    return 2;
  }
  fastws::Server server({.host = "127.0.0.1",
                         .port = static_cast<std::uint16_t>(port),
                         .threads = static_cast<unsigned>(threads)});
  // The statuses are ignored on purpose: this is the user program of the attack, and what the
  // library puts on the wire when such a program meets a slow reader is what is measured.
  server.on_message([](const fastws::Conn& conn, fastws::Message message) {
    const auto data = message.data();
    const std::size_t third = data.size() / 3;
    fastws::Writer writer = conn.writer(message.opcode());
    writer.write(data.first(third));
    writer.write(data.subspan(third, third));
    writer.finish(data.subspan(2 * third));
  });
  if (auto error = server.listen()) {
    std::fprintf(stderr, "cannot listen on 127.0.0.1:%d: %s\n", port, error.message().c_str());
    return 1;
  }
  const StopOnSignal stop_on_signal(server);
  std::printf("listening on 127.0.0.1:%u\n", server.port());
  std::fflush(stdout);
  server.run();
}
