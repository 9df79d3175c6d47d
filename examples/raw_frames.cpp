// Raw frames: on_frame replaces the default handling, and frames are crafted by hand with
// fastws::Frame (like the seed's Frame API). This server answers every data frame with two
// frames it builds itself: a fragmented echo ("echo: " then the payload), and closes on close.
//
// Crafted frames are sent exactly as given, so keeping the message sequence valid is this
// program's job. Under backpressure either frame may be refused (went_out() in
// example_support.hpp closes the connection then): when the first is refused nothing of the
// message went out, and the second is not sent; when the second is refused, the message cannot
// be finished, and the connection is closed rather than ever sending a new message inside it.

#include "example_support.hpp"
#include "fastws/fastws.hpp"

int main(int argc, char** argv) {
  ExampleArgs args(argc, argv);
  fastws::Server server(args.options());

  server.on_frame([](const fastws::Conn& conn, const fastws::Frame& frame) {
    switch (frame.opcode) {
      case fastws::Opcode::text:
      case fastws::Opcode::binary: {
        const fastws::Frame first = fastws::Frame::text("echo: ", /*fin=*/false);
        if (!went_out(conn, conn.send_frame(first), "echo opening frame")) break;
        const fastws::Frame second = fastws::Frame::continuation(frame.payload, /*fin=*/true);
        went_out(conn, conn.send_frame(second), "echo final frame");
        break;
      }
      case fastws::Opcode::ping:
        went_out(conn, conn.send_frame(fastws::Frame::pong(frame.payload)), "pong");
        break;
      case fastws::Opcode::close:
        went_out(conn,
                 conn.send_frame(fastws::Frame::close(frame.close_code().value_or(1000), "bye")),
                 "close answer");
        break;
      default:
        break;
    }
  });

  return serve(server, "raw_frames", args);
}
