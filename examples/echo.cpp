// Echo server: every message comes back as it came (text or binary), up to 16 MiB.
// It is the program the Autobahn server cases run against:  echo --port 9001 [--compress]
// Over TLS:  echo --port 9443 --cert cert.pem --key key.pem  (then wss://127.0.0.1:9443/)

#include "example_support.hpp"
#include "fastws/fastws.hpp"

int main(int argc, char** argv) {
  ExampleArgs args(argc, argv);
  fastws::ServerOptions options = args.options();
  options.max_message_size = 16u << 20;
  fastws::Server server(options);
  server.on_message([](const fastws::Conn& conn, fastws::Message message) {
    conn.send(message.data(), message.opcode());
  });
  return serve(server, "echo", args);
}
