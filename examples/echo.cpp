// Echo server: every message comes back as it came (text or binary), up to 16 MiB.
// It is the program the Autobahn server cases run against:  echo --port 9001 [--compress]
// Over TLS:  echo --port 9443 --cert cert.pem --key key.pem  (then wss://127.0.0.1:9443/)
//
// An echo the server refuses (the peer reads slower than it sends and the send buffer is full)
// would leave the peer waiting for it for ever: the connection is closed with a reason instead.

#include <cstdio>

#include "example_support.hpp"
#include "fastws/fastws.hpp"

int main(int argc, char** argv) {
  ExampleArgs args(argc, argv);
  fastws::ServerOptions options = args.options();
  options.max_message_size = 16u << 20;
  fastws::Server server(options);
  server.on_message([](const fastws::Conn& conn, fastws::Message message) {
    const fastws::SendStatus status = conn.send(message.data(), message.opcode());
    if (status != fastws::SendStatus::dropped) return;  // on its way (or the connection closing)
    std::fprintf(stderr, "echo: connection %llu: echo of %zu bytes refused, send buffer full\n",
                 static_cast<unsigned long long>(conn.id()), message.size());
    conn.close(fastws::close_code::policy_violation, "echo refused: send buffer full");
  });
  return serve(server, "echo", args);
}
