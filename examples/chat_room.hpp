// The chat of examples/chat.cpp and examples/beast_server.cpp: rooms are topics, and everyone
// in a room sees who is present. The page (chat_page.hpp) speaks a line protocol over the
// socket: "name NAME", "join ROOM", "say TEXT" in; "msg ROOM NAME: TEXT" and "who ROOM
// NAMES [NODE]" out.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fastws/server.hpp"

// Who is in which room: each connection once, under its current name. Kept by connection, not
// by name, so that a rename changes the entry and leaving removes exactly it (by name, a user
// who renamed in a room left its old name behind for ever). Connections live on several loops,
// so this one map has a lock; sends and publishes need none.
class Presence {
 public:
  // `node`: this server's name in "who" lines, "" without scale-out.
  explicit Presence(std::string node) : node_(std::move(node)) {}

  // Each returns the room's "who" line after the change, names in the order people came in.
  // Entering again under a new name is a rename.
  std::string enter(const std::string& room, std::uint64_t connection, const std::string& name) {
    std::lock_guard lock(mutex_);
    rooms_[room][connection] = name;
    return who_line(room);
  }
  std::string leave(const std::string& room, std::uint64_t connection) {
    std::lock_guard lock(mutex_);
    auto found = rooms_.find(room);
    if (found != rooms_.end()) {
      found->second.erase(connection);
      if (found->second.empty()) rooms_.erase(found);
    }
    return who_line(room);
  }

  // Every room with users here and its "who" line.
  std::vector<std::pair<std::string, std::string>> all_rooms() {
    std::lock_guard lock(mutex_);
    std::vector<std::pair<std::string, std::string>> lines;
    for (const auto& entry : rooms_) lines.emplace_back(entry.first, who_line(entry.first));
    return lines;
  }

 private:
  std::string who_line(const std::string& room) const {
    std::string line = "who " + room + " ";
    auto found = rooms_.find(room);
    if (found != rooms_.end()) {
      for (const auto& [connection, name] : found->second) line += name + ",";
      line.pop_back();
    }
    if (!node_.empty()) line += " " + node_;
    return line;
  }

  const std::string node_;
  std::mutex mutex_;
  std::map<std::string, std::map<std::uint64_t, std::string>> rooms_;  // room -> Conn::id() -> name
};

// Per connection, changed only on its loop thread (its own callbacks).
struct ChatUser {
  std::string name = "guest";
  std::string room;
};

// Names and rooms are short words: the protocol separates fields with spaces and commas.
inline std::string word(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 24)) {
    out += (c == ' ' || c == ',' || static_cast<unsigned char>(c) < 0x20) ? '_' : c;
  }
  return out.empty() ? "_" : out;
}

// Sets the server's connection callbacks (on_open, on_message, on_close) to run the chat, with
// `presence` kept for every room. Both must outlive the server's loops.
inline void serve_chat(fastws::Server& server, Presence& presence) {
  server.on_open([](const fastws::Conn& conn) { conn.set_user_data(ChatUser{}); });

  auto leave_room = [&server, &presence](const fastws::Conn& conn, ChatUser& user) {
    if (user.room.empty()) return;
    conn.unsubscribe(user.room);
    server.publish(user.room, presence.leave(user.room, conn.id()));
    user.room.clear();
  };
  server.on_message([&server, &presence, leave_room](const fastws::Conn& conn,
                                                     fastws::Message message) {
    auto* user = conn.user_data<ChatUser>();
    const std::string_view text = message.text();
    if (user == nullptr || !message.is_text()) return;
    if (text.starts_with("name ")) {
      user->name = word(text.substr(5));
      if (!user->room.empty()) {
        server.publish(user->room, presence.enter(user->room, conn.id(), user->name));
      }
    } else if (text.starts_with("join ")) {
      leave_room(conn, *user);
      const std::string room = word(text.substr(5));
      // Refused only when closing: one room at a time is far below max_topics_per_connection.
      if (!conn.subscribe(room)) return;
      user->room = room;
      // Published after subscribing: the newcomer sees the list too.
      server.publish(user->room, presence.enter(user->room, conn.id(), user->name));
    } else if (text.starts_with("say ") && !user->room.empty()) {
      server.publish(user->room,
                     "msg " + user->room + " " + user->name + ": " + std::string(text.substr(4)));
    }
  });
  server.on_close([leave_room](const fastws::Conn& conn, const fastws::CloseStatus&) {
    if (auto* user = conn.user_data<ChatUser>()) leave_room(conn, *user);
  });
}
