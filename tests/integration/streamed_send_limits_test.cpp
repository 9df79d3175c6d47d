// Streamed sends at the send buffer limit (issue 16, defect 2): a message streamed in pieces
// (Conn::writer(), or built frame by frame with send_frame) is sent whole or dropped whole. The
// limit judges it at its first piece; once begun it is finished, or the connection is closed,
// never sent with a piece missing. Sends waiting for a streamed message count against the limit,
// and none reports queued for bytes that never leave. send_frame refuses a frame that would
// break the message sequence (RFC 6455 5.4) unless asked not to check.
//
// What arrives is checked frame by frame at a raw client: every message complete and equal to
// the one echoed, or absent; no continuation outside a message, no message inside another, no
// message left open.
#include <gtest/gtest.h>

#include <array>
#include <condition_variable>
#include <deque>
#include <set>

#include "server_test_support.hpp"
#include "test_peer.hpp"

namespace fastws::testing {
namespace {

// ---- What the client receives, message by message ----

struct WireMessage {
  Opcode opcode;
  std::string payload;
};

// Reassembles the frames a client reads; `problem` says how the sequence broke, if it did.
class WireMessages {
 public:
  // Reads until a close frame arrives (its code is returned; 0 if the connection ended first).
  std::uint16_t read_until_close(RawPeer& peer) {
    while (auto frame = peer.read_frame()) {
      if (frame->opcode == Opcode::close) {
        if (open_ && problem.empty()) problem = "the close frame came inside an unfinished message";
        return frame->close_code().value_or(close_code::no_status);
      }
      take(*frame);
    }
    if (open_ && problem.empty()) problem = "the connection ended inside an unfinished message";
    return 0;
  }

  void take(const Frame& frame) {
    if (is_control(frame.opcode)) {
      controls.push_back(frame);
      return;
    }
    if (frame.opcode == Opcode::continuation) {
      if (!open_ && problem.empty()) problem = "a continuation outside a message";
    } else {
      if (open_ && problem.empty()) problem = "a new message inside a fragmented one";
      open_ = true;
      current_ = {frame.opcode, {}};
    }
    current_.payload += frame.payload_text();
    if (frame.fin) {
      messages.push_back(std::move(current_));
      current_ = {};
      open_ = false;
    }
  }

  std::vector<WireMessage> messages;
  std::vector<Frame> controls;
  std::string problem;

 private:
  bool open_ = false;
  WireMessage current_{Opcode::continuation, {}};
};

// ---- Messages the client sends and expects back ----

// 24 MiB: more than the 4 MiB limit plus all the kernel can hold in flight (a send buffer that
// autotunes up to tcp_wmem's 4 MiB, and the client's receive buffer), even when a slow
// (sanitized) loop lets the kernel drain between pieces.
constexpr int kMessages = 128;
constexpr std::size_t kMessageSize = 192 * 1024;

// "m0012|" then letters that depend on the index and the position, so that a message with a
// piece missing, or pieces of two messages, never equals a message sent.
std::string message_of(int index) {
  char head[16];
  std::snprintf(head, sizeof head, "m%04d|", index);
  std::string message(head);
  message.reserve(kMessageSize);
  while (message.size() < kMessageSize) {
    message += static_cast<char>('a' + (message.size() / 7 + static_cast<std::size_t>(index)) % 26);
  }
  return message;
}

int index_of(std::string_view message) {
  int index = -1;
  return std::sscanf(std::string(message.substr(0, 6)).c_str(), "m%4d|", &index) == 1 ? index : -1;
}

// ---- The server: echoes each message in three pieces ----

enum class Streamer {
  writer_on_loop,          // Conn::writer() in on_message
  writer_on_other_thread,  // Conn::writer() on a user thread (sends queued to the loop)
  frames_on_loop,          // send_frame: binary fin=0, continuation, continuation fin=1
};

struct Echo {
  int index = -1;
  std::array<SendStatus, 3> statuses{};
  std::size_t buffered = 0;  // buffered_amount() after the last piece
};

std::array<std::string_view, 3> thirds(std::string_view message) {
  const std::size_t third = message.size() / 3;
  return {message.substr(0, third), message.substr(third, third), message.substr(2 * third)};
}

std::array<SendStatus, 3> stream_in_pieces(const Conn& conn, std::string_view message,
                                           bool as_frames) {
  const auto pieces = thirds(message);
  if (as_frames) {
    return {conn.send_frame(Frame::binary(to_bytes(pieces[0]), /*fin=*/false)),
            conn.send_frame(Frame::continuation(to_bytes(pieces[1]), /*fin=*/false)),
            conn.send_frame(Frame::continuation(to_bytes(pieces[2]), /*fin=*/true))};
  }
  Writer writer = conn.writer(Opcode::binary);
  const SendStatus first = writer.write(pieces[0]);
  const SendStatus second = writer.write(pieces[1]);
  return {first, second, writer.finish(pieces[2])};
}

// Messages handed from the loop to a user thread that streams them back, then closes.
class EchoThread {
 public:
  explicit EchoThread(Recorded<Echo>& echoes) : echoes_(echoes), thread_([this] { run(); }) {}
  ~EchoThread() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  // Loop thread: an empty message means "close when done".
  void hand_over(const Conn& conn, std::string message) {
    {
      std::lock_guard lock(mutex_);
      work_.emplace_back(conn, std::move(message));
    }
    wake_.notify_one();
  }

 private:
  void run() {
    while (true) {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !work_.empty(); });
      if (work_.empty()) return;
      auto [conn, message] = std::move(work_.front());
      work_.pop_front();
      lock.unlock();
      if (message.empty()) {
        conn.close(close_code::normal, "done");
        continue;
      }
      Echo echo{index_of(message), stream_in_pieces(conn, message, /*as_frames=*/false)};
      echo.buffered = conn.buffered_amount();
      echoes_.add(echo);
    }
  }

  Recorded<Echo>& echoes_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<Conn, std::string>> work_;
  bool stopping_ = false;
  std::thread thread_;
};

bool leaves(SendStatus status) {
  return status == SendStatus::written || status == SendStatus::backpressure ||
         status == SendStatus::queued;
}

// A client sends kMessages messages and an "end" without reading, pauses, then reads it all.
// The server, with default options (4 MiB limit, drop policy), streams each one back in three
// pieces (on the loop or from a user thread), all at "end", then closes.
void echo_to_a_pausing_client(Streamer streamer) {
  Recorded<Echo> echoes;
  std::unique_ptr<EchoThread> echo_thread;  // outlives the server, whose handler uses it
  if (streamer == Streamer::writer_on_other_thread) {
    echo_thread = std::make_unique<EchoThread>(echoes);
  }
  std::vector<std::string> held;  // loop thread: the messages to echo at "end"
  TestServer server;              // default options
  server.server().on_message([&](const Conn& conn, Message message) {
    // The echoes all start at "end": a server whose output is over its limit stops reading that
    // connection, so echoes made one per message read would never meet the limit.
    if (!message.is_text()) {
      held.emplace_back(message.text());
      return;
    }
    if (echo_thread) {
      for (std::string& text : held) echo_thread->hand_over(conn, std::move(text));
      echo_thread->hand_over(conn, {});
      return;
    }
    for (const std::string& text : held) {
      Echo echo{index_of(text), stream_in_pieces(conn, text, streamer == Streamer::frames_on_loop)};
      echo.buffered = conn.buffered_amount();
      echoes.add(echo);
    }
    conn.close(close_code::normal, "done");
  });
  server.start();
  // A small receive window from the start: the kernel then holds little of what the server
  // sends, so the echoes must meet the limit (with the buffer shrunk after connecting, an ASan
  // run once had all 24 MiB taken).
  RawPeer peer(server.port(), 5s, 64 * 1024);
  ASSERT_NE(peer.handshake().find(" 101 "), std::string::npos);

  // The client sends from a thread of its own: a server that stops reading a connection whose
  // output is over its limit must not stall the test.
  std::thread sender([&] {
    for (int i = 0; i < kMessages; ++i) {
      if (!peer.send_frame(Frame::binary(to_bytes(message_of(i))))) return;
    }
    peer.send_text("end");
  });
  // The pause: until every message was echoed, or the echoes stopped coming.
  std::size_t seen = 0;
  for (int quiet = 0; quiet < 6 && echoes.size() < static_cast<std::size_t>(kMessages);) {
    std::this_thread::sleep_for(50ms);
    quiet = echoes.size() == seen ? quiet + 1 : 0;
    seen = echoes.size();
  }
  WireMessages wire;
  const std::uint16_t code = wire.read_until_close(peer);
  sender.join();

  EXPECT_EQ(wire.problem, "");
  EXPECT_EQ(code, close_code::normal) << "the echoes never finished: the connection is wedged";
  const std::vector<Echo> all = echoes.all();
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kMessages));

  // Decided at the first piece: all of a message leaves, or none of it.
  std::set<int> admitted;
  std::size_t most_buffered = 0;
  for (const Echo& echo : all) {
    SCOPED_TRACE("message " + std::to_string(echo.index));
    if (leaves(echo.statuses[0])) {
      admitted.insert(echo.index);
      EXPECT_TRUE(leaves(echo.statuses[1]) && leaves(echo.statuses[2]))
          << "a piece of a begun message was refused: " << to_string(echo.statuses[1]) << ", "
          << to_string(echo.statuses[2]);
    } else {
      EXPECT_EQ(echo.statuses[0], SendStatus::dropped);
      EXPECT_FALSE(leaves(echo.statuses[1]) || leaves(echo.statuses[2]))
          << "a piece of a dropped message was accepted";
    }
    most_buffered = std::max(most_buffered, echo.buffered);
  }
  EXPECT_GT(admitted.size(), 0u);
  EXPECT_LT(admitted.size(), all.size()) << "nothing was dropped: the limit was never reached";
  // The buffer holds at most the limit, plus the rest of the message begun under it.
  EXPECT_LE(most_buffered, ServerOptions{}.max_buffered_bytes + kMessageSize);

  // Every message accepted arrives whole, in order; nothing else arrives.
  std::set<int> arrived;
  int previous = -1;
  for (const WireMessage& message : wire.messages) {
    const int index = index_of(message.payload);
    ASSERT_GE(index, 0) << "a message that was never sent: " << message.payload.substr(0, 16);
    EXPECT_GT(index, previous) << "out of order";
    previous = index;
    EXPECT_EQ(message.opcode, Opcode::binary);
    EXPECT_TRUE(message.payload == message_of(index))
        << "message " << index << " arrived damaged (" << message.payload.size() << " bytes)";
    arrived.insert(index);
  }
  EXPECT_EQ(arrived, admitted) << "messages reported accepted must arrive, and only they";
}

TEST(StreamedSendLimits, WriterOnTheLoopSendsEachMessageWholeOrNotAtAll) {
  echo_to_a_pausing_client(Streamer::writer_on_loop);
}

TEST(StreamedSendLimits, WriterOnAnotherThreadSendsEachMessageWholeOrNotAtAll) {
  echo_to_a_pausing_client(Streamer::writer_on_other_thread);
}

TEST(StreamedSendLimits, FramesBuiltMessagesAreSentWholeOrNotAtAll) {
  echo_to_a_pausing_client(Streamer::frames_on_loop);
}

// ---- Sends that wait for a streamed message ----

TEST(StreamedSendLimits, SendsWaitingForAStreamedMessageCountAgainstTheLimit) {
  constexpr std::size_t kLimit = 1u << 20;
  constexpr std::size_t kChunk = 256 * 1024;
  constexpr int kChunks = 12;  // 3 MiB wait for the open message; the limit admits 1 MiB
  ServerOptions options = TestServer::default_options();
  options.max_buffered_bytes = kLimit;
  Recorded<SendStatus> statuses;
  Recorded<std::size_t> buffered;
  TestServer server(options);
  server.server().on_message([&](const Conn& conn, Message) {
    Writer writer = conn.writer(Opcode::text);
    statuses.add(writer.write("open "));
    for (int i = 0; i < kChunks; ++i) {
      statuses.add(conn.send(std::string(kChunk, static_cast<char>('a' + i))));
      buffered.add(conn.buffered_amount());
    }
    statuses.add(writer.finish("closed"));
  });
  server.start();
  RawPeer peer(server.port());
  ASSERT_NE(peer.handshake().find(" 101 "), std::string::npos);
  peer.send_text("go");
  ASSERT_TRUE(statuses.wait_for(kChunks + 2));

  const std::vector<SendStatus> all = statuses.all();
  EXPECT_EQ(all.front(), SendStatus::written);
  std::size_t waited = 0, dropped = 0;
  for (int i = 0; i < kChunks; ++i) {
    const SendStatus status = all[static_cast<std::size_t>(i) + 1];
    if (status == SendStatus::queued) {
      EXPECT_EQ(dropped, 0u) << "chunk " << i << " queued after an earlier one was dropped";
      ++waited;
    } else {
      EXPECT_EQ(status, SendStatus::dropped) << "chunk " << i;
      ++dropped;
    }
  }
  EXPECT_EQ(waited, kLimit / kChunk);
  for (std::size_t amount : buffered.all()) EXPECT_LE(amount, kLimit);
  EXPECT_TRUE(leaves(all.back()));

  // The streamed message, then exactly the sends reported queued.
  peer.set_timeout(3s);
  WireMessages wire;
  while (wire.messages.size() < 1 + waited) {
    auto frame = peer.read_frame();
    ASSERT_TRUE(frame) << "after " << wire.messages.size() << " messages";
    wire.take(*frame);
  }
  EXPECT_EQ(wire.problem, "");
  EXPECT_EQ(wire.messages[0].payload, "open closed");
  for (std::size_t i = 0; i < waited; ++i) {
    EXPECT_EQ(wire.messages[i + 1].payload, std::string(kChunk, static_cast<char>('a' + i)));
  }
}

// ---- A begun message that cannot be finished within bounds ----

// A writer that streams without end to a client that never reads: its pieces are never dropped
// one by one; when the buffer would pass max_buffered_bytes + max_message_size, the connection
// is closed (1008) instead.
void stream_past_the_ceiling(bool from_loop_thread) {
  constexpr std::size_t kLimit = 256 * 1024;
  constexpr std::size_t kPiece = 64 * 1024;
  constexpr int kMostPieces = 400;  // 25 MiB: far past the kernel buffers and the ceiling
  ServerOptions options = TestServer::default_options();
  options.max_buffered_bytes = kLimit;
  options.max_message_size = kLimit;
  Recorded<Conn> opened;
  Recorded<CloseStatus> closes;
  Recorded<SendStatus> statuses;
  std::size_t most_buffered = 0;
  TestServer server(options);
  const std::string piece(kPiece, 'p');
  const auto stream = [&](const Conn& conn) {
    Writer writer = conn.writer(Opcode::binary);
    for (int i = 0; i < kMostPieces; ++i) {
      const SendStatus status = writer.write(piece);
      most_buffered = std::max(most_buffered, conn.buffered_amount());
      statuses.add(status);  // after most_buffered: the test reads it once it saw the last one
      if (!leaves(status)) break;
    }
  };
  server.server().on_open([&](const Conn& conn) { opened.add(conn); });
  server.server().on_message([&](const Conn& conn, Message) {
    if (from_loop_thread) stream(conn);
  });
  server.server().on_close([&](const Conn&, const CloseStatus& status) { closes.add(status); });
  server.start();
  RawPeer peer(server.port(), 5s, 64 * 1024);  // small from the start, as above
  ASSERT_NE(peer.handshake().find(" 101 "), std::string::npos);
  const Conn conn = wait_for_open(opened);
  ASSERT_TRUE(conn);
  if (from_loop_thread) {
    peer.send_text("go");
    ASSERT_TRUE(
        wait_until([&] { return !statuses.all().empty() && !leaves(statuses.all().back()); }, 5s));
  } else {
    stream(conn);
  }

  const std::vector<SendStatus> all = statuses.all();
  ASSERT_LT(all.size(), static_cast<std::size_t>(kMostPieces)) << "the ceiling was never reached";
  EXPECT_EQ(all.back(), SendStatus::dropped);
  EXPECT_EQ(std::count(all.begin(), all.end(), SendStatus::dropped), 1);
  EXPECT_LE(most_buffered, kLimit + options.max_message_size);
  ASSERT_TRUE(closes.wait_for(1));
  EXPECT_EQ(closes.all().front().code, close_code::policy_violation);
  EXPECT_FALSE(conn.is_open());
  EXPECT_EQ(conn.send("late"), SendStatus::dropped);
}

TEST(StreamedSendLimits, OnTheLoopABegunMessagePastTheCeilingClosesTheConnection) {
  stream_past_the_ceiling(/*from_loop_thread=*/true);
}

TEST(StreamedSendLimits, FromAnotherThreadABegunMessagePastTheCeilingClosesTheConnection) {
  stream_past_the_ceiling(/*from_loop_thread=*/false);
}

// ---- send_frame and the message sequence ----

// The same calls on the loop thread and from another one; only "accepted" differs (written or
// queued).
std::vector<SendStatus> craft_sequence(const Conn& conn) {
  return {
      conn.send_frame(Frame::continuation(to_bytes("orphan"), true)),  // no message is open
      conn.send_frame(Frame::text("one-", false)),                     // opens one
      conn.send_frame(Frame::text("intruder")),                        // inside it
      conn.send("waits"),                           // another message: waits for the open one
      conn.send_frame(Frame::ping(to_bytes("p"))),  // control frames may come in between
      conn.send_frame(Frame::continuation(to_bytes("two"), true)),  // ends it
      conn.send_frame(Frame::text("after", false), FrameSequence::unchecked),
      conn.send_frame(Frame::text("inside"), FrameSequence::unchecked),  // as asked
      conn.send_frame(Frame::continuation(to_bytes("end"), true), FrameSequence::unchecked),
  };
}

void check_crafted_sequence(const std::vector<SendStatus>& statuses, SendStatus accepted,
                            RawPeer& peer) {
  const std::vector<SendStatus> expected = {
      SendStatus::invalid,  // orphan
      accepted,             // one-
      SendStatus::invalid,  // intruder
      SendStatus::queued,   // waits
      accepted,             // ping
      accepted,             // two
      accepted,             // after, unchecked
      accepted,             // inside, unchecked
      accepted,             // end, unchecked
  };
  EXPECT_EQ(statuses, expected);
  struct Seen {
    Opcode opcode;
    bool fin;
    std::string payload;
    bool operator==(const Seen&) const = default;
  };
  const std::vector<Seen> wire = {
      {Opcode::text, false, "one-"},       {Opcode::ping, true, "p"},
      {Opcode::continuation, true, "two"}, {Opcode::text, true, "waits"},
      {Opcode::text, false, "after"},      {Opcode::text, true, "inside"},
      {Opcode::continuation, true, "end"},
  };
  std::vector<Seen> arrived;
  while (arrived.size() < wire.size()) {
    auto frame = peer.read_frame();
    ASSERT_TRUE(frame) << "after " << arrived.size() << " frames";
    arrived.push_back({frame->opcode, frame->fin, std::string(frame->payload_text())});
  }
  for (std::size_t i = 0; i < wire.size(); ++i) {
    EXPECT_TRUE(arrived[i] == wire[i]) << "frame " << i << ": " << arrived[i].payload;
  }
}

TEST(FrameSequence, OnTheLoopBrokenSequencesAreRefusedUnlessUnchecked) {
  Recorded<std::vector<SendStatus>> results;
  TestServer server;
  server.server().on_message([&](const Conn& conn, Message) { results.add(craft_sequence(conn)); });
  server.start();
  RawPeer peer(server.port());
  ASSERT_NE(peer.handshake().find(" 101 "), std::string::npos);
  peer.send_text("go");
  ASSERT_TRUE(results.wait_for(1));
  check_crafted_sequence(results.all().front(), SendStatus::written, peer);
}

TEST(FrameSequence, FromAnotherThreadBrokenSequencesAreRefusedUnlessUnchecked) {
  Recorded<Conn> opened;
  TestServer server;
  server.server().on_open([&](const Conn& conn) { opened.add(conn); });
  server.start();
  RawPeer peer(server.port());
  ASSERT_NE(peer.handshake().find(" 101 "), std::string::npos);
  const Conn conn = wait_for_open(opened);
  ASSERT_TRUE(conn);
  check_crafted_sequence(craft_sequence(conn), SendStatus::queued, peer);
}

TEST(FrameSequence, AMessageFramesOpenedWaitsForAWriterAndHoldsOthersBack) {
  Recorded<std::vector<SendStatus>> results;
  TestServer server;
  server.server().on_message([&](const Conn& conn, Message) {
    Writer writer = conn.writer(Opcode::text);
    std::vector<SendStatus> statuses = {
        writer.write("w1 "),
        conn.send_frame(Frame::text("f1 ", false)),  // waits for the writer's message
        conn.send("s"),                              // waits for both
        writer.finish("w2"),
        conn.send_frame(Frame::continuation(to_bytes("f2"), true)),
    };
    results.add(std::move(statuses));
  });
  server.start();
  RawPeer peer(server.port());
  ASSERT_NE(peer.handshake().find(" 101 "), std::string::npos);
  peer.send_text("go");
  ASSERT_TRUE(results.wait_for(1));
  const std::vector<SendStatus> statuses = results.all().front();
  for (SendStatus status : statuses) EXPECT_TRUE(leaves(status)) << to_string(status);
  WireMessages wire;
  while (wire.messages.size() < 3) {
    auto frame = peer.read_frame();
    ASSERT_TRUE(frame);
    wire.take(*frame);
  }
  EXPECT_EQ(wire.problem, "");
  EXPECT_EQ(wire.messages[0].payload, "w1 w2");
  EXPECT_EQ(wire.messages[1].payload, "f1 f2");
  EXPECT_EQ(wire.messages[2].payload, "s");
}

}  // namespace
}  // namespace fastws::testing
