// Echo server: every message comes back as it came (text or binary), up to 16 MiB.
// It is the program the Autobahn server cases run against:  echo --port 9001 [--compress]

#include "example_support.hpp"
#include "fastws/fastws.hpp"

int main(int argc, char** argv) {
  ExampleArgs args(argc, argv);
  fastws::Server server({.host = args.host,
                         .port = args.port,
                         .threads = args.threads,
                         .max_message_size = 16u << 20,
                         .compression = {.enabled = args.compress}});
  server.on_message([](const fastws::Conn& conn, fastws::Message message) {
    conn.send(message.data(), message.opcode());
  });
  return serve(server, "echo", args);
}
