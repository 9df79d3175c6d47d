// Round-trip time: every 2 seconds each client gets a ping carrying a timestamp; when its pong
// comes back, the difference is the round trip (like the seed's RTTMeasure). The ping is sent
// from a timer thread: Conn handles are safe to use from any thread.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "example_support.hpp"
#include "fastws/fastws.hpp"

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The clients currently open. The lock only guards the map; sends need no lock.
struct Clients {
  std::mutex mutex;
  std::unordered_map<std::uint64_t, fastws::Conn> by_id;
};

}  // namespace

int main(int argc, char** argv) {
  ExampleArgs args(argc, argv);
  fastws::Server server(args.options());
  Clients clients;

  server.on_open([&](const fastws::Conn& conn) {
    std::lock_guard lock(clients.mutex);
    clients.by_id.emplace(conn.id(), conn);
    std::printf("client %s connected\n", conn.remote_address().c_str());
  });
  server.on_close([&](const fastws::Conn& conn, const fastws::CloseStatus&) {
    std::lock_guard lock(clients.mutex);
    clients.by_id.erase(conn.id());
  });
  server.on_pong([](const fastws::Conn& conn, std::span<const std::byte> data) {
    if (data.size() != sizeof(std::int64_t)) return;
    std::int64_t sent;
    std::memcpy(&sent, data.data(), sizeof sent);
    std::printf("RTT with %s is %.3f ms\n", conn.remote_address().c_str(),
                static_cast<double>(now_ns() - sent) / 1e6);
    std::fflush(stdout);
  });

  std::atomic<bool> done{false};
  std::thread pinger([&] {
    while (!done) {
      for (int i = 0; i < 20 && !done; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::int64_t stamp = now_ns();
      std::lock_guard lock(clients.mutex);
      for (auto& [id, conn] : clients.by_id) {
        // From this thread a ping is queued; dropped means the client's buffer is full: it has
        // not read for a long while.
        went_out(conn,
                 conn.ping(std::span(reinterpret_cast<const std::byte*>(&stamp), sizeof stamp)),
                 "ping");
      }
    }
  });

  int status = serve(server, "rtt", args);
  done = true;
  pinger.join();
  return status;
}
