// Topics: rooms that clients join and leave. A client sends "join ROOM", "leave ROOM" or
// "ROOM: text"; the text goes to everyone in ROOM but the sender. Leaving on close is automatic.
//
// At the limits: a room name is at most 64 bytes, and a connection is in at most
// max_topics_per_connection rooms (10,000 by default); a join beyond either is answered
// "refused ROOM: ..." and changes nothing. A client that does not read its answers is closed
// (went_out() in example_support.hpp).
#include <string>

#include "example_support.hpp"
#include "fastws/fastws.hpp"

namespace {

constexpr std::size_t kLongestRoomName = 64;

// The answer to "join ROOM".
std::string answer_join(const fastws::Conn& conn, std::string_view room) {
  if (room.size() > kLongestRoomName) {
    return "refused: a room name is at most " + std::to_string(kLongestRoomName) + " bytes";
  }
  if (!conn.subscribe(room)) return "refused " + std::string(room) + ": in too many rooms";
  return "joined " + std::string(room);
}

}  // namespace

int main(int argc, char** argv) {
  ExampleArgs args(argc, argv);
  fastws::Server server(args.options());
  server.on_message([&server](const fastws::Conn& conn, fastws::Message message) {
    const std::string_view text = message.text();
    if (text.starts_with("join ")) {
      went_out(conn, conn.send(answer_join(conn, text.substr(5))), "join answer");
    } else if (text.starts_with("leave ")) {
      conn.unsubscribe(text.substr(6));
      went_out(conn, conn.send("left " + std::string(text.substr(6))), "leave answer");
    } else if (const auto colon = text.find(": "); colon != std::string_view::npos) {
      server.publish(text.substr(0, colon), text, conn);
    } else {
      went_out(conn, conn.send("say: join ROOM | leave ROOM | ROOM: text"), "help");
    }
  });
  return serve(server, "topics", args);
}
