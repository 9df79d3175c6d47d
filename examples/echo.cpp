// Echo server: every message comes back as it came (text or binary), up to 16 MiB.
// It is the program the Autobahn server cases run against:  echo --port 9001 [--compress]
// --compress-level N sets zlib's level (1..9, the library's default otherwise: 6); the
// conformance script runs it at 1, where the compression cases cost a fraction of the time.
// With --compress --compressor shared: both directions through the loop's shared zlib streams,
// like uWebSockets' SHARED_COMPRESSOR | SHARED_DECOMPRESSOR (CompressionOptions::
// shared_compressor, and client_no_context_takeover asked of every client). Not the default:
// the conformance runs of `--compress` exercise context takeover, what users get by default; a
// client that asks for no context takeover both ways (fastws_bench --deflate) gets the shared
// streams either way.
// Over TLS:  echo --port 9443 --cert cert.pem --key key.pem  (then wss://127.0.0.1:9443/)
// --exit-after-connections N: stops as on SIGTERM once N connections have closed, so that a
// benchmark's server ends when its client is done, from the server's own loop. bench/
// run_instructions.sh needs that: under valgrind 3.19 a SIGTERM does not reach a loop waiting in
// io_uring_enter (valgrind does not count that call among those that block, so it keeps signals
// blocked through it and delivers them only after some more work), and callgrind writes its
// profile only when the server exits.
//
// An echo the server refuses (the peer reads slower than it sends and the send buffer is full)
// would leave the peer waiting for it for ever: the connection is closed with a reason instead.

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "example_support.hpp"
#include "fastws/fastws.hpp"

int main(int argc, char** argv) {
  std::string compress_level;
  std::string compressor = "dedicated";
  std::string exit_after;
  const ExtraFlag level_flag{"--compress-level", "[--compress-level 1..9]", &compress_level};
  const ExtraFlag compressor_flag{"--compressor", "[--compressor dedicated|shared]", &compressor};
  const ExtraFlag exit_flag{"--exit-after-connections", "[--exit-after-connections N]",
                            &exit_after};
  const std::initializer_list<ExtraFlag> flags = {level_flag, compressor_flag, exit_flag};
  ExampleArgs args(argc, argv, flags);
  if (compressor != "dedicated" && compressor != "shared") ExampleArgs::usage(argv[0], flags);
  // Closes still to come before the server stops itself (never, without the flag).
  std::atomic<long> closes_left = 0;
  if (!exit_after.empty()) {
    closes_left = std::atol(exit_after.c_str());
    if (closes_left <= 0) ExampleArgs::usage(argv[0], flags);
  }
  fastws::ServerOptions options = args.options();
  options.compression.shared_compressor = compressor == "shared";
  options.compression.client_no_context_takeover = compressor == "shared";
  options.max_message_size = 16u << 20;
  if (!compress_level.empty()) {
    options.compression.level = std::atoi(compress_level.c_str());
    if (options.compression.level < 1 || options.compression.level > 9) {
      ExampleArgs::usage(argv[0], flags);
    }
  }
  fastws::Server server(options);
  server.on_message([](const fastws::Conn& conn, fastws::Message message) {
    const fastws::SendStatus status = conn.send(message.data(), message.opcode());
    if (status != fastws::SendStatus::dropped) return;  // on its way (or the connection closing)
    std::fprintf(stderr, "echo: connection %llu: echo of %zu bytes refused, send buffer full\n",
                 static_cast<unsigned long long>(conn.id()), message.size());
    conn.close(fastws::close_code::policy_violation, "echo refused: send buffer full");
  });
  if (closes_left > 0) {
    server.on_close([&](const fastws::Conn&, const fastws::CloseStatus&) {
      if (closes_left.fetch_sub(1) == 1) server.stop();
    });
  }
  return serve(server, "echo", args);
}
