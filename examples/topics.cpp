// Topics: rooms that clients join and leave. A client sends "join ROOM", "leave ROOM" or
// "ROOM: text"; the text goes to everyone in ROOM but the sender. Leaving on close is automatic.
#include <string>

#include "example_support.hpp"
#include "fastws/fastws.hpp"

int main(int argc, char** argv) {
  ExampleArgs args(argc, argv);
  fastws::Server server(args.options());
  server.on_message([&server](const fastws::Conn& conn, fastws::Message message) {
    const std::string_view text = message.text();
    if (text.starts_with("join ")) {
      conn.subscribe(text.substr(5));
      conn.send("joined " + std::string(text.substr(5)));
    } else if (text.starts_with("leave ")) {
      conn.unsubscribe(text.substr(6));
      conn.send("left " + std::string(text.substr(6)));
    } else if (const auto colon = text.find(": "); colon != std::string_view::npos) {
      server.publish(text.substr(0, colon), text, conn);
    } else {
      conn.send("say: join ROOM | leave ROOM | ROOM: text");
    }
  });
  return serve(server, "topics", args);
}
