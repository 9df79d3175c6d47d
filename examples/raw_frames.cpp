// Raw frames: on_frame replaces the default handling, and frames are crafted by hand with
// fastws::Frame (like the seed's Frame API). This server answers every data frame with two
// frames it builds itself: a fragmented echo ("echo: " then the payload), and closes on close.

#include "example_support.hpp"
#include "fastws/fastws.hpp"

int main(int argc, char** argv) {
  ExampleArgs args(argc, argv);
  fastws::Server server(args.options());

  server.on_frame([](const fastws::Conn& conn, const fastws::Frame& frame) {
    switch (frame.opcode) {
      case fastws::Opcode::text:
      case fastws::Opcode::binary: {
        fastws::Frame first = fastws::Frame::text("echo: ", /*fin=*/false);
        fastws::Frame second = fastws::Frame::continuation(frame.payload, /*fin=*/true);
        conn.send_frame(first);
        conn.send_frame(second);
        break;
      }
      case fastws::Opcode::ping:
        conn.send_frame(fastws::Frame::pong(frame.payload));
        break;
      case fastws::Opcode::close:
        conn.send_frame(fastws::Frame::close(frame.close_code().value_or(1000), "bye"));
        break;
      default:
        break;
    }
  });

  return serve(server, "raw_frames", args);
}
