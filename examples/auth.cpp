// Authentication at upgrade time: only clients that send the header `private-key: 1234` get a
// WebSocket (like the seed's whitelist example); others get 403 and the connection closes.
#include <string>

#include "example_support.hpp"
#include "fastws/fastws.hpp"

int main(int argc, char** argv) {
  ExampleArgs args(argc, argv);
  fastws::Server server(args.options());

  server.on_upgrade([](const fastws::Request& request, fastws::Upgrade& upgrade) {
    if (request.header("private-key") != "1234") {
      upgrade.reject(403, "forbidden: missing or wrong private-key header\n");
      return;
    }
    // Keep what later callbacks need: the request itself is gone after on_open.
    upgrade.set_user_data(std::string(request.path()));
  });
  server.on_open([](const fastws::Conn& conn) {
    if (const auto* path = conn.user_data<std::string>()) {
      went_out(conn, conn.send("welcome, you asked for " + *path), "welcome");
    }
  });
  server.on_message([](const fastws::Conn& conn, fastws::Message message) {
    went_out(conn, conn.send(message.data(), message.opcode()), "echo");
  });

  return serve(server, "auth", args, {.text = " (send the header private-key: 1234)"});
}
