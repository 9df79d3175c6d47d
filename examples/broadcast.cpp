// Broadcast: a timer thread sends the time to every connected client once a second with one
// call (like the seed's broadcaster). No client list, no locks: the server frames the message
// once and every loop writes the shared bytes to its connections.
#include <atomic>
#include <chrono>
#include <ctime>
#include <thread>

#include "example_support.hpp"
#include "fastws/fastws.hpp"

int main(int argc, char** argv) {
  ExampleArgs args(argc, argv);
  fastws::Server server(args.options());
  std::atomic<bool> done{false};
  std::thread ticker([&] {
    while (!done) {
      for (int i = 0; i < 10 && !done; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const std::time_t now = std::time(nullptr);
      char text[64];
      std::strftime(text, sizeof text, "the time is %H:%M:%S", std::gmtime(&now));
      server.broadcast(text);
    }
  });
  const int status = serve(server, "broadcast", args);
  done = true;
  ticker.join();
  return status;
}
