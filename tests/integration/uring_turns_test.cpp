// Turns on io_uring: the loop receives for its streams itself (multishot receives into provided
// buffers), and a burst already in a socket comes back as many completions at once. Each
// iteration hands a stream at most one turn of bytes (EventLoopOptions::read_buffer_size, as one
// read takes on epoll); the rest is held for the next iterations, behind the other streams, and
// nothing of it is lost, reordered or left waiting while the loop sleeps.
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "event_loop_test_support.hpp"

namespace fastws::net {
namespace {

using namespace std::chrono_literals;

// One turn: a single provided buffer (16 KiB), so that a burst spans many turns.
constexpr std::size_t turn_bytes = 16 * 1024;
constexpr std::size_t burst_bytes = 128 * 1024;

std::unique_ptr<EventLoop> make_uring_loop() {
  return make_loop({.read_buffer_size = turn_bytes, .backend = IoBackend::io_uring});
}

std::byte pattern(std::size_t offset) {
  return static_cast<std::byte>((offset * 7 + 3) & 0xFF);
}

// Writes `size` bytes of the pattern, continuing from `offset`, all of them (the socket's buffer
// holds a burst this small).
void write_pattern(int fd, std::size_t offset, std::size_t size) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = pattern(offset + i);
  std::size_t written = 0;
  while (written < size) {
    const ssize_t n = ::send(fd, bytes.data() + written, size - written, MSG_NOSIGNAL);
    ASSERT_GT(n, 0) << std::strerror(errno);
    written += static_cast<std::size_t>(n);
  }
}

// Records what it receives: the bytes in order (checked against the pattern) and how many came
// in the current iteration.
class RecordingStream final : public StreamHandler {
 public:
  std::size_t received = 0;
  std::size_t this_iteration = 0;
  std::size_t most_in_an_iteration = 0;
  std::size_t out_of_pattern = 0;
  int ends = 0;
  // Another stream's `received` when this one first got bytes.
  const RecordingStream* watched = nullptr;
  std::size_t watched_at_first_bytes = SIZE_MAX;

  void on_io(std::uint32_t) override {}  // io_uring: input comes with on_received()
  void on_received(std::span<std::byte> data) override {
    if (received == 0 && watched != nullptr) watched_at_first_bytes = watched->received;
    for (std::size_t i = 0; i < data.size(); ++i) {
      if (data[i] != pattern(received + i)) ++out_of_pattern;
    }
    received += data.size();
    this_iteration += data.size();
    most_in_an_iteration = std::max(most_in_an_iteration, this_iteration);
  }
  void on_receive_end(std::error_code) override { ++ends; }
  void on_sent() override {}
  void on_send_failed(std::error_code) override {}
};

// Runs iterations until `done()` or 200 of them, each allowed to wait up to a second; returns how
// long they took.
template <typename Done>
std::chrono::steady_clock::duration run_until(EventLoop& loop,
                                              std::vector<RecordingStream*> streams, Done done) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 200 && !done(); ++i) {
    for (RecordingStream* stream : streams) stream->this_iteration = 0;
    loop.run_once(1s);
  }
  return std::chrono::steady_clock::now() - start;
}

TEST(UringTurns, ABurstIsHandedOverOneTurnPerIterationBehindTheOtherStreams) {
  auto loop = make_uring_loop();
  if (loop->backend() != IoBackend::io_uring) GTEST_SKIP() << "this kernel refuses io_uring";
  SocketPair busy_pair = make_socket_pair();
  SocketPair quiet_pair = make_socket_pair();
  RecordingStream busy;
  RecordingStream quiet;
  quiet.watched = &busy;
  // Both bursts wait in their sockets before the first receive is armed.
  write_pattern(busy_pair.peer_side.get(), 0, burst_bytes);
  write_pattern(quiet_pair.peer_side.get(), 0, 10);
  ASSERT_FALSE(loop->add_stream(busy_pair.loop_side.get(), EPOLLIN, busy));
  ASSERT_FALSE(loop->add_stream(quiet_pair.loop_side.get(), EPOLLIN, quiet));

  // Held bytes are input ready now: the loop does not sleep on them (a wait of a second per
  // iteration would show).
  const auto took = run_until(*loop, {&busy, &quiet},
                              [&] { return busy.received == burst_bytes && quiet.received == 10; });
  EXPECT_LT(took, 900ms);
  EXPECT_EQ(busy.received, burst_bytes);
  EXPECT_EQ(quiet.received, 10u);
  // The quiet stream's bytes came in the first turn, not after the whole burst (eight turns).
  EXPECT_LE(quiet.watched_at_first_bytes, turn_bytes);
  EXPECT_LE(busy.most_in_an_iteration, turn_bytes);
  EXPECT_EQ(busy.out_of_pattern, 0u);
  EXPECT_EQ(quiet.out_of_pattern, 0u);

  // The receive stopped while a whole turn was held and goes on afterwards.
  write_pattern(busy_pair.peer_side.get(), burst_bytes, 5000);
  run_until(*loop, {&busy}, [&] { return busy.received == burst_bytes + 5000; });
  EXPECT_EQ(busy.received, burst_bytes + 5000);
  EXPECT_EQ(busy.out_of_pattern, 0u);
  EXPECT_EQ(busy.ends, 0);
  EXPECT_FALSE(loop->remove(busy_pair.loop_side.get(), busy));
  EXPECT_FALSE(loop->remove(quiet_pair.loop_side.get(), quiet));
}

TEST(UringTurns, AStreamRemovedWhileItsBytesAreHeldGivesItsBuffersBack) {
  auto loop = make_uring_loop();
  if (loop->backend() != IoBackend::io_uring) GTEST_SKIP() << "this kernel refuses io_uring";
  // Several rounds, each removing a stream with most of a burst held: if the held buffers were
  // not given back, the loop's 256 provided buffers would run out within 40 rounds.
  for (int round = 0; round < 40; ++round) {
    SocketPair pair = make_socket_pair();
    RecordingStream stream;
    write_pattern(pair.peer_side.get(), 0, burst_bytes);
    ASSERT_FALSE(loop->add_stream(pair.loop_side.get(), EPOLLIN, stream));
    run_until(*loop, {&stream}, [&] { return stream.received > 0; });
    ASSERT_GT(stream.received, 0u);
    ASSERT_LT(stream.received, burst_bytes) << "the burst was not cut into turns";
    EXPECT_FALSE(loop->remove(pair.loop_side.get(), stream));
    const std::size_t at_removal = stream.received;
    loop->run_once(0ms);
    EXPECT_EQ(stream.received, at_removal) << "bytes after the removal";
  }
  // A stream registered afterwards still gets a whole burst.
  SocketPair pair = make_socket_pair();
  RecordingStream stream;
  write_pattern(pair.peer_side.get(), 0, burst_bytes);
  ASSERT_FALSE(loop->add_stream(pair.loop_side.get(), EPOLLIN, stream));
  run_until(*loop, {&stream}, [&] { return stream.received == burst_bytes; });
  EXPECT_EQ(stream.received, burst_bytes);
  EXPECT_EQ(stream.out_of_pattern, 0u);
  EXPECT_FALSE(loop->remove(pair.loop_side.get(), stream));
}

}  // namespace
}  // namespace fastws::net
