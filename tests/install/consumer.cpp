// Builds and runs against an installed fastws: frames a message and reads it back.
#include <fastws/fastws.hpp>

#include <cstdio>

int main() {
  fastws::Frame frame = fastws::Frame::close(fastws::close_code::going_away, "installed");
  const auto wire = frame.serialize();
  const bool ok = wire.size() == 2 + 2 + 9 && frame.close_code() == 1001;
  fastws::ServerOptions options;  // the server types are usable too
  std::printf("consumer: %s (%zu bytes, default port %u)\n", ok ? "ok" : "FAILED", wire.size(),
              options.port);
  return ok ? 0 : 1;
}
