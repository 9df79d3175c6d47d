// Messages in assembly against a real server on 127.0.0.1 (issue 16, defect 3): peers send the
// first frames of messages, compressed ones inflating to megabytes from a few KB, and never
// finish them. The server-wide budget (ServerOptions::max_assembly_bytes) closes the largest
// message's connection; the message timeout closes one not finished in time, whatever its
// fragments do to the idle timer.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "deflate_peer.hpp"
#include "server_test_support.hpp"
#include "support/live_heap.hpp"

namespace fastws::testing {
namespace {

constexpr std::size_t MiB = 1u << 20;
constexpr std::size_t KiB = 1u << 10;
using test::live_heap;
using test::sanitized_allocator;

// A field of /proc/self/status in bytes ("VmRSS:   1234 kB" -> 1263616).
std::size_t status_bytes(std::string_view field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with(field)) return std::stoul(line.substr(field.size() + 1)) * KiB;
  }
  return 0;
}
// The peak resident set since reset_peak_rss().
std::size_t peak_rss() {
  return status_bytes("VmHWM:");
}
void reset_peak_rss() {
  std::ofstream("/proc/self/clear_refs") << "5";  // proc(5): VmHWM restarts from VmRSS
}

// `size` bytes ('a's) deflated after what `zlib` compressed before; `fin` ends the message (its
// 00 00 ff ff tail goes, RFC 7692 7.2.1).
std::vector<std::byte> deflated(Zlib& zlib, std::size_t size, bool fin) {
  return zlib.deflate_piece(std::vector<std::byte>(size, std::byte{'a'}), Z_SYNC_FLUSH, fin);
}

Frame data_frame(Opcode opcode, std::vector<std::byte> payload, bool fin, bool compressed) {
  Frame frame;
  frame.opcode = opcode;
  frame.fin = fin;
  frame.rsv1 = compressed;
  frame.payload = std::move(payload);
  return frame;
}

// Sends a ping and reads up to its pong, or up to a close frame: either way the server has
// processed everything sent before. Nothing on timeout or end of connection.
std::optional<Frame> round_trip(RawPeer& peer) {
  peer.send_frame(Frame::ping());
  while (auto frame = peer.read_frame()) {
    if (frame->opcode == Opcode::pong || frame->opcode == Opcode::close) return frame;
  }
  return std::nullopt;
}

// The next close frame from the server (the frames before it skipped), or nothing.
std::optional<Frame> next_close(RawPeer& peer) {
  while (auto frame = peer.read_frame()) {
    if (frame->opcode == Opcode::close) return frame;
  }
  return std::nullopt;
}

// A client that negotiated permessage-deflate and sends one binary message at a time, in
// compressed pieces.
class DeflatePeer {
 public:
  explicit DeflatePeer(std::uint16_t port) : peer_(port, 5s) {
    const std::string head =
        peer_.handshake("/", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    upgraded_ = status_of(head) == 101 && !field_of(head, "Sec-WebSocket-Extensions").empty();
  }
  bool upgraded() const { return upgraded_; }

  // The next piece of the message: `payload` is compressed; the first piece opens the message,
  // `fin` ends it.
  void send_piece(std::vector<std::byte> payload, bool fin) {
    peer_.send_frame(
        data_frame(open_ ? Opcode::continuation : Opcode::binary, std::move(payload), fin, !open_));
    open_ = !fin;
  }
  // `size` more bytes of the message, compressed with this peer's own stream.
  void send_bytes(std::size_t size, bool fin) {
    if (!zlib_) zlib_ = std::make_unique<Zlib>();  // not before: its 300 KB would blur heap figures
    send_piece(deflated(*zlib_, size, fin), fin);
  }

  std::optional<Frame> round_trip() { return testing::round_trip(peer_); }
  std::optional<Frame> next_close() { return testing::next_close(peer_); }

 private:
  RawPeer peer_;
  std::unique_ptr<Zlib> zlib_;
  bool upgraded_ = false;
  bool open_ = false;
};

bool is_pong(const std::optional<Frame>& frame) {
  return frame && frame->opcode == Opcode::pong;
}
bool is_close(const std::optional<Frame>& frame, std::uint16_t code) {
  return frame && frame->opcode == Opcode::close && frame->close_code() == code;
}

// A server with permessage-deflate that records what reaches the application, and keeps every
// connection's handle (so a closed connection's object lives on: its memory must go anyway).
// `reply`, when given, also sees every message (on the loop thread).
class RecordingServer {
 public:
  using Reply = std::function<void(RecordingServer&, const Conn&, const Message&)>;

  explicit RecordingServer(ServerOptions options, Reply reply = {})
      : server_(std::move(options)), reply_(std::move(reply)) {
    server_.server().on_open([this](const Conn& conn) { opened_.add(conn); });
    server_.server().on_message([this](const Conn& conn, Message message) {
      messages_.add(message.size());
      if (reply_) reply_(*this, conn, message);
    });
    server_.server().on_error([this](const Conn&, const CloseStatus& status) {
      errors_.add(status);
      error_times_.add(std::chrono::steady_clock::now());
      // A budget closes when the total has just gone over it: the victim's memory still counts.
      heap_at_errors_.add(live_heap());
    });
    server_.start();
  }
  static ServerOptions options() {
    ServerOptions options = TestServer::default_options();
    options.compression.enabled = true;
    return options;
  }

  std::uint16_t port() const { return server_.port(); }
  ServerStats stats() { return server_.server().stats(); }

  Recorded<Conn> opened_;
  Recorded<std::size_t> messages_;
  Recorded<CloseStatus> errors_;
  Recorded<std::chrono::steady_clock::time_point> error_times_;
  Recorded<std::size_t> heap_at_errors_;  // live_heap() in each on_error

 private:
  TestServer server_;
  Reply reply_;
};

// =============================================================================================
// The budget

// The attack with default options: 30 peers, each with 16 KB on the wire that inflate to
// an unfinished message of the largest size (16 MiB - 1), held 535 MB before. With the default
// budget of 64 MiB four of them fit; each further one takes the total over, and the connection
// with the largest message in assembly (among equals the newest) is closed with 1013.
TEST(AssemblyBudget, ThirtyUnfinishedMaxSizeCompressedMessagesStayWithinTheDefaultBudget) {
  const ServerOptions options = RecordingServer::options();
  const std::size_t budget = options.max_assembly_bytes;
  const std::size_t message = options.max_message_size - 1;
  ASSERT_EQ(budget, 64 * MiB);
  RecordingServer server(options);
  std::vector<std::byte> first_frame_payload;
  {
    Zlib zlib;
    first_frame_payload = deflated(zlib, message, false);
  }
  ASSERT_LT(first_frame_payload.size(), 32 * KiB);

  constexpr std::size_t peers = 30;
  const std::size_t fitting = budget / options.max_message_size;  // 4
  std::vector<std::unique_ptr<DeflatePeer>> clients;
  for (std::size_t i = 0; i < peers; ++i) {
    clients.push_back(std::make_unique<DeflatePeer>(server.port()));
    ASSERT_TRUE(clients.back()->upgraded()) << i;
  }
  const std::size_t heap_before = live_heap();
  reset_peak_rss();
  std::vector<std::optional<Frame>> answers;
  std::size_t most_counted = 0;
  for (const auto& client : clients) {
    client->send_piece(first_frame_payload, false);
    answers.push_back(client->round_trip());
    most_counted = std::max<std::size_t>(most_counted, server.stats().assembly_bytes);
  }
  const std::size_t peak = peak_rss();

  // Four hold their messages and are open; the budget is full, not over. Which four depends on
  // where the reads cut the frames: a frame inflated in two reads may take the total over
  // halfway, when an older message is the largest.
  std::size_t open = 0;
  for (std::size_t i = 0; i < peers; ++i) {
    if (is_pong(answers[i])) answers[i] = clients[i]->round_trip();
    if (is_pong(answers[i])) {
      ++open;
    } else {
      ASSERT_TRUE(is_close(answers[i], close_code::try_again_later)) << i;
      EXPECT_EQ(answers[i]->close_reason(), "server busy, try again later");
    }
  }
  EXPECT_EQ(open, fitting);
  ASSERT_TRUE(server.errors_.wait_for(peers - fitting));
  for (const CloseStatus& status : server.errors_.all()) {
    EXPECT_EQ(status.code, close_code::try_again_later);
    EXPECT_NE(status.error.find("max_assembly_bytes"), std::string::npos) << status.error;
  }
  // Counted: never over the budget. Held: the four messages (and their zlib states); the closed
  // connections' memory went with the close, though their objects live on (the handles).
  EXPECT_LE(most_counted, budget);
  EXPECT_EQ(server.stats().assembly_bytes, fitting * options.max_message_size);
  const std::size_t held = live_heap() - heap_before;
  EXPECT_LE(held, budget + 2 * MiB);
  // The bound for the whole process (without the budget: 535 MB). On top of the budget:
  // a message inflating in the read that takes the total over, the allocator's keeping.
  if (!sanitized_allocator) {
    EXPECT_LT(peak, 256 * MiB) << "peak RSS";
  }

  clients.clear();
  EXPECT_TRUE(wait_until([&] { return server.stats().connections == 0; }, 5s));
  EXPECT_EQ(server.stats().assembly_bytes, 0u);
  EXPECT_LE(live_heap(), heap_before + 1 * MiB);
  std::fprintf(stderr, "heap held %zu KiB with the budget full, peak RSS %zu KiB\n", held / KiB,
               peak / KiB);
}

// The same attack beside a well-behaved client. The loop is held (a handler waits) while the 30
// bombs arrive, and then the client's message, behind them all. A connection's turn inflates a
// bounded share of its message (SessionConfig::inflate_per_receive, 16 KiB), not the whole of what
// one read brought: so the client is answered after one small turn of each bomb, before any of
// them holds enough for the budget to act (without the bound each turn inflated 16 MiB, 480 MiB
// of zlib's work in all, and 26 bombs were closed by then). Then the bombs grow a turn at a time,
// the client's echoes all come back meanwhile, and the budget sheds the largest as the total
// passes it, so what the server holds stays near the budget (without the bound, a message
// inflated whole before the budget was checked: 16 MiB over it; with a buffer that doubles, up
// to 8 MiB over it).
TEST(AssemblyBudget, AWellBehavedClientIsAnsweredBeforeBombsInAssemblyHaveInflated) {
  const ServerOptions options = RecordingServer::options();
  const std::size_t budget = options.max_assembly_bytes;
  std::latch release_loop(1);
  std::atomic<bool> loop_held{false};
  std::atomic<std::size_t> closed_when_first_answered{SIZE_MAX};
  RecordingServer server(
      options, [&](RecordingServer& self, const Conn& conn, const Message& message) {
        if (message.text() == "hold the loop") {
          loop_held.store(true);
          release_loop.wait();
          return;
        }
        std::size_t unset = SIZE_MAX;
        closed_when_first_answered.compare_exchange_strong(unset, self.errors_.size());
        conn.send(message.text());
      });
  std::vector<std::byte> bomb;
  {
    Zlib zlib;
    bomb = deflated(zlib, options.max_message_size - 1, false);
  }
  constexpr std::size_t bombs = 30;
  const std::size_t fitting = budget / options.max_message_size;  // 4
  std::vector<std::unique_ptr<DeflatePeer>> attackers;
  for (std::size_t i = 0; i < bombs; ++i) {
    attackers.push_back(std::make_unique<DeflatePeer>(server.port()));
    ASSERT_TRUE(attackers.back()->upgraded()) << i;
  }
  RawPeer client(server.port(), 10s), holder(server.port());
  ASSERT_EQ(status_of(client.handshake()), 101);
  ASSERT_EQ(status_of(holder.handshake()), 101);
  const std::size_t heap_before = live_heap();

  ASSERT_TRUE(holder.send_text("hold the loop"));
  ASSERT_TRUE(wait_until([&] { return loop_held.load(); }, 5s));
  for (const auto& attacker : attackers) attacker->send_piece(bomb, false);
  ASSERT_TRUE(client.send_text("echo 0"));
  release_loop.count_down();

  std::optional<Frame> echo = client.read_frame();
  ASSERT_TRUE(echo && echo->payload_text() == "echo 0");
  EXPECT_EQ(closed_when_first_answered.load(), 0u)
      << "bombs closed by the budget before the client behind them was answered";
  // The client goes on while the bombs grow; every echo comes back, intact and in order.
  for (int i = 1; i <= 20; ++i) {
    const std::string text = "echo " + std::to_string(i);
    ASSERT_TRUE(client.send_text(text));
    echo = client.read_frame();
    ASSERT_TRUE(echo && echo->payload_text() == text) << i;
  }

  std::size_t open = 0;
  for (std::size_t i = 0; i < bombs; ++i) {
    std::optional<Frame> answer = attackers[i]->round_trip();
    if (is_pong(answer)) {
      ++open;
    } else {
      EXPECT_TRUE(is_close(answer, close_code::try_again_later)) << i;
    }
  }
  EXPECT_EQ(open, fitting);
  ASSERT_TRUE(server.errors_.wait_for(bombs - fitting));
  for (const CloseStatus& status : server.errors_.all()) {
    EXPECT_EQ(status.code, close_code::try_again_later);
  }
  EXPECT_EQ(server.stats().assembly_bytes, fitting * options.max_message_size);
  // At each close the total had just passed the budget, by one turn's growth of one message (a
  // 64 KiB block); beside it the connections' zlib states (about 40 KiB each) and held input.
  std::size_t peak = 0;
  for (const std::size_t heap : server.heap_at_errors_.all()) peak = std::max(peak, heap);
  EXPECT_LE(peak - heap_before, budget + 4 * MiB) << "heap at the closes, over the start";
  std::fprintf(stderr, "heap at the closes: %zu KiB over the start (budget %zu KiB)\n",
               (peak - heap_before) / KiB, budget / KiB);
}

// Two loops, one budget: peers on both send at once. Each loop sheds its own largest (see
// assembly_watch.hpp), so together they may close one more than needed, never keep more than fits.
TEST(AssemblyBudget, ConcurrentLoopsShareOneBudget) {
  ServerOptions options = RecordingServer::options();
  options.threads = 2;
  options.max_message_size = 4 * MiB;  // the defaults' proportions, a quarter of the work
  options.max_assembly_bytes = 16 * MiB;
  const std::size_t fitting = options.max_assembly_bytes / options.max_message_size;  // 4
  RecordingServer server(options);
  std::vector<std::byte> first_frame_payload;
  {
    Zlib zlib;
    first_frame_payload = deflated(zlib, options.max_message_size - 1, false);
  }
  constexpr std::size_t per_thread = 6;
  std::vector<std::unique_ptr<DeflatePeer>> clients;
  for (std::size_t i = 0; i < 2 * per_thread; ++i) {
    clients.push_back(std::make_unique<DeflatePeer>(server.port()));
    ASSERT_TRUE(clients.back()->upgraded()) << i;
  }
  std::vector<std::optional<Frame>> answers(clients.size());
  const auto drive = [&](std::size_t from) {
    for (std::size_t i = from; i < from + per_thread; ++i) {
      clients[i]->send_piece(first_frame_payload, false);
      answers[i] = clients[i]->round_trip();
    }
  };
  std::thread other(drive, per_thread);
  drive(0);
  other.join();

  std::size_t open = 0;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    if (is_pong(answers[i])) answers[i] = clients[i]->round_trip();
    if (is_pong(answers[i])) {
      ++open;
    } else {
      EXPECT_TRUE(is_close(answers[i], close_code::try_again_later)) << i;
    }
  }
  EXPECT_GE(open, 1u);
  EXPECT_LE(open, fitting);
  EXPECT_EQ(server.stats().assembly_bytes, open * options.max_message_size);
}

// Sizes just under powers of two, so that what the budget counts (the buffers' capacity: a
// compressed message grows in 64 KiB blocks) is the message size to within 64 KiB and the test
// reads the same either way.
constexpr std::size_t under(std::size_t power_of_two) {
  return power_of_two - 64 * KiB;
}

// The connection whose growth takes the total over the budget is not the one closed: the largest
// message in assembly is. The others stay open and finish their messages.
TEST(AssemblyBudget, OverTheBudgetTheLargestMessageIsClosed1013NotTheOneThatGrew) {
  ServerOptions options = RecordingServer::options();
  options.max_assembly_bytes = 12 * MiB;
  RecordingServer server(options);
  DeflatePeer largest(server.port()), small(server.port()), growing(server.port());
  ASSERT_TRUE(largest.upgraded() && small.upgraded() && growing.upgraded());

  largest.send_bytes(under(8 * MiB), false);
  ASSERT_TRUE(is_pong(largest.round_trip()));
  small.send_bytes(under(1 * MiB), false);
  ASSERT_TRUE(is_pong(small.round_trip()));
  growing.send_bytes(under(2 * MiB), false);
  ASSERT_TRUE(is_pong(growing.round_trip()));
  EXPECT_LE(server.stats().assembly_bytes, 11 * MiB);

  // 8 + 1 + 4 MiB: over 12. The growing message is 4 MiB, the largest 8 MiB.
  growing.send_bytes(2 * MiB, false);
  EXPECT_TRUE(is_pong(growing.round_trip()));
  const std::optional<Frame> closed = largest.round_trip();
  ASSERT_TRUE(is_close(closed, close_code::try_again_later));
  EXPECT_EQ(closed->close_reason(), "server busy, try again later");
  EXPECT_LE(server.stats().assembly_bytes, 5 * MiB);

  growing.send_bytes(1 * MiB, true);
  small.send_bytes(64 * KiB, true);
  EXPECT_TRUE(is_pong(growing.round_trip()));
  EXPECT_TRUE(is_pong(small.round_trip()));
  ASSERT_TRUE(server.messages_.wait_for(2));
  // In either order: each turn of a connection inflates a share of its message, so the small
  // message's last 64 KiB may complete before the growing one's last megabyte.
  std::vector<std::size_t> completed = server.messages_.all();
  std::sort(completed.begin(), completed.end());
  EXPECT_EQ(completed, (std::vector<std::size_t>{1 * MiB, under(4 * MiB) + 1 * MiB}));
  EXPECT_EQ(server.stats().assembly_bytes, 0u);
  ASSERT_EQ(server.errors_.size(), 1u);
  EXPECT_EQ(server.errors_.all()[0].code, close_code::try_again_later);
}

// A message that alone holds more than the whole budget can never be received, however idle the
// server: 1009, not "try again later". (With others holding part of the budget, a message that
// grows over several reads may take the total over before it is over the budget alone: 1013.)
TEST(AssemblyBudget, AMessageLargerThanTheWholeBudgetIs1009) {
  ServerOptions options = RecordingServer::options();
  options.max_assembly_bytes = 4 * MiB;
  RecordingServer server(options);
  DeflatePeer bystander(server.port()), huge(server.port());
  ASSERT_TRUE(bystander.upgraded() && huge.upgraded());

  huge.send_bytes(6 * MiB, false);  // within max_message_size (16 MiB), over the budget alone
  const std::optional<Frame> closed = huge.next_close();
  ASSERT_TRUE(is_close(closed, close_code::message_too_big));
  EXPECT_EQ(closed->close_reason(), "message too big for the server");
  EXPECT_TRUE(is_pong(bystander.round_trip()));
  EXPECT_EQ(server.stats().assembly_bytes, 0u);
}

// Uncompressed messages count too: a frame that spans reads is reassembled in a buffer. Alone
// over the budget, it is 1009; a connection with nothing in assembly is not touched.
TEST(AssemblyBudget, AnUncompressedMessageInAssemblyCountsToo) {
  ServerOptions options = TestServer::default_options();
  options.max_assembly_bytes = 1 * MiB;
  RecordingServer server(options);
  RawPeer huge(server.port()), bystander(server.port());
  ASSERT_EQ(status_of(huge.handshake()), 101);
  ASSERT_EQ(status_of(bystander.handshake()), 101);

  huge.send_frame(data_frame(Opcode::binary, std::vector<std::byte>(3 * MiB / 2, std::byte{'u'}),
                             false, false));
  EXPECT_TRUE(is_close(next_close(huge), close_code::message_too_big));
  EXPECT_TRUE(is_pong(round_trip(bystander)));
  EXPECT_EQ(server.stats().assembly_bytes, 0u);
}

// =============================================================================================
// The message timeout

// A message must be complete within message_timeout of its first frame. The peer that trickles
// one fragment every 50 ms (which keeps the idle timer away) is closed 1008 after 1 to 1.25
// timeouts; one that finishes each message in time is not, though its connection carries
// fragmented messages for longer than a timeout: the clock starts anew with each message.
TEST(MessageTimeout, AMessageNotFinishedInTimeIs1008WhateverItsFragmentsDo) {
  ServerOptions options = TestServer::default_options();
  options.message_timeout = 500ms;
  RecordingServer server(options);
  RawPeer trickler(server.port()), prompt(server.port());
  ASSERT_EQ(status_of(trickler.handshake()), 101);
  ASSERT_EQ(status_of(prompt.handshake()), 101);

  const auto start = std::chrono::steady_clock::now();
  trickler.send_frame(Frame::text("a", false));
  prompt.send_frame(Frame::text("x", false));
  for (int tick = 1; tick <= 20; ++tick) {  // 1 s
    std::this_thread::sleep_until(start + tick * 50ms);
    trickler.send_frame(Frame::continuation(to_bytes("b"), false));
    // The prompt peer's messages take 250 ms each: from 0 to 250 ms and from 400 to 650 ms.
    if (tick == 5 || tick == 13) prompt.send_frame(Frame::continuation(to_bytes("y"), true));
    if (tick == 8) prompt.send_frame(Frame::text("x", false));
  }

  const std::optional<Frame> close = next_close(trickler);
  ASSERT_TRUE(is_close(close, close_code::policy_violation));
  EXPECT_EQ(close->close_reason(), "message took too long");
  ASSERT_TRUE(server.errors_.wait_for(1));
  EXPECT_EQ(server.errors_.size(), 1u);
  EXPECT_NE(server.errors_.all()[0].error.find("message timeout"), std::string::npos);
  const auto cut_after = server.error_times_.all()[0] - start;
  EXPECT_GE(cut_after, 500ms);
  // 1 to 1.25 timeouts and up to a timer tick (100 ms) late; the rest is room for a busy machine.
  EXPECT_LT(cut_after, 2 * 500ms);

  prompt.send_frame(Frame::ping());
  EXPECT_TRUE(is_pong(prompt.read_frame()));
  EXPECT_EQ(server.messages_.all(), (std::vector<std::size_t>{2, 2}));
}

// Each message has its own time, even when the next one begins in the turn that completes it.
// A peer sends 30 compressed messages at once; each inflates over several turns (a turn inflates
// a 16 KiB share), so every turn ends with a message in assembly, and the application takes
// 20 ms per message: 600 ms in all, three message timeouts, each message well within one.
TEST(MessageTimeout, EachMessageHasItsOwnTimeWhenTheNextBeginsInTheSameTurn) {
  ServerOptions options = RecordingServer::options();
  options.message_timeout = 200ms;
  RecordingServer server(options, [](RecordingServer&, const Conn&, const Message&) {
    std::this_thread::sleep_for(20ms);
  });
  DeflatePeer peer(server.port());
  ASSERT_TRUE(peer.upgraded());

  constexpr std::size_t messages = 30;
  for (std::size_t i = 0; i < messages; ++i) peer.send_bytes(40 * KiB, true);
  ASSERT_TRUE(server.messages_.wait_for(messages, 5s));
  EXPECT_TRUE(is_pong(peer.round_trip()));
  EXPECT_EQ(server.errors_.size(), 0u);
}

}  // namespace
}  // namespace fastws::testing
