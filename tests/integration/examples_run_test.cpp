// Starts each example program as users would (--port 0, wait for the printed URL), talks to
// it, then stops it with SIGTERM and expects a clean exit. The client examples run against
// the server examples.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "example_process.hpp"
#include "net_test_support.hpp"
#include "polite_client.hpp"
#include "server_test_support.hpp"
#include "support/command_output.hpp"
#include "tls_test_support.hpp"

namespace fastws::testing {
namespace {

TEST(Examples, EchoEchoesAndStopsCleanly) {
  START_EXAMPLE(echo, "echo");
  RawPeer peer(echo.port());
  ASSERT_NE(peer.handshake().find(" 101 "), std::string::npos);
  peer.send_text("hello example");
  auto frame = peer.read_frame();
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->payload_text(), "hello example");
  echo.terminate();
  EXPECT_EQ(peer.read_close_code(), close_code::going_away);
  peer.send_frame(Frame::close(close_code::going_away));
  EXPECT_TRUE(peer.wait_closed());
  EXPECT_EQ(echo.stop(), 0);
}

// Signals that keep coming after the graceful stop began (the second one while main() destroys
// the server) once made the examples call stop() on a destroyed server: SIGSEGV at exit.
TEST(Examples, EchoExitsCleanlyWhileSigtermRepeats) {
  for (int round = 0; round < 20; ++round) {
    START_EXAMPLE(echo, "echo");
    RawPeer peer(echo.port());
    ASSERT_NE(peer.handshake().find(" 101 "), std::string::npos);
    ::shutdown(peer.fd(), SHUT_RDWR);
    ASSERT_EQ(echo.stop_insistently(), 0) << "round " << round;
  }
}

// --exit-after-connections N (bench/run_instructions.sh stops the example under valgrind so):
// the server stops by itself, cleanly, once N connections have closed, and not before.
TEST(Examples, EchoExitsOnceItsConnectionsClosed) {
  START_EXAMPLE(echo, "echo", {"--exit-after-connections", "2"});
  for (int closed = 0; closed < 2; ++closed) {
    ASSERT_EQ(echo.exit_status_within(std::chrono::milliseconds(200)), -1)
        << "stopped after " << closed << " closed connections";
    RawPeer peer(echo.port());
    ASSERT_NE(peer.handshake().find(" 101 "), std::string::npos);
    peer.send_frame(Frame::close(close_code::normal));
    EXPECT_EQ(peer.read_close_code(), close_code::normal);
  }
  EXPECT_EQ(echo.exit_status_within(std::chrono::seconds(5)), 0);
}

TEST(Examples, EchoOverTlsWithCertificateFlags) {
  const TestCertificate& files = TestCertificate::get();
  START_EXAMPLE(echo, "echo", {"--cert", files.certificate_file, "--key", files.key_file});
  ClientTlsContext client = client_tls_context();
  RawPeer peer(echo.port());
  ASSERT_TRUE(peer.start_tls(client.get()));
  ASSERT_NE(peer.handshake().find(" 101 "), std::string::npos);
  peer.send_text("hello over tls");
  auto frame = peer.read_frame();
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->payload_text(), "hello over tls");
  peer.send_frame(Frame::close(close_code::normal));
  EXPECT_EQ(peer.read_close_code(), close_code::normal);
  EXPECT_EQ(echo.stop(), 0);
}

TEST(Examples, AuthRefusesWithoutTheKeyAndWelcomesWithIt) {
  START_EXAMPLE(auth, "auth");
  RawPeer refused(auth.port());
  EXPECT_EQ(refused.handshake().rfind("HTTP/1.1 403 ", 0), 0u);
  ::shutdown(refused.fd(), SHUT_RDWR);  // the server lingers for our end after a refusal
  RawPeer allowed(auth.port());
  EXPECT_NE(allowed.handshake("/room", "private-key: 1234\r\n").find(" 101 "), std::string::npos);
  auto welcome = allowed.read_frame();
  ASSERT_TRUE(welcome);
  EXPECT_EQ(welcome->payload_text(), "welcome, you asked for /room");
  ::shutdown(allowed.fd(), SHUT_RDWR);
  EXPECT_EQ(auth.stop(), 0);
}

TEST(Examples, RawFramesAnswersWithTwoCraftedFrames) {
  START_EXAMPLE(raw, "raw_frames");
  RawPeer peer(raw.port());
  peer.handshake();
  peer.send_text("abc");
  auto first = peer.read_frame();
  auto second = peer.read_frame();
  ASSERT_TRUE(first && second);
  EXPECT_FALSE(first->fin);
  EXPECT_EQ(first->payload_text(), "echo: ");
  EXPECT_EQ(second->opcode, Opcode::continuation);
  EXPECT_EQ(second->payload_text(), "abc");
  ::shutdown(peer.fd(), SHUT_RDWR);
  EXPECT_EQ(raw.stop(), 0);
}

// Echo examples at their buffer limit: the client sends kFloodMessages large messages without
// reading until they are all out (4 times max_buffered_bytes), so the server's sends are
// refused at some point. What arrives is checked frame by frame.
constexpr std::size_t kFloodMessages = 128;
constexpr std::size_t kFloodMessageSize = 128 * 1024;

// How an example echoes a message: whole in one binary frame, or as raw_frames does: a text
// frame "echo: " with fin=0 opening the message and one continuation with fin=1 ending it.
enum class EchoShape { one_frame, echo_prefix_then_continuation };

struct EchoSequence {
  std::size_t whole = 0;         // echoes that arrived complete, the i-th carrying message i
  std::uint16_t close_code = 0;  // the close frame's code, 0 if none came
};

// Reads frames until a close frame (or the end), failing at the first frame that breaks the
// sequence: a message begun inside another, a continuation outside one, or an echo that is
// not the next message sent (one was lost or damaged).
void read_echo_sequence(RawPeer& peer, const std::vector<std::vector<std::byte>>& sent,
                        EchoShape shape, EchoSequence& seen) {
  bool open = false;
  while (auto frame = peer.read_frame()) {
    if (frame->opcode == Opcode::close) {
      seen.close_code = frame->close_code().value_or(close_code::no_status);
      return;
    }
    if (shape == EchoShape::one_frame) {
      ASSERT_EQ(frame->opcode, Opcode::binary);
    } else if (frame->opcode == Opcode::text) {
      ASSERT_FALSE(open) << "a new message began inside message " << seen.whole;
      ASSERT_FALSE(frame->fin);
      ASSERT_EQ(frame->payload_text(), "echo: ");
      open = true;
      continue;
    } else {
      ASSERT_EQ(frame->opcode, Opcode::continuation);
      ASSERT_TRUE(open) << "a continuation outside any message after message " << seen.whole;
      open = false;
    }
    ASSERT_TRUE(frame->fin);
    ASSERT_LT(seen.whole, sent.size());
    ASSERT_TRUE(frame->payload == sent[seen.whole])
        << "echo " << seen.whole << " is not message " << seen.whole;
    ++seen.whole;
  }
}

// Floods `peer` (upgraded) with the messages and reads back what the example echoed.
EchoSequence flood_and_read_echoes(RawPeer& peer, EchoShape shape) {
  std::vector<std::vector<std::byte>> sent;
  for (std::size_t i = 0; i < kFloodMessages; ++i) {
    std::string payload = std::to_string(i) + ":";
    payload.resize(kFloodMessageSize, static_cast<char>('a' + i % 26));
    sent.push_back(to_bytes(payload));
  }
  std::atomic<bool> all_sent{false};
  std::thread sender([&] {
    for (const auto& payload : sent) {
      if (!peer.send_frame(Frame::binary(payload))) break;
    }
    all_sent = true;
  });
  // Reading waits until the sends are out or stuck (a server may stop reading while its output
  // is full), so that the output fills.
  wait_until([&] { return all_sent.load(); }, 2s);
  EchoSequence seen;
  read_echo_sequence(peer, sent, shape, seen);
  ::shutdown(peer.fd(), SHUT_RDWR);  // a sender stuck in send() returns
  sender.join();
  return seen;
}

// However the refusals fall, what arrives is whole messages in order, then either nothing more
// (all arrived) or a close 1008: never a message left open with a new one begun inside it.
TEST(Examples, RawFramesKeepsItsFramesAValidSequenceUnderBackpressure) {
  START_EXAMPLE(raw, "raw_frames");
  RawPeer peer(raw.port());
  shrink_receive_buffer(peer.fd());
  ASSERT_NE(peer.handshake().find(" 101 "), std::string::npos);
  const EchoSequence seen = flood_and_read_echoes(peer, EchoShape::echo_prefix_then_continuation);
  if (seen.whole < kFloodMessages) {
    EXPECT_EQ(seen.close_code, close_code::policy_violation) << seen.whole << " messages whole";
  }
  EXPECT_GT(seen.whole, 0u);
  EXPECT_EQ(raw.stop(), 0);
}

// An echo the buffer limit refuses is not skipped silently: the client gets every echo up to
// the refusal, then a close 1008.
TEST(Examples, AuthClosesAClientThatDoesNotReadItsEchoes) {
  START_EXAMPLE(auth, "auth");
  RawPeer peer(auth.port());
  shrink_receive_buffer(peer.fd());
  ASSERT_NE(peer.handshake("/", "private-key: 1234\r\n").find(" 101 "), std::string::npos);
  auto welcome = peer.read_frame();
  ASSERT_TRUE(welcome);
  const EchoSequence seen = flood_and_read_echoes(peer, EchoShape::one_frame);
  if (seen.whole < kFloodMessages) {
    EXPECT_EQ(seen.close_code, close_code::policy_violation) << seen.whole << " echoes whole";
  }
  EXPECT_GT(seen.whole, 0u);
  EXPECT_EQ(auth.stop(), 0);
}

TEST(Examples, RttPingsWithATimestamp) {
  START_EXAMPLE(rtt, "rtt");
  RawPeer peer(rtt.port(), 4s);
  peer.handshake();
  auto ping = peer.read_frame();
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->opcode, Opcode::ping);
  EXPECT_EQ(ping->payload.size(), 8u);
  ::shutdown(peer.fd(), SHUT_RDWR);
  EXPECT_EQ(rtt.stop(), 0);
}

TEST(Examples, BroadcastReachesAClientWithinTwoSeconds) {
  START_EXAMPLE(broadcast, "broadcast");
  RawPeer peer(broadcast.port(), 3s);
  peer.handshake();
  auto frame = peer.read_frame();
  ASSERT_TRUE(frame);
  EXPECT_TRUE(frame->payload_text().starts_with("the time is ")) << frame->payload_text();
  ::shutdown(peer.fd(), SHUT_RDWR);
  EXPECT_EQ(broadcast.stop(), 0);
}

// A peer of a chat example on `port`, over TLS when `tls` is given.
std::unique_ptr<RawPeer> chat_peer(std::uint16_t port, SSL_CTX* tls) {
  auto peer = std::make_unique<RawPeer>(port);
  if (tls != nullptr) {
    EXPECT_TRUE(peer->start_tls(tls));
  }
  return peer;
}

// GET `path` on a connection of its own: the whole response.
std::string http_get(std::uint16_t port, std::string_view path, SSL_CTX* tls = nullptr) {
  auto browser = chat_peer(port, tls);
  browser->send_raw("GET " + std::string(path) +
                    " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  return browser->read_all();
}

// What a chat example (chat, beast_server) must do: serve its page on "/", and relay the chat
// protocol on "/ws": two users in a room see each other's "who" lines and messages.
void expect_chat_serves_page_and_relays(std::uint16_t port, SSL_CTX* tls = nullptr) {
  const std::string page = http_get(port, "/", tls);
  EXPECT_NE(page.find("HTTP/1.1 200 OK"), std::string::npos);
  EXPECT_NE(page.find("new WebSocket("), std::string::npos);
  auto ann = chat_peer(port, tls);
  auto bob = chat_peer(port, tls);
  ASSERT_NE(ann->handshake("/ws").find(" 101 "), std::string::npos);
  ASSERT_NE(bob->handshake("/ws").find(" 101 "), std::string::npos);
  ann->send_text("name ann");
  ann->send_text("join lobby");
  EXPECT_EQ(ann->read_frame()->payload_text(), "who lobby ann");
  bob->send_text("name bob");
  bob->send_text("join lobby");
  EXPECT_EQ(bob->read_frame()->payload_text(), "who lobby ann,bob");
  EXPECT_EQ(ann->read_frame()->payload_text(), "who lobby ann,bob");
  bob->send_text("say hi ann");
  EXPECT_EQ(ann->read_frame()->payload_text(), "msg lobby bob: hi ann");
  EXPECT_EQ(bob->read_frame()->payload_text(), "msg lobby bob: hi ann");
  ::shutdown(ann->fd(), SHUT_RDWR);
  ::shutdown(bob->fd(), SHUT_RDWR);
}

TEST(Examples, ChatServesThePageAndRelaysToTheRoom) {
  START_EXAMPLE(chat, "chat");
  expect_chat_serves_page_and_relays(chat.port());
  EXPECT_EQ(chat.stop(), 0);
}

// The same chat through a Boost.Beast HTTP server that upgrades /ws to fastws.
TEST(Examples, BeastServerServesThePageAndRelaysTheChat) {
  START_EXAMPLE(beast, "beast_server");
  expect_chat_serves_page_and_relays(beast.port());
  EXPECT_EQ(beast.stop(), 0);
}

TEST(Examples, BeastServerRunsTheChatOverTls) {
  const TestCertificate& files = TestCertificate::get();
  START_EXAMPLE(beast, "beast_server", {"--cert", files.certificate_file, "--key", files.key_file});
  ClientTlsContext client = client_tls_context();
  expect_chat_serves_page_and_relays(beast.port(), client.get());
  EXPECT_NE(http_get(beast.port(), "/api/stats", client.get()).find("\"connections\":"),
            std::string::npos);
  EXPECT_EQ(beast.stop(), 0);
}

// The REST routes answer with JSON: the server's counters, and the rooms with who is in them.
TEST(Examples, BeastServerAnswersItsRestRoutes) {
  START_EXAMPLE(beast, "beast_server");
  RawPeer ann(beast.port());
  ASSERT_NE(ann.handshake("/ws").find(" 101 "), std::string::npos);
  ann.send_text("name ann");
  ann.send_text("join lobby");
  ASSERT_EQ(ann.read_frame()->payload_text(), "who lobby ann");
  const std::string stats = http_get(beast.port(), "/api/stats");
  EXPECT_EQ(stats.rfind("HTTP/1.1 200 OK", 0), 0u) << stats;
  EXPECT_NE(stats.find("Content-Type: application/json"), std::string::npos) << stats;
  EXPECT_NE(stats.find("{\"connections\":1,\"messages_in\":2,"), std::string::npos) << stats;
  const std::string rooms = http_get(beast.port(), "/api/rooms");
  EXPECT_NE(rooms.find(R"([{"room":"lobby","who":"who lobby ann"}])"), std::string::npos) << rooms;
  const std::string post = [&] {
    RawPeer peer(beast.port());
    peer.send_raw("POST /api/stats HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    return peer.read_head();
  }();
  EXPECT_EQ(post.rfind("HTTP/1.1 405 ", 0), 0u) << post;
  EXPECT_NE(post.find("Allow: GET"), std::string::npos) << post;
  ::shutdown(ann.fd(), SHUT_RDWR);
  EXPECT_EQ(beast.stop(), 0);
}

// --root DIR: the files under DIR on /files/, and nothing outside it however the name climbs.
TEST(Examples, BeastServerServesFilesUnderItsRootOnly) {
  net::test::TempDir dir;
  std::filesystem::create_directory(dir.file("root"));
  std::ofstream(dir.file("root/hello.txt")) << "hello from the root\n";
  std::ofstream(dir.file("secret.txt")) << "outside the root\n";
  std::filesystem::create_symlink(dir.file("secret.txt"), dir.file("root/link.txt"));
  START_EXAMPLE(beast, "beast_server", {"--root", dir.file("root")});
  const std::string served = http_get(beast.port(), "/files/hello.txt");
  EXPECT_EQ(served.rfind("HTTP/1.1 200 OK", 0), 0u) << served;
  EXPECT_NE(served.find("text/plain"), std::string::npos) << served;
  EXPECT_TRUE(served.ends_with("\r\n\r\nhello from the root\n")) << served;
  for (const std::string& path : std::vector<std::string>{
           "/files/../secret.txt", "/files/sub/../../secret.txt", "/files/link.txt",
           "/files/" + dir.file("secret.txt"), "/files/", "/files/missing.txt"}) {
    const std::string refused = http_get(beast.port(), path);
    EXPECT_EQ(refused.rfind("HTTP/1.1 404 ", 0), 0u) << path << ": " << refused;
    EXPECT_EQ(refused.find("outside the root"), std::string::npos) << path;
  }
  EXPECT_EQ(beast.stop(), 0);
}

// SIGTERM: fastws closes its connections with 1001, then the process exits 0 (an idle HTTP
// keep-alive connection does not hold it).
TEST(Examples, BeastServerStopsGracefullyOnSigterm) {
  START_EXAMPLE(beast, "beast_server");
  RawPeer idle_http(beast.port());
  idle_http.send_raw("GET /api/stats HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(idle_http.read_head().rfind("HTTP/1.1 200 OK", 0), 0u);
  RawPeer peer(beast.port());
  ASSERT_NE(peer.handshake("/ws").find(" 101 "), std::string::npos);
  beast.terminate();
  EXPECT_EQ(peer.read_close_code(), close_code::going_away);
  peer.send_frame(Frame::close(close_code::going_away));
  EXPECT_TRUE(peer.wait_closed());
  EXPECT_EQ(beast.stop(), 0);
}

// Reads frames until one says `text`; false if the connection goes quiet first.
bool read_until_text(RawPeer& peer, std::string_view text) {
  while (auto frame = peer.read_frame()) {
    if (frame->payload_text() == text) return true;
  }
  return false;
}

// Guests come into ann's room, rename and leave. Each time the room must be ann's alone again:
// presence kept by name left every renamed guest behind for ever (3,000 cycles: 3,000 ghosts,
// all listed in the "who" line published on every join).
TEST(Examples, ChatLeavesNoGhostOfAGuestWhoRenamedInTheRoom) {
  START_EXAMPLE(chat, "chat");
  RawPeer ann(chat.port(), 1s);
  ASSERT_NE(ann.handshake("/ws").find(" 101 "), std::string::npos);
  ann.send_text("name ann");
  ann.send_text("join lobby");
  ASSERT_TRUE(read_until_text(ann, "who lobby ann"));
  for (int i = 0; i < 30; ++i) {
    {
      RawPeer guest(chat.port());
      ASSERT_NE(guest.handshake("/ws").find(" 101 "), std::string::npos);
      guest.send_text("join lobby");
      guest.send_text("name g" + std::to_string(i));
    }  // the guest closes: its join, rename and close are handled in that order
    ASSERT_TRUE(read_until_text(ann, "who lobby ann")) << "a ghost stayed after cycle " << i;
  }
  RawPeer last(chat.port());
  ASSERT_NE(last.handshake("/ws").find(" 101 "), std::string::npos);
  last.send_text("name last");
  last.send_text("join lobby");
  auto who = last.read_frame();
  ASSERT_TRUE(who);
  EXPECT_EQ(who->payload_text(), "who lobby ann,last");
  ::shutdown(ann.fd(), SHUT_RDWR);
  ::shutdown(last.fd(), SHUT_RDWR);
  EXPECT_EQ(chat.stop(), 0);
}

// One client joins 40,000 rooms in one burst while another is served beside it: the first
// 10,000 (max_topics_per_connection's default) are answered "joined", the rest "refused ...",
// and the other client waits well under a second all along (3 to 4.5 s when a connection's
// topics were a list).
TEST(Examples, TopicsRefusesJoinsOverTheCapWithoutStallingOthers) {
  START_EXAMPLE(topics, "topics");
  constexpr std::size_t kJoins = 40'000;
  const std::size_t cap = ServerOptions{}.max_topics_per_connection;
  RawPeer flood(topics.port());
  ASSERT_NE(flood.handshake().find(" 101 "), std::string::npos);
  PoliteClient polite(topics.port(), "hello");  // answered with the usage line
  ASSERT_TRUE(polite.connected());
  std::vector<std::byte> joins;
  for (std::size_t i = 0; i < kJoins; ++i) {
    Frame join = Frame::text("join room" + std::to_string(i));
    join.mask = MaskKey{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
    const std::vector<std::byte> bytes = join.serialize();
    joins.insert(joins.end(), bytes.begin(), bytes.end());
  }
  std::thread sender([&] { flood.send_raw(joins); });
  std::size_t joined = 0, refused = 0;
  for (std::size_t i = 0; i < kJoins; ++i) {
    auto answer = flood.read_frame();
    if (!answer) break;
    joined += answer->payload_text().starts_with("joined ");
    refused += answer->payload_text().starts_with("refused ");
  }
  sender.join();
  EXPECT_EQ(joined, cap);
  EXPECT_EQ(refused, kJoins - cap);
  EXPECT_LT(polite.stop(), 1s);
  ::shutdown(flood.fd(), SHUT_RDWR);
  EXPECT_EQ(topics.stop(), 0);
}

TEST(Examples, ClientDialsWithAHeaderAndPrintsTheEchoes) {
  START_EXAMPLE(auth, "auth");
  const std::string client = std::string(FASTWS_BINARY_DIR) + "/examples/client";
  const std::string url = "ws://127.0.0.1:" + std::to_string(auth.port()) + "/feed";
  std::string output;
  EXPECT_EQ(test::run_command(
                "timeout 20 " + client + " " + url + " --header 'private-key: 1234' --count 3 2>&1",
                output),
            0)
      << output;
  EXPECT_NE(output.find("received: welcome, you asked for /feed"), std::string::npos) << output;
  for (const char* echo : {"received: hello 1", "received: hello 2", "received: hello 3"}) {
    EXPECT_NE(output.find(echo), std::string::npos) << output;
  }
  EXPECT_NE(output.find("closed: 1000"), std::string::npos) << output;

  std::string refused;
  EXPECT_EQ(test::run_command("timeout 20 " + client + " " + url + " 2>&1", refused), 1) << refused;
  EXPECT_NE(refused.find("cannot open " + url + ": "), std::string::npos) << refused;
  EXPECT_NE(refused.find("403"), std::string::npos) << refused;
  EXPECT_EQ(auth.stop(), 0);
}

// The reconnecting client follows the broadcast example's clock, loses it when the server
// stops, prints its attempts while nobody listens, and follows the server restarted on the
// same port.
TEST(Examples, ReconnectingClientFollowsTheFeedAcrossARestart) {
  auto feed = std::make_unique<Example>("broadcast");
  if (!feed->built()) GTEST_SKIP() << "broadcast is not built here";
  ASSERT_NE(feed->port(), 0);
  const std::string port = std::to_string(feed->port());
  const std::string path = example_path("reconnecting_client");
  if (::access(path.c_str(), X_OK) != 0) GTEST_SKIP() << "reconnecting_client is not built here";
  test::ChildProcess client({path, "ws://127.0.0.1:" + port + "/", "--initial-delay", "100"});
  ASSERT_TRUE(
      client.wait_for_next_line("connected to ws://127.0.0.1:" + port + "/ (connection #1)", 5s))
      << client.output();
  ASSERT_TRUE(client.wait_for_next_line("received: the time is ", 5s)) << client.output();

  EXPECT_EQ(feed->stop(), 0);
  ASSERT_TRUE(client.wait_for_next_line("connection lost: 1001 server shutting down", 5s))
      << client.output();
  ASSERT_TRUE(client.wait_for_next_line("attempt 2 after", 5s)) << client.output();  // refused once
  feed = std::make_unique<Example>("broadcast", std::vector<std::string>{"--port", port});
  ASSERT_EQ(std::to_string(feed->port()), port);
  ASSERT_TRUE(client.wait_for_next_line("(connection #2)", 5s)) << client.output();
  ASSERT_TRUE(client.wait_for_next_line("received: the time is ", 5s)) << client.output();
  EXPECT_NE(client.output().find("Connection refused"), std::string::npos) << client.output();
  EXPECT_EQ(client.stop(), 0) << client.output();
  EXPECT_EQ(feed->stop(), 0);
}

TEST(Examples, ThreadedClientGetsEveryThreadsEchoesBackInOrder) {
  START_EXAMPLE(echo, "echo");
  const std::string client = example_path("threaded_client");
  std::string output;
  EXPECT_EQ(
      test::run_command("timeout 20 " + client + " ws://127.0.0.1:" + std::to_string(echo.port()) +
                            "/ --threads 4 --messages 2000 2>&1",
                        output),
      0)
      << output;
  for (int t = 0; t < 4; ++t) {
    EXPECT_NE(output.find("thread " + std::to_string(t) + ": 2000 of 2000 echoes, in order"),
              std::string::npos)
        << output;
  }
  EXPECT_NE(output.find("all echoes came back in order"), std::string::npos) << output;
  EXPECT_EQ(echo.stop(), 0);
}

}  // namespace
}  // namespace fastws::testing
