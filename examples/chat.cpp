// Chat: an HTML page on "/" and the WebSocket on "/ws"; rooms are topics, and everyone in a room
// sees who is present. Open http://127.0.0.1:8080/ in two browser tabs (?name=ann&room=lobby).
//
// With --redis (scripts/demo-cluster.sh runs three of them) the rooms span every chat server on
// that Redis. Each server knows only its own users, so its "who" lines name it ("who ROOM
// NAMES NODE"), the page keeps one list per server, and each server says again who is in its
// rooms every few seconds: newcomers elsewhere learn of them, and a server that went away
// drops out of the pages' lists.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "chat_page.hpp"
#include "chat_room.hpp"
#include "example_support.hpp"
#include "fastws/fastws.hpp"

namespace {

// With --redis: publishes the "who" line of each room with users here every few seconds.
class PresenceAnnouncer {
 public:
  PresenceAnnouncer(fastws::Server& server, Presence& presence)
      : thread_([this, &server, &presence] {
          std::unique_lock lock(mutex_);
          while (!stopped_.wait_for(lock, std::chrono::seconds(3), [this] { return stopping_; })) {
            lock.unlock();
            for (const auto& [room, line] : presence.all_rooms()) server.publish(room, line);
            lock.lock();
          }
        }) {}
  ~PresenceAnnouncer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    stopped_.notify_one();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable stopped_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;     // last: it uses the members above
};

// A name for this server in "who" lines: six random hex digits.
std::string random_node_name() {
  std::random_device random;
  char name[8];
  std::snprintf(name, sizeof name, "%06x", random() & 0xffffffu);
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  ExampleArgs args(argc, argv);
  fastws::ServerOptions options = args.options();
  options.max_message_size = 64 * 1024;
  fastws::Server server(options);
  Presence presence(args.redis_url.empty() ? "" : random_node_name());
  std::optional<PresenceAnnouncer> announcer;
  if (!args.redis_url.empty()) announcer.emplace(server, presence);

  server.on_http([](const fastws::Request& request, fastws::Response& response) {
    if (request.path() == "/") response.send(200, "text/html; charset=utf-8", chat_page);
  });
  server.on_upgrade([](const fastws::Request& request, fastws::Upgrade& upgrade) {
    if (request.path() != "/ws") upgrade.reject(404, "the chat socket is on /ws\n");
  });
  serve_chat(server, presence);
  return serve(server, "chat", args, {.page = true});
}
