// Builds and runs against an installed fastws::redis: attaches a scale-out to a server (its own
// thread starts dialing the URL; nothing listens there, which is fine: the server is never run)
// and reads what it says about itself.
#include <fastws/fastws.hpp>
#include <fastws/redis.hpp>

#include <cstdio>

int main() {
  fastws::Server server;
  const fastws::redis::Scaleout scaleout =
      fastws::redis::attach(server, {.url = "redis://127.0.0.1:1"});
  const bool ok = !scaleout.node_id().empty() && scaleout.stats().published == 0;
  std::printf("redis_consumer: %s (node %s)\n", ok ? "ok" : "FAILED", scaleout.node_id().c_str());
  return ok ? 0 : 1;
}
