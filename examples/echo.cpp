// Echo server: every message comes back as it came (text or binary), up to 16 MiB.
// It is the program the Autobahn server cases run against:  echo --port 9001 [--compress]
// With --compress --compressor shared: both directions through the loop's shared zlib streams,
// like uWebSockets' SHARED_COMPRESSOR | SHARED_DECOMPRESSOR (CompressionOptions::
// shared_compressor, and client_no_context_takeover asked of every client). Not the default:
// the conformance runs of `--compress` exercise context takeover, what users get by default; a
// client that asks for no context takeover both ways (fastws_bench --deflate) gets the shared
// streams either way.
// Over TLS:  echo --port 9443 --cert cert.pem --key key.pem  (then wss://127.0.0.1:9443/)
//
// An echo the server refuses (the peer reads slower than it sends and the send buffer is full)
// would leave the peer waiting for it for ever: the connection is closed with a reason instead.

#include <cstdio>
#include <string>

#include "example_support.hpp"
#include "fastws/fastws.hpp"

int main(int argc, char** argv) {
  std::string compressor = "dedicated";
  const ExtraFlag compressor_flag{"--compressor", "[--compressor dedicated|shared]", &compressor};
  ExampleArgs args(argc, argv, {compressor_flag});
  if (compressor != "dedicated" && compressor != "shared") {
    ExampleArgs::usage(argv[0], {compressor_flag});
  }
  fastws::ServerOptions options = args.options();
  options.compression.shared_compressor = compressor == "shared";
  options.compression.client_no_context_takeover = compressor == "shared";
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
