// Output on the io_uring backend: a plain socket's writes are copied into a send buffer of the
// loop's and leave with one IORING_OP_SEND per socket in the iteration's io_uring_enter, at most
// one in flight; short completions send the rest, an error completion ends the connection, and
// closing waits for (or, when cut, cancels) what is in flight. Each test runs on both backends:
// what a peer sees must not depend on the backend.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <string>
#include <vector>

#include "io_uring_support.hpp"
#include "server_test_support.hpp"
#include "test_peer.hpp"

namespace fastws::testing {
namespace {

class UringSend : public ::testing::TestWithParam<IoBackend> {
 protected:
  void SetUp() override {
    if (GetParam() == IoBackend::io_uring && !kernel_offers_io_uring()) {
      GTEST_SKIP() << "this kernel refuses io_uring";
    }
  }
  ServerOptions options() const {
    ServerOptions options = TestServer::default_options();
    options.backend = GetParam();
    return options;
  }
};

// Message i of a burst: its size and bytes tell where it belongs.
std::vector<std::byte> burst_message(std::size_t i) {
  std::vector<std::byte> bytes(1 + (i * 977) % 3000);
  for (std::size_t k = 0; k < bytes.size(); ++k) bytes[k] = static_cast<std::byte>(i * 31 + k);
  return bytes;
}

// Starts `server`: its first connection gets a burst of 2,000 messages at open (more than a
// small window takes, so output waits); every connection echoes what it receives.
void serve_burst_to_first(TestServer& server, Recorded<Conn>& opened,
                          Recorded<CloseStatus>& closed) {
  server.server().on_open([&](const Conn& conn) {
    opened.add(conn);
    if (opened.size() > 1) return;
    for (std::size_t i = 0; i < 2000; ++i) conn.send(burst_message(i), Opcode::binary);
  });
  server.server().on_close([&](const Conn&, const CloseStatus& status) { closed.add(status); });
  server.server().on_message(
      [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
  server.start();
}

// About 1.5 MB sent in one callback to a peer whose window is 16 KiB and that starts reading only
// later: the send buffer fills, the kernel takes its bytes in short completions, the rest waits in
// the backlog, and everything arrives whole and in order.
TEST_P(UringSend, BurstToSlowReaderArrivesWholeAndInOrder) {
  constexpr std::size_t count = 1000;
  std::atomic<int> refused{0};
  TestServer server(options());
  server.server().on_open([&](const Conn& conn) {
    for (std::size_t i = 0; i < count; ++i) {
      const SendStatus status = conn.send(burst_message(i), Opcode::binary);
      if (status == SendStatus::dropped || status == SendStatus::closed) ++refused;
    }
  });
  server.start();
  ASSERT_EQ(server.server().io_backend(), GetParam());
  RawPeer peer(server.port(), 5s * slowdown, 16 * 1024);
  ASSERT_EQ(status_of(peer.handshake()), 101);
  std::this_thread::sleep_for(100ms);  // the kernel's buffers fill meanwhile
  for (std::size_t i = 0; i < count; ++i) {
    auto frame = peer.read_frame();
    ASSERT_TRUE(frame) << "message " << i;
    ASSERT_EQ(frame->payload, burst_message(i)) << "message " << i;
  }
  EXPECT_EQ(refused.load(), 0);
}

// Replies, then the answer to the peer's close, then the end: the peer's message and close come
// in one read and it reads slowly, so when the close handshake ends the output the last bytes are
// in flight on io_uring, waiting for the peer's window. Closing must wait for them (not cancel
// them): the peer gets every reply, then the close frame, then the end.
TEST_P(UringSend, ClosingWaitsForRepliesInFlight) {
  constexpr std::size_t count = 1000;
  TestServer server(options());
  server.server().on_message([](const Conn& conn, const Message&) {
    for (std::size_t i = 0; i < count; ++i) conn.send(burst_message(i), Opcode::binary);
  });
  server.start();
  RawPeer peer(server.port(), 5s * slowdown, 16 * 1024);
  ASSERT_EQ(status_of(peer.handshake()), 101);
  const MaskKey mask{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  Frame message = Frame::text("go");
  message.mask = mask;
  Frame close = Frame::close(1000, "bye");
  close.mask = mask;
  std::vector<std::byte> both = message.serialize();
  const std::vector<std::byte> close_bytes = close.serialize();
  both.insert(both.end(), close_bytes.begin(), close_bytes.end());
  ASSERT_TRUE(peer.send_raw(both));
  std::this_thread::sleep_for(100ms);  // the kernel's buffers fill meanwhile
  for (std::size_t i = 0; i < count; ++i) {
    auto frame = peer.read_frame();
    ASSERT_TRUE(frame) << "reply " << i;
    ASSERT_EQ(frame->payload, burst_message(i)) << "reply " << i;
  }
  auto answer = peer.read_frame();
  ASSERT_TRUE(answer);
  ASSERT_EQ(answer->opcode, Opcode::close);
  EXPECT_EQ(answer->close_code(), 1000);
  EXPECT_FALSE(peer.read_frame());  // then the end
}

// A protocol error: the close frame (1002) goes to the send buffer and the output ends at once
// (shutdown after it, lingering). On io_uring the shutdown must wait for the send it follows, or
// the frame is lost and the peer sees only the end. So must a refused request's response.
TEST_P(UringSend, CloseFrameAndRefusalLeaveBeforeTheFin) {
  TestServer server(options());
  server.server().on_message([](const Conn&, const Message&) {});
  server.start();
  RawPeer peer(server.port());
  ASSERT_EQ(status_of(peer.handshake()), 101);
  Frame reserved = Frame::text("x");
  reserved.opcode = static_cast<Opcode>(0x3);  // a reserved opcode
  ASSERT_TRUE(peer.send_frame(reserved));
  EXPECT_EQ(peer.read_close_code(), close_code::protocol_error);
  EXPECT_TRUE(peer.wait_closed());

  RawPeer refused(server.port());
  ASSERT_TRUE(refused.send_raw("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: oops\r\n\r\n"));
  EXPECT_GE(status_of(refused.read_all()), 400);  // the refusal whole, whatever its status
}

// A peer that resets while output waits for its window: the pending send fails (or the receive
// sees the reset), the connection ends with 1006, and the server goes on serving.
TEST_P(UringSend, ResetWhileSendPendingEndsTheConnection) {
  Recorded<Conn> opened;  // before the server: its callbacks may run until it is destroyed
  Recorded<CloseStatus> closed;
  TestServer server(options());
  serve_burst_to_first(server, opened, closed);
  {
    RawPeer peer(server.port(), 5s, 4096);
    ASSERT_EQ(status_of(peer.handshake()), 101);
    const Conn conn = wait_for_open(opened);
    ASSERT_TRUE(wait_until([&] { return conn.buffered_amount() > 0; }, 2s * slowdown));
    const linger reset{1, 0};
    ::setsockopt(peer.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  }  // closed with a reset
  ASSERT_TRUE(closed.wait_for(1, 2s * slowdown));
  EXPECT_EQ(closed.all()[0].code, close_code::abnormal);
  RawPeer next(server.port());
  ASSERT_EQ(status_of(next.handshake()), 101);
  ASSERT_TRUE(next.send_text("still serving"));
  auto echo = next.read_frame();
  ASSERT_TRUE(echo);
  EXPECT_EQ(to_string(echo->payload), "still serving");
}

// terminate() while a send is in flight on a full socket: the send is cancelled, its buffer
// freed only with its completion (the sanitizer trees check that), and no byte of a later
// connection goes astray.
TEST_P(UringSend, TerminateWithSendInFlightThenServeAnother) {
  Recorded<Conn> opened;  // before the server: its callbacks may run until it is destroyed
  Recorded<CloseStatus> closed;
  TestServer server(options());
  serve_burst_to_first(server, opened, closed);
  RawPeer stalled(server.port(), 5s, 4096);
  ASSERT_EQ(status_of(stalled.handshake()), 101);
  const Conn conn = wait_for_open(opened);
  ASSERT_TRUE(wait_until([&] { return conn.buffered_amount() > 0; }, 2s * slowdown));
  conn.terminate();
  ASSERT_TRUE(closed.wait_for(1, 2s * slowdown));
  RawPeer next(server.port());
  ASSERT_EQ(status_of(next.handshake()), 101);
  for (int i = 0; i < 20; ++i) {
    const std::string text = "message " + std::to_string(i);
    ASSERT_TRUE(next.send_text(text));
    auto echo = next.read_frame();
    ASSERT_TRUE(echo);
    ASSERT_EQ(to_string(echo->payload), text);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, UringSend,
                         ::testing::Values(IoBackend::epoll, IoBackend::io_uring),
                         [](const auto& backend) { return std::string(name_of(backend.param)); });

}  // namespace
}  // namespace fastws::testing
