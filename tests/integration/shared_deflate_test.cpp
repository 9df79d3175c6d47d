// The shared-compressor mode (CompressionOptions::shared_compressor) against a real server on
// 127.0.0.1 with one loop: many connections exchange compressed messages of several sizes,
// interleaved (partial messages of every connection in flight at once, one server-side message
// streamed across the whole exchange), checked frame by frame: RSV1 on the first frame of each
// message, server_no_context_takeover in the agreed header, and every message from the server
// decodable on its own. Peers that keep their context (their inflater is the connection's own)
// and peers that drop it (the loop's shared inflater) side by side; Python's websockets and the
// fastws client as peers too; and what a connection holds after its compressed message.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client_test_support.hpp"
#include "deflate_peer.hpp"
#include "interop_echo_server.hpp"
#include "protocol/permessage_deflate.hpp"
#include "server_test_support.hpp"
#include "support/live_heap.hpp"

namespace fastws::testing {
namespace {

// `size` characters of words from a small vocabulary, the same start for every size of one
// `variant`: a compressor that keeps context codes a message as a reference to the last one.
std::string words(std::size_t size, unsigned variant) {
  static constexpr const char* vocabulary[] = {"alpha ", "bravo ",  "charlie ", "delta ",
                                               "echo ",  "fox ",    "golf ",    "hotel ",
                                               "india ", "juliet ", "kilo ",    "lima "};
  std::string text;
  std::uint32_t state = 2654435761u * (variant + 1);
  while (text.size() < size) {
    state = state * 1664525u + 1013904223u;
    text += vocabulary[(state >> 16) % 12];
  }
  text.resize(size);
  return text;
}

ServerOptions shared_options() {
  ServerOptions options = TestServer::default_options();  // one loop
  options.compression.enabled = true;
  options.compression.shared_compressor = true;
  return options;
}

// A raw peer with its own zlib, checking what the server sends frame by frame.
class DeflatePeer {
 public:
  DeflatePeer(std::uint16_t port, bool drops_context) : peer_(port), drops_context_(drops_context) {
    std::string offer = "permessage-deflate; client_max_window_bits";
    if (drops_context) offer += "; client_no_context_takeover";
    const std::string head = peer_.handshake("/", "Sec-WebSocket-Extensions: " + offer + "\r\n");
    EXPECT_EQ(status_of(head), 101) << head;
    agreed_ = field_of(head, "Sec-WebSocket-Extensions");
  }

  const std::string& agreed() const { return agreed_; }
  RawPeer& raw() { return peer_; }

  // Compresses `text` (after this peer's earlier messages, unless it drops its context) into
  // the payloads of `fragments` frames, the first with RSV1.
  std::vector<Frame> compressed_frames(const std::string& text, std::size_t fragments) {
    const std::vector<std::byte> payload = zlib_.compress(text);
    if (drops_context_) zlib_.reset_deflate();
    std::vector<Frame> frames;
    const std::size_t piece = payload.size() / fragments + 1;
    for (std::size_t at = 0; frames.size() < fragments; at += piece) {
      const auto begin =
          payload.begin() + static_cast<std::ptrdiff_t>(std::min(at, payload.size()));
      const auto end =
          payload.begin() + static_cast<std::ptrdiff_t>(std::min(at + piece, payload.size()));
      Frame frame = frames.empty() ? Frame::text({}, false) : Frame::continuation({}, false);
      frame.rsv1 = frames.empty();
      frame.payload.assign(begin, end);
      frames.push_back(std::move(frame));
    }
    frames.back().fin = true;
    return frames;
  }

  // The next message from the server, inflated by a fresh inflater (the server agreed to keep no
  // context: every message stands alone). Empty with a test failure when it is not as it must be.
  std::string read_compressed_message() {
    protocol::Inflater fresh(15, /*no_context_takeover=*/true);
    std::vector<std::byte> inflated;
    for (bool first = true;; first = false) {
      const std::optional<Frame> frame = peer_.read_frame();
      if (!frame) {
        ADD_FAILURE() << "no frame from the server";
        return {};
      }
      EXPECT_EQ(frame->rsv1, first) << "RSV1 marks the first frame of a compressed message only";
      EXPECT_EQ(frame->opcode, first ? Opcode::text : Opcode::continuation);
      if (fresh.decompress(frame->payload, frame->fin, inflated, 1u << 24) !=
          protocol::Inflater::Status::ok) {
        ADD_FAILURE() << "the server's message does not inflate on its own: " << fresh.last_error();
        return {};
      }
      if (frame->fin) return to_string(inflated);
    }
  }

 private:
  RawPeer peer_;
  bool drops_context_;
  Zlib zlib_;
  std::string agreed_;
};

// The echo server of these tests; "open stream" starts a message streamed in fragments (its
// first piece goes at once) that "finish stream" ends, so that the connection holds a deflate
// stream of its own across everything the others do meanwhile.
class SharedDeflateServer {
 public:
  static constexpr std::size_t stream_piece = 6000;

  explicit SharedDeflateServer(ServerOptions options = shared_options()) : server_(options) {
    server_.server().on_message([this](const Conn& conn, Message message) {
      if (message.text() == "open stream") {
        auto writer = std::make_unique<Writer>(conn.writer(Opcode::text));
        writer->write(words(stream_piece, 100));
        streams_[conn.id()] = std::move(writer);
      } else if (message.text() == "finish stream") {
        streams_.at(conn.id())->finish(words(stream_piece, 101));
        streams_.erase(conn.id());
      } else {
        conn.send(message.data(), message.opcode());
      }
    });
    server_.start();
  }
  std::uint16_t port() const { return server_.port(); }

 private:
  std::map<std::uint64_t, std::unique_ptr<Writer>> streams_;  // the loop thread's only
  TestServer server_;                                         // last: stops before streams_ goes
};

TEST(SharedDeflate, ManyConnectionsInterleaveCompressedMessagesOnOneLoop) {
  SharedDeflateServer server;

  // One connection holds a streamed message open through everything below.
  DeflatePeer streaming(server.port(), false);
  ASSERT_TRUE(streaming.raw().send_text("open stream"));
  const std::optional<Frame> opening = streaming.raw().read_frame();
  ASSERT_TRUE(opening);
  EXPECT_TRUE(opening->rsv1);
  EXPECT_FALSE(opening->fin);

  constexpr unsigned peers_count = 16;
  std::vector<std::unique_ptr<DeflatePeer>> peers;
  for (unsigned i = 0; i < peers_count; ++i) {
    const bool drops_context = i % 2 == 1;
    peers.push_back(std::make_unique<DeflatePeer>(server.port(), drops_context));
    const std::string& agreed = peers.back()->agreed();
    EXPECT_NE(agreed.find("permessage-deflate"), std::string::npos) << agreed;
    EXPECT_NE(agreed.find("server_no_context_takeover"), std::string::npos) << agreed;
    EXPECT_EQ(agreed.find("client_no_context_takeover") != std::string::npos, drops_context)
        << agreed;
  }

  // Each size is the start of the next: a server keeping context would refer back to it, and a
  // server inflating a context-keeping peer's message without that peer's context would fail.
  for (const std::size_t size : {100u, 1'000u, 20'000u, 300'000u}) {
    // Every message in three frames, sent in waves: every connection has a message in progress.
    std::vector<std::vector<Frame>> messages;
    for (unsigned i = 0; i < peers_count; ++i) {
      messages.push_back(peers[i]->compressed_frames(words(size, i), 3));
    }
    for (std::size_t fragment = 0; fragment < 3; ++fragment) {
      for (unsigned i = 0; i < peers_count; ++i) {
        ASSERT_TRUE(peers[i]->raw().send_frame(messages[i][fragment]));
      }
    }
    for (unsigned i = 0; i < peers_count; ++i) {
      EXPECT_EQ(peers[i]->read_compressed_message(), words(size, i))
          << "peer " << i << ", " << size << " bytes";
    }
  }

  ASSERT_TRUE(streaming.raw().send_text("finish stream"));
  protocol::Inflater inflater(15, true);
  std::vector<std::byte> streamed;
  ASSERT_EQ(inflater.decompress(opening->payload, false, streamed, 1u << 20),
            protocol::Inflater::Status::ok);
  const std::optional<Frame> closing = streaming.raw().read_frame();
  ASSERT_TRUE(closing);
  EXPECT_FALSE(closing->rsv1);
  EXPECT_TRUE(closing->fin);
  EXPECT_EQ(closing->opcode, Opcode::continuation);
  ASSERT_EQ(inflater.decompress(closing->payload, true, streamed, 1u << 20),
            protocol::Inflater::Status::ok);
  EXPECT_EQ(to_string(streamed), words(SharedDeflateServer::stream_piece, 100) +
                                     words(SharedDeflateServer::stream_piece, 101));
}

// What the server holds for a compressed connection once its message is done: no zlib state
// (~300 KiB with one of each) and no buffer, only the small per-connection record.
TEST(SharedDeflate, ConnectionsHoldNoZlibStateBetweenMessages) {
  SharedDeflateServer server;
  constexpr std::size_t count = 200;
  const std::string message = words(1024, 7);
  // The loop's shared streams and buffers are set up by a first connection, outside the count.
  DeflatePeer first(server.port(), true);
  for (const Frame& frame : first.compressed_frames(message, 1)) first.raw().send_frame(frame);
  EXPECT_EQ(first.read_compressed_message(), message);

  std::vector<std::unique_ptr<DeflatePeer>> peers;
  for (std::size_t i = 0; i < count; ++i) {
    peers.push_back(std::make_unique<DeflatePeer>(server.port(), true));
  }
  const std::vector<Frame> frames = peers[0]->compressed_frames(message, 1);
  const std::size_t before = test::live_heap();
  for (const auto& peer : peers) ASSERT_TRUE(peer->raw().send_frame(frames[0]));
  for (const auto& peer : peers) ASSERT_EQ(peer->read_compressed_message(), message);
  // One more round trip: the loop has then taken back the buffers of its sends (io_uring sends
  // from a buffer of the loop's, returned at the completion, which may come after the peer has
  // the bytes).
  for (const Frame& frame : first.compressed_frames(message, 1)) first.raw().send_frame(frame);
  EXPECT_EQ(first.read_compressed_message(), message);
  const std::size_t after = test::live_heap();
  const double per_connection =
      (static_cast<double>(after) - static_cast<double>(before)) / static_cast<double>(count);
  // One deflate state is ~260 KiB, an inflate state ~40 KiB, the inflated message's buffer 16 KiB.
  EXPECT_LT(per_connection, 1024.0) << "bytes of live heap per connection";
  std::printf("live heap per connection after one compressed message: %.0f bytes\n",
              per_connection);
}

// The fastws client in the same mode: it offers client_no_context_takeover, so both directions
// of its connections go through the shared streams of its loop and of the server's.
TEST(SharedDeflate, FastwsClientsInSharedModeEchoEverySize) {
  SharedDeflateServer server;
  ClientOptions options;
  options.compression.enabled = true;
  options.compression.shared_compressor = true;
  RecordingClient client(options);
  const std::string url = "ws://127.0.0.1:" + std::to_string(server.port()) + "/";
  std::vector<Conn> conns;
  for (int i = 0; i < 8; ++i) {
    ConnectResult result = client.client().connect_and_wait(url);
    ASSERT_TRUE(result) << result.error.error;
    EXPECT_NE(result.conn.extensions().find("server_no_context_takeover"), std::string_view::npos);
    EXPECT_NE(result.conn.extensions().find("client_no_context_takeover"), std::string_view::npos);
    conns.push_back(result.conn);
  }
  std::size_t sent = 0;
  std::map<std::string, int> expected;  // the echoes arrive per connection in order, any mix
  for (const std::size_t size : {70u, 5'000u, 100'000u}) {
    for (std::size_t i = 0; i < conns.size(); ++i) {
      const std::string text = words(size, static_cast<unsigned>(i));
      ASSERT_NE(conns[i].send(text), SendStatus::dropped);
      ++expected[text];
      ++sent;
    }
  }
  ASSERT_TRUE(client.received.wait_for(sent, 10s));
  std::map<std::string, int> echoed;
  for (const Received& received : client.received.all()) ++echoed[received.text];
  EXPECT_TRUE(echoed == expected);
}

// Python's websockets, many connections at once, half of them dropping their context.
TEST(SharedDeflate, PythonWebsocketsPeersInterleaved) {
  if (std::system("/usr/bin/python3 -c 'import websockets' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 has no websockets module";
  }
  InteropEchoServer server(shared_options());
  expect_peer_passes("/usr/bin/python3 " FASTWS_TEST_DATA_DIR
                     "/interop/python_shared_deflate_peer.py " +
                         std::to_string(server.port()),
                     {"ok   every echo of 16 connections"}, 60);
}

}  // namespace
}  // namespace fastws::testing
