// Builds against an installed fastws::asio: the server's loops on an io_context, ended by stop().
#include <fastws/asio.hpp>

int main() {
  fastws::Server server({.host = "127.0.0.1", .port = 0, .threads = 1});
  boost::asio::io_context io;
  bool ended = false;
  if (!fastws::asio::run_on(server, io, [&] { ended = true; })) return 1;
  server.stop();
  io.run();
  return ended ? 0 : 1;
}
