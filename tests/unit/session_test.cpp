// Session behaviour that byte-level spec cases do not show well: sending, both roles talking to
// each other (with and without permessage-deflate), close states, raw mode, memory bounds.
#include <gtest/gtest.h>

#include <zlib.h>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "fastws/close_code.hpp"
#include "protocol/session.hpp"
#include "support/live_heap.hpp"

namespace fastws::protocol {
namespace {

std::span<const std::byte> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
std::string text_of(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Collects what a session sends, masking it as a real sink would, and what it delivers.
class Peer final : public SessionHandler, public FrameSink {
 public:
  std::vector<std::byte> wire;
  std::vector<std::pair<Opcode, std::string>> messages;
  std::vector<std::string> pings, pongs;
  std::vector<std::uint16_t> closes;
  std::vector<ProtocolError> errors;

  void write_frame(std::span<const std::byte> header, std::span<const std::byte> payload,
                   const MaskKey* mask) override {
    wire.insert(wire.end(), header.begin(), header.end());
    std::size_t at = wire.size();
    wire.insert(wire.end(), payload.begin(), payload.end());
    if (mask) {
      for (std::size_t i = 0; i < payload.size(); ++i) wire[at + i] ^= (*mask)[i % 4];
    }
  }
  void on_message(Opcode op, std::span<const std::byte> data) override {
    messages.emplace_back(op, text_of(data));
  }
  void on_ping(std::span<const std::byte> data) override { pings.push_back(text_of(data)); }
  void on_pong(std::span<const std::byte> data) override { pongs.push_back(text_of(data)); }
  void on_close(std::uint16_t code, std::string_view) override { closes.push_back(code); }
  void on_error(ProtocolError error) override { errors.push_back(error); }
};

// Feeds `input` as an owner does: what a receive() call leaves (it inflated its share) goes in
// again, first, until all is used or the session is closed. Returns the number of calls.
std::size_t receive_all(Session& session, std::span<std::byte> input, SessionHandler& handler,
                        FrameSink& sink) {
  std::size_t calls = 0;
  do {
    ++calls;
    input = input.subspan(session.receive(input, handler, sink));
  } while (!input.empty() && session.state() != Session::State::closed);
  return calls;
}

// Moves everything `from` wrote into `to_session`, which reports to `to`.
void deliver(Peer& from, Session& to_session, Peer& to) {
  std::vector<std::byte> bytes;
  bytes.swap(from.wire);
  receive_all(to_session, bytes, to, to);
}

SessionConfig config_for(Role role, std::size_t min_compress) {
  SessionConfig config{.role = role};
  config.deflate.min_compress_size = min_compress;
  return config;
}

// A server and a client session wired to each other through their Peers.
struct Pair {
  SessionConfig server_config;
  SessionConfig client_config;
  Session server;
  Session client;
  Peer server_peer, client_peer;  // what each side delivered / wrote

  explicit Pair(std::optional<DeflateParams> deflate = {}, std::size_t min_compress = 0)
      : server_config(config_for(Role::server, min_compress)),
        client_config(config_for(Role::client, min_compress)),
        server(server_config, deflate),
        client(client_config, deflate) {}

  void client_to_server() { deliver(client_peer, server, server_peer); }
  void server_to_client() { deliver(server_peer, client, client_peer); }
};

TEST(Session, ClientFramesAreMaskedServerFramesAreNot) {
  Pair pair;
  ASSERT_TRUE(pair.client.send_message(Opcode::text, bytes_of("Hello"), pair.client_peer));
  ASSERT_GE(pair.client_peer.wire.size(), 11u);
  EXPECT_EQ(pair.client_peer.wire[1], std::byte{0x85});  // mask bit set, length 5
  pair.client_to_server();
  ASSERT_EQ(pair.server_peer.messages.size(), 1u);
  EXPECT_EQ(pair.server_peer.messages[0].second, "Hello");

  ASSERT_TRUE(pair.server.send_message(Opcode::binary, bytes_of("Hi"), pair.server_peer));
  EXPECT_EQ(pair.server_peer.wire[1], std::byte{0x02});  // no mask bit
  pair.server_to_client();
  ASSERT_EQ(pair.client_peer.messages.size(), 1u);
  EXPECT_EQ(pair.client_peer.messages[0], std::make_pair(Opcode::binary, std::string("Hi")));
}

TEST(Session, ClientMaskKeysDiffer) {
  Pair pair;
  pair.client.send_message(Opcode::text, bytes_of("a"), pair.client_peer);
  std::vector<std::byte> first(pair.client_peer.wire.begin() + 2,
                               pair.client_peer.wire.begin() + 6);
  pair.client_peer.wire.clear();
  pair.client.send_message(Opcode::text, bytes_of("a"), pair.client_peer);
  std::vector<std::byte> second(pair.client_peer.wire.begin() + 2,
                                pair.client_peer.wire.begin() + 6);
  EXPECT_NE(first, second);
}

TEST(Session, CloseHandshakeInitiatedByServer) {
  Pair pair;
  ASSERT_TRUE(pair.server.send_close(close_code::going_away, "bye", pair.server_peer));
  EXPECT_EQ(pair.server.state(), Session::State::closing);
  // Once closing, nothing else is sent.
  EXPECT_FALSE(pair.server.send_message(Opcode::text, bytes_of("x"), pair.server_peer));
  EXPECT_FALSE(pair.server.send_ping({}, pair.server_peer));
  EXPECT_FALSE(pair.server.send_close(close_code::normal, "", pair.server_peer));
  pair.server_to_client();
  EXPECT_EQ(pair.client_peer.closes, std::vector<std::uint16_t>{1001});
  EXPECT_EQ(pair.client.state(), Session::State::closed);
  pair.client_to_server();  // the echoed close
  EXPECT_EQ(pair.server_peer.closes, std::vector<std::uint16_t>{1001});
  EXPECT_EQ(pair.server.state(), Session::State::closed);
  EXPECT_TRUE(pair.server_peer.wire.empty());  // the server does not answer the answer
}

TEST(Session, DataAndControlArrivingWhileClosingAreDeliveredButPingsUnanswered) {
  // What the peer sent before it saw our close still reaches the application (RFC 6455 lets
  // data arrive until the peer's close); our close was our last frame, so no pong follows it.
  Pair pair;
  pair.client.send_message(Opcode::text, bytes_of("late"), pair.client_peer);
  pair.client.send_ping(bytes_of("p"), pair.client_peer);
  pair.client.send_pong(bytes_of("q"), pair.client_peer);
  pair.server.send_close(close_code::normal, "", pair.server_peer);
  pair.server_peer.wire.clear();
  pair.client_to_server();
  ASSERT_EQ(pair.server_peer.messages.size(), 1u);
  EXPECT_EQ(pair.server_peer.messages[0].second, "late");
  EXPECT_EQ(pair.server_peer.pings, std::vector<std::string>{"p"});
  EXPECT_EQ(pair.server_peer.pongs, std::vector<std::string>{"q"});
  EXPECT_TRUE(pair.server_peer.wire.empty());
  EXPECT_EQ(pair.server.state(), Session::State::closing);
}

TEST(Session, NothingIsDeliveredAfterThePeersClose) {
  Pair pair;
  pair.client.send_close(close_code::normal, "", pair.client_peer);
  pair.client_peer.wire.insert(pair.client_peer.wire.end(),
                               {std::byte{0x81}, std::byte{0x81}, std::byte{1}, std::byte{2},
                                std::byte{3}, std::byte{4}, std::byte{'x' ^ 1}});
  pair.client_to_server();
  EXPECT_EQ(pair.server_peer.closes, std::vector<std::uint16_t>{1000});
  EXPECT_TRUE(pair.server_peer.messages.empty());
  EXPECT_EQ(pair.server.state(), Session::State::closed);
}

TEST(Session, AFrameArrivingInPiecesIsGivenRoomForItsWholeLengthOnce) {
  // A 64 KiB message read 16 KiB at a time (io_uring's provided buffers) is reserved for in full
  // with its first piece, not grown by doubling (an allocation and a copy per piece).
  Pair pair;
  std::string text(64 * 1024, 'x');
  for (std::size_t i = 0; i < text.size(); ++i) text[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(pair.client.send_message(Opcode::text, bytes_of(text), pair.client_peer));
  std::vector<std::byte> wire;
  wire.swap(pair.client_peer.wire);
  const std::size_t piece = 16 * 1024;
  std::vector<std::byte> first(wire.begin(), wire.begin() + piece);
  EXPECT_EQ(pair.server.receive(first, pair.server_peer, pair.server_peer), piece);
  EXPECT_GE(pair.server.message_memory(), text.size());
  EXPECT_LT(pair.server.message_memory(), 2 * text.size());
  const std::size_t reserved = pair.server.message_memory();
  for (std::size_t at = piece; at < wire.size(); at += piece) {
    std::vector<std::byte> next(
        wire.begin() + static_cast<std::ptrdiff_t>(at),
        wire.begin() + static_cast<std::ptrdiff_t>(std::min(at + piece, wire.size())));
    pair.server.receive(next, pair.server_peer, pair.server_peer);
    if (pair.server.receiving_message()) {
      EXPECT_EQ(pair.server.message_memory(), reserved);
    }
  }
  ASSERT_EQ(pair.server_peer.messages.size(), 1u);
  EXPECT_EQ(pair.server_peer.messages[0].second, text);
}

TEST(Session, AHeaderAnnouncingAHugeFrameReservesOnlyABoundedAmount) {
  // 16 MiB announced, a few bytes sent: nothing near 16 MiB is allocated before the bytes come.
  Pair pair;
  pair.server_config.max_message_size = 64u << 20;
  std::vector<std::byte> wire = {std::byte{0x82}, std::byte{0xFF}};
  const std::uint64_t length = 16u << 20;
  for (int shift = 56; shift >= 0; shift -= 8) {
    wire.push_back(static_cast<std::byte>((length >> shift) & 0xFF));
  }
  wire.insert(wire.end(), {std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}});
  wire.insert(wire.end(), 100, std::byte{7});
  pair.server.receive(wire, pair.server_peer, pair.server_peer);
  ASSERT_TRUE(pair.server.receiving_message());
  EXPECT_LE(pair.server.message_memory(), 1024u * 1024u + 100u);
  EXPECT_GE(pair.server.message_memory(), 100u);
}

TEST(Session, PingAndPongRoundTrip) {
  Pair pair;
  ASSERT_TRUE(pair.server.send_ping(bytes_of("t1"), pair.server_peer));
  pair.server_to_client();
  EXPECT_EQ(pair.client_peer.pings, std::vector<std::string>{"t1"});
  pair.client_to_server();  // the automatic pong
  EXPECT_EQ(pair.server_peer.pongs, std::vector<std::string>{"t1"});
  std::string big(126, 'x');
  EXPECT_FALSE(pair.server.send_ping(bytes_of(big), pair.server_peer));
}

TEST(Session, AutoPongCanBeTurnedOff) {
  SessionConfig config{.role = Role::server, .auto_pong = false};
  Session server(config);
  Peer peer;
  std::vector<std::byte> ping = {std::byte{0x89}, std::byte{0x80}, std::byte{1},
                                 std::byte{2},    std::byte{3},    std::byte{4}};
  server.receive(ping, peer, peer);
  EXPECT_EQ(peer.pings.size(), 1u);
  EXPECT_TRUE(peer.wire.empty());
}

TEST(Session, StreamingSendFragments) {
  Pair pair;
  ASSERT_TRUE(pair.client.send_fragment(Opcode::text, bytes_of("Hel"), false, pair.client_peer));
  EXPECT_TRUE(pair.client.sending_fragmented());
  // Another message may not start inside the streamed one, but a ping may go in between.
  EXPECT_FALSE(pair.client.send_message(Opcode::text, bytes_of("x"), pair.client_peer));
  ASSERT_TRUE(pair.client.send_ping(bytes_of("p"), pair.client_peer));
  ASSERT_TRUE(pair.client.send_fragment(Opcode::text, bytes_of("lo"), true, pair.client_peer));
  EXPECT_FALSE(pair.client.sending_fragmented());
  pair.client_to_server();
  EXPECT_EQ(pair.server_peer.pings, std::vector<std::string>{"p"});
  ASSERT_EQ(pair.server_peer.messages.size(), 1u);
  EXPECT_EQ(pair.server_peer.messages[0].second, "Hello");
}

std::string random_text(std::mt19937& rng, std::size_t size) {
  static const char* words[] = {"socket ", "frame ", "deflate ", "κόσμε ", "message ", "€ ", "x"};
  std::string out;
  while (out.size() < size) out += words[rng() % 7];
  out.resize(size);
  // keep it valid UTF-8: cut back to a boundary
  while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
  if (!out.empty() && (static_cast<unsigned char>(out.back()) & 0x80)) out.pop_back();
  return out;
}

void round_trip_many(const DeflateParams& params) {
  Pair pair(params);
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    std::size_t size = i % 10 == 0 ? 0 : rng() % 3000;
    std::string text = random_text(rng, size);
    ASSERT_TRUE(pair.client.send_message(Opcode::text, bytes_of(text), pair.client_peer));
    if (!text.empty() && text.size() > 4) {
      EXPECT_EQ(pair.client_peer.wire[0] & std::byte{0x40}, std::byte{0x40}) << "RSV1 expected";
    }
    pair.client_to_server();
    ASSERT_EQ(pair.server_peer.messages.size(), 1u) << i;
    EXPECT_EQ(pair.server_peer.messages[0].second, text);
    pair.server_peer.messages.clear();
    ASSERT_TRUE(pair.server.send_message(Opcode::binary, bytes_of(text), pair.server_peer));
    pair.server_to_client();
    ASSERT_EQ(pair.client_peer.messages.size(), 1u);
    EXPECT_EQ(pair.client_peer.messages[0].second, text);
    pair.client_peer.messages.clear();
  }
  EXPECT_TRUE(pair.server_peer.errors.empty());
  EXPECT_TRUE(pair.client_peer.errors.empty());
}

TEST(Session, DeflateRoundTripWithContextTakeover) {
  round_trip_many(DeflateParams{});
}

TEST(Session, DeflateRoundTripWithoutContextTakeover) {
  round_trip_many(DeflateParams{.server_no_context_takeover = true,
                                .client_no_context_takeover = true,
                                .server_max_window_bits = 10,
                                .client_max_window_bits = 9});
}

TEST(Session, DeflateStreamingSendRoundTrip) {
  Pair pair(DeflateParams{});
  std::string whole;
  for (int i = 0; i < 10; ++i) {
    std::string piece = "piece " + std::to_string(i) + " of a streamed message; ";
    whole += piece;
    ASSERT_TRUE(pair.server.send_fragment(Opcode::text, bytes_of(piece), i == 9, pair.server_peer));
  }
  pair.server_to_client();
  ASSERT_EQ(pair.client_peer.messages.size(), 1u);
  EXPECT_EQ(pair.client_peer.messages[0].second, whole);
}

TEST(Session, SmallMessagesStayUncompressed) {
  Pair pair(DeflateParams{}, /*min_compress=*/64);
  pair.server.send_message(Opcode::text, bytes_of("short"), pair.server_peer);
  EXPECT_EQ(pair.server_peer.wire[0], std::byte{0x81});  // no RSV1
  pair.server_peer.wire.clear();
  pair.server.send_message(Opcode::text, bytes_of(std::string(100, 'a')), pair.server_peer, false);
  EXPECT_EQ(pair.server_peer.wire[0], std::byte{0x81});  // per-message opt-out
  pair.server_peer.wire.clear();
  pair.server.send_message(Opcode::text, bytes_of(std::string(100, 'a')), pair.server_peer);
  EXPECT_EQ(pair.server_peer.wire[0], std::byte{0xC1});
}

// A side whose window the peer limited to 8 bits (which zlib cannot write) sends every message
// uncompressed, whole or streamed, and still inflates what the other side compresses.
TEST(Session, AnEightBitWindowSendsUncompressedAndStillInflates) {
  for (const Role limited : {Role::server, Role::client}) {
    SCOPED_TRACE(limited == Role::server ? "server window 8" : "client window 8");
    DeflateParams params;
    (limited == Role::server ? params.server_max_window_bits : params.client_max_window_bits) = 8;
    Pair pair(params);
    Session& eight = limited == Role::server ? pair.server : pair.client;
    Peer& eight_peer = limited == Role::server ? pair.server_peer : pair.client_peer;
    Session& other = limited == Role::server ? pair.client : pair.server;
    Peer& other_peer = limited == Role::server ? pair.client_peer : pair.server_peer;
    const std::string text(1000, 'a');

    ASSERT_TRUE(eight.send_message(Opcode::text, bytes_of(text), eight_peer));
    EXPECT_EQ(eight_peer.wire[0], std::byte{0x81}) << "no RSV1: not compressed";
    eight_peer.wire.clear();
    ASSERT_TRUE(eight.send_fragment(Opcode::text, bytes_of(text), false, eight_peer));
    ASSERT_TRUE(eight.send_fragment(Opcode::text, bytes_of(text), true, eight_peer));
    EXPECT_EQ(eight_peer.wire[0], std::byte{0x01}) << "no RSV1 on a streamed message either";

    ASSERT_TRUE(other.send_message(Opcode::text, bytes_of(text), other_peer));
    EXPECT_EQ(other_peer.wire[0], std::byte{0xC1}) << "the other direction is compressed";
    if (limited == Role::server) {
      pair.client_to_server();
      ASSERT_EQ(pair.server_peer.messages.size(), 1u);
      EXPECT_EQ(pair.server_peer.messages[0].second, text);
    } else {
      pair.server_to_client();
      ASSERT_EQ(pair.client_peer.messages.size(), 1u);
      EXPECT_EQ(pair.client_peer.messages[0].second, text);
    }
  }
}

// ANCHORS 1: a small compressed frame that inflates past the limit -> 1009, memory bounded.
TEST(Session, CompressionBombIsRefusedWithBoundedMemory) {
  const std::size_t limit = 1 << 20;
  std::vector<unsigned char> zeros(64 << 20, 0);
  std::vector<unsigned char> packed(compressBound(static_cast<uLong>(zeros.size())));
  z_stream z{};
  ASSERT_EQ(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
  z.next_in = zeros.data();
  z.avail_in = static_cast<uInt>(zeros.size());
  z.next_out = packed.data();
  z.avail_out = static_cast<uInt>(packed.size());
  ASSERT_EQ(deflate(&z, Z_SYNC_FLUSH), Z_OK);
  packed.resize(packed.size() - z.avail_out - 4);  // drop 00 00 ff ff
  deflateEnd(&z);
  ASSERT_LT(packed.size(), 100'000u);

  SessionConfig config{.role = Role::client, .max_message_size = limit};
  Session client(config, DeflateParams{});
  Peer peer;
  // The length in its shortest form (RFC 6455 5.2): 16 bits up to 0xFFFF, else 64.
  const bool long_form = packed.size() > 0xFFFF;
  std::vector<std::byte> frame = {std::byte{0xC2}, long_form ? std::byte{127} : std::byte{126}};
  for (int shift = long_form ? 56 : 8; shift >= 0; shift -= 8) {
    frame.push_back(static_cast<std::byte>((packed.size() >> shift) & 0xFF));
  }
  for (auto c : packed) frame.push_back(static_cast<std::byte>(c));
  receive_all(client, frame, peer, peer);
  ASSERT_EQ(peer.errors.size(), 1u);
  EXPECT_EQ(peer.errors[0].close_code, close_code::message_too_big);
  EXPECT_TRUE(peer.messages.empty());
}

TEST(Session, RawFramesModeHandsOverEveryFrame) {
  SessionConfig config{.role = Role::server, .raw_frames = true};
  Session server(config);
  struct RawPeer final : SessionHandler, FrameSink {
    std::vector<std::pair<Opcode, std::string>> frames;
    std::vector<std::byte> wire;
    void on_message(Opcode, std::span<const std::byte>) override { ADD_FAILURE(); }
    void on_frame(const FrameHeader& h, std::span<const std::byte> p) override {
      frames.emplace_back(h.opcode, text_of(p));
    }
    void write_frame(std::span<const std::byte> h, std::span<const std::byte> p,
                     const MaskKey*) override {
      wire.insert(wire.end(), h.begin(), h.end());
      wire.insert(wire.end(), p.begin(), p.end());
    }
  } peer;
  Pair helper;  // use a client session to produce masked frames
  helper.client.send_fragment(Opcode::text, bytes_of("a"), false, helper.client_peer);
  helper.client.send_ping(bytes_of("p"), helper.client_peer);
  helper.client.send_fragment(Opcode::text, bytes_of("b"), true, helper.client_peer);
  helper.client.send_close(1000, "", helper.client_peer);
  server.receive(helper.client_peer.wire, peer, peer);
  ASSERT_EQ(peer.frames.size(), 4u);
  EXPECT_EQ(peer.frames[0], std::make_pair(Opcode::text, std::string("a")));
  EXPECT_EQ(peer.frames[1], std::make_pair(Opcode::ping, std::string("p")));
  EXPECT_EQ(peer.frames[2], std::make_pair(Opcode::continuation, std::string("b")));
  EXPECT_EQ(peer.frames[3].first, Opcode::close);
  EXPECT_TRUE(peer.wire.empty());  // no automatic pong or close reply in raw mode
}

TEST(Session, SendRawFrameExactlyAsCrafted) {
  SessionConfig config{.role = Role::server};
  Session server(config);
  Peer peer;
  Frame frame = Frame::text("hi", false);
  frame.rsv2 = true;
  ASSERT_TRUE(server.send_raw(frame, peer));
  ASSERT_EQ(peer.wire.size(), 4u);
  EXPECT_EQ(peer.wire[0], std::byte{0x21});  // FIN=0 RSV2=1 opcode=1
  EXPECT_EQ(peer.wire[1], std::byte{0x02});
}

// What an owner bounds across sessions (ServerOptions::max_assembly_bytes, message_timeout): a
// message whose frames span receive() calls, and the memory it holds meanwhile.
TEST(Session, AMessageInAssemblyShowsItsMemoryUntilItIsComplete) {
  Pair pair;
  const std::string part(100'000, 'p');
  ASSERT_TRUE(pair.client.send_message(Opcode::text, bytes_of(part), pair.client_peer));
  pair.client_to_server();  // whole in one receive(): delivered from the input, nothing held
  EXPECT_FALSE(pair.server.receiving_message());
  EXPECT_EQ(pair.server.message_memory(), 0u);

  ASSERT_TRUE(pair.client.send_fragment(Opcode::binary, bytes_of(part), false, pair.client_peer));
  pair.client_to_server();
  EXPECT_TRUE(pair.server.receiving_message());
  EXPECT_GE(pair.server.message_memory(), part.size());
  ASSERT_TRUE(pair.client.send_fragment(Opcode::binary, bytes_of(part), true, pair.client_peer));
  pair.client_to_server();
  EXPECT_FALSE(pair.server.receiving_message());
  EXPECT_EQ(pair.server.message_memory(), 0u);
  EXPECT_EQ(pair.server_peer.messages.size(), 2u);
}

TEST(Session, ACompressedMessageInAssemblyShowsItsInflatedSize) {
  Pair pair(DeflateParams{});
  const std::string part(1'000'000, 'z');  // a few KB on the wire
  ASSERT_TRUE(pair.client.send_fragment(Opcode::binary, bytes_of(part), false, pair.client_peer));
  ASSERT_LT(pair.client_peer.wire.size(), 10'000u);
  pair.client_to_server();
  EXPECT_TRUE(pair.server.receiving_message());
  EXPECT_GE(pair.server.message_memory(), part.size());
}

// The owner's connection closes: the message in assembly and zlib's states go at once, and
// nothing more is delivered or sent.
TEST(Session, AbandonFreesWhatReceivingHoldsAndEndsTheSession) {
  Pair pair(DeflateParams{});
  const std::string part(1'000'000, 'z');
  ASSERT_TRUE(pair.client.send_fragment(Opcode::binary, bytes_of(part), false, pair.client_peer));
  pair.client_to_server();
  ASSERT_GE(pair.server.message_memory(), part.size());

  pair.server.abandon();
  EXPECT_EQ(pair.server.state(), Session::State::closed);
  EXPECT_FALSE(pair.server.receiving_message());
  EXPECT_EQ(pair.server.message_memory(), 0u);
  EXPECT_FALSE(pair.server.deflate_enabled());
  EXPECT_FALSE(pair.server.send_message(Opcode::text, bytes_of("x"), pair.server_peer));
  ASSERT_TRUE(pair.client.send_fragment(Opcode::binary, bytes_of(part), true, pair.client_peer));
  pair.client_to_server();
  EXPECT_TRUE(pair.server_peer.messages.empty());
}

// From inside a callback (on_message closes the connection) the message's data must stay valid
// until the callback returns: the memory goes when receive() does.
TEST(Session, AbandonFromACallbackKeepsTheMessageUntilReceiveReturns) {
  struct Abandoning final : SessionHandler {
    Session* session = nullptr;
    std::vector<std::string> seen;
    void on_message(Opcode, std::span<const std::byte> data) override {
      session->abandon();
      seen.push_back(text_of(data));  // still the message (ASan reports it if it were freed)
    }
  };
  Pair pair;
  Abandoning handler;
  handler.session = &pair.server;
  const std::string part(100'000, 'q');
  pair.client.send_fragment(Opcode::binary, bytes_of(part), false, pair.client_peer);
  pair.client.send_fragment(Opcode::binary, bytes_of(part), true, pair.client_peer);
  pair.client.send_message(Opcode::text, bytes_of("after"), pair.client_peer);
  pair.server.receive(pair.client_peer.wire, handler, pair.server_peer);

  ASSERT_EQ(handler.seen.size(), 1u);  // nothing after the abandon
  EXPECT_EQ(handler.seen[0], part + part);
  EXPECT_EQ(pair.server.message_memory(), 0u);
  EXPECT_EQ(pair.server.state(), Session::State::closed);
}

// =============================================================================================
// A bounded share of inflating per receive() (SessionConfig::inflate_per_receive): a few KB of
// deflate can inflate to megabytes, so a call stops after its share and hands back the rest of
// its input unused and unchanged, for the owner to feed again after its other peers.

constexpr std::size_t KiB = 1024;
// What a call may inflate beyond its share: one step of zlib's work (16 KiB), and what zlib holds
// of input it took already (a few KB at most).
constexpr std::size_t share_overshoot = 32 * KiB;

// What a receiving session delivers, whole or in pieces, and how much of it in one call.
struct ShareRecorder final : SessionHandler, FrameSink {
  std::string message;
  bool complete = false;
  std::size_t this_call = 0;  // bytes delivered since the count was last reset
  std::vector<std::byte> wire;
  std::vector<std::string> pings;
  std::vector<ProtocolError> errors;

  void on_message(Opcode, std::span<const std::byte> data) override {
    message = text_of(data);
    complete = true;
  }
  void on_fragment(Opcode, std::span<const std::byte> data, bool, bool last) override {
    message += text_of(data);
    this_call += data.size();
    complete = last;
  }
  void on_ping(std::span<const std::byte> data) override { pings.push_back(text_of(data)); }
  void on_error(ProtocolError error) override { errors.push_back(error); }
  void write_frame(std::span<const std::byte> header, std::span<const std::byte> payload,
                   const MaskKey*) override {
    wire.insert(wire.end(), header.begin(), header.end());
    wire.insert(wire.end(), payload.begin(), payload.end());
  }
};

// One megabyte of text that deflates about threefold: about 300 KB on the wire, each call's share
// a small part of it.
std::string compressible_text() {
  std::mt19937 rng(16);
  return random_text(rng, 1u << 20);
}

// Both directions: a server receives masked frames (unmasked in place, so what it hands back must
// be masked again), a client unmasked ones.
TEST(Session, ACompressedMessageArrivesInBoundedSharesTheRestHandedBackAsItCame) {
  for (const Role receiver_role : {Role::server, Role::client}) {
    SCOPED_TRACE(receiver_role == Role::server ? "server receives" : "client receives");
    const Role sender_role = receiver_role == Role::server ? Role::client : Role::server;
    const SessionConfig sender_config = config_for(sender_role, 0);
    SessionConfig receiver_config = config_for(receiver_role, 0);
    receiver_config.stream_fragments = true;  // each call's output is seen as it is made
    const std::size_t share = receiver_config.inflate_per_receive;
    ASSERT_EQ(share, 16 * KiB);
    Session sender(sender_config, DeflateParams{});
    Session receiver(receiver_config, DeflateParams{});
    Peer wire;
    const std::string text = compressible_text();
    ASSERT_TRUE(sender.send_message(Opcode::text, bytes_of(text), wire));
    ASSERT_LT(wire.wire.size(), text.size() / 2);
    const std::vector<std::byte> as_sent = wire.wire;

    ShareRecorder recorder;
    std::size_t offset = 0, calls = 0;
    while (offset < as_sent.size()) {
      ASSERT_LT(calls++, text.size()) << "no progress";
      recorder.this_call = 0;
      const std::span<std::byte> input = std::span(wire.wire).subspan(offset);
      const std::size_t used = receiver.receive(input, recorder, recorder);
      EXPECT_LE(recorder.this_call, share + share_overshoot) << "call " << calls;
      ASSERT_EQ(receiver.state(), Session::State::open);
      // The rest is exactly as it came: masked still, ready for the next call.
      ASSERT_TRUE(std::equal(input.begin() + static_cast<std::ptrdiff_t>(used), input.end(),
                             as_sent.begin() + static_cast<std::ptrdiff_t>(offset + used)))
          << "call " << calls;
      offset += used;
    }
    EXPECT_TRUE(recorder.complete);
    EXPECT_EQ(recorder.message, text);
    EXPECT_TRUE(recorder.errors.empty());
    // Cut into shares (without the bound: one call), each one making progress.
    EXPECT_GE(calls, text.size() / (share + share_overshoot));
    EXPECT_LE(calls, text.size() / share + 2);
  }
}

// The session's state stays exact whatever the owner's reads cut: a compressed message in three
// frames with a ping between them, arriving in pieces of any size, each call stopping after a
// 1 KiB share, what it leaves fed again in front of the next piece (as a connection does).
TEST(Session, ACompressedMessageSplitAnywhereAndCutIntoSharesArrivesWhole) {
  const SessionConfig sender_config = config_for(Role::client, 0);
  Session sender(sender_config, DeflateParams{});
  Peer sent;
  const std::string text = compressible_text();
  const std::size_t third = text.size() / 3;
  ASSERT_TRUE(sender.send_fragment(Opcode::text, bytes_of(text).first(third), false, sent));
  ASSERT_TRUE(sender.send_ping(bytes_of("between"), sent));
  ASSERT_TRUE(
      sender.send_fragment(Opcode::text, bytes_of(text).subspan(third, third), false, sent));
  ASSERT_TRUE(sender.send_fragment(Opcode::text, bytes_of(text).subspan(2 * third), true, sent));
  const std::vector<std::byte> as_sent = sent.wire;

  SessionConfig receiver_config = config_for(Role::server, 0);
  receiver_config.inflate_per_receive = 1 * KiB;
  std::mt19937 rng(6455);
  for (int run = 0; run < 20; ++run) {
    SCOPED_TRACE("run " + std::to_string(run));
    Session receiver(receiver_config, DeflateParams{});
    ShareRecorder recorder;
    std::vector<std::byte> held;  // fed, not used yet
    std::size_t arrived = 0, used_total = 0, stopped_early = 0;
    while (used_total < as_sent.size()) {
      const std::size_t piece = std::min<std::size_t>(1 + rng() % 8192, as_sent.size() - arrived);
      held.insert(held.end(), as_sent.begin() + static_cast<std::ptrdiff_t>(arrived),
                  as_sent.begin() + static_cast<std::ptrdiff_t>(arrived + piece));
      arrived += piece;
      const std::size_t used = receiver.receive(held, recorder, recorder);
      ASSERT_EQ(receiver.state(), Session::State::open);
      if (used < held.size()) ++stopped_early;
      held.erase(held.begin(), held.begin() + static_cast<std::ptrdiff_t>(used));
      used_total += used;
      ASSERT_TRUE(std::equal(held.begin(), held.end(),
                             as_sent.begin() + static_cast<std::ptrdiff_t>(used_total)));
    }
    EXPECT_GT(stopped_early, text.size() / (64 * KiB));
    EXPECT_TRUE(recorder.complete);
    EXPECT_EQ(recorder.message, text);
    EXPECT_EQ(recorder.pings, std::vector<std::string>{"between"});
    EXPECT_TRUE(recorder.errors.empty());
    EXPECT_FALSE(recorder.wire.empty()) << "the pong";
  }
}

// Only inflating is bounded: uncompressed data costs a copy at most, and a compressed message
// within the share goes in one call.
TEST(Session, UncompressedAndSmallCompressedMessagesAreUsedWholeInOneCall) {
  Pair pair(DeflateParams{});
  const std::string text = compressible_text();
  const std::string small = text.substr(0, 12 * KiB);
  ASSERT_TRUE(pair.client.send_message(Opcode::text, bytes_of(text), pair.client_peer, false));
  ASSERT_TRUE(pair.client.send_message(Opcode::text, bytes_of(small), pair.client_peer));
  ASSERT_EQ(pair.server.receive(pair.client_peer.wire, pair.server_peer, pair.server_peer),
            pair.client_peer.wire.size());
  ASSERT_EQ(pair.server_peer.messages.size(), 2u);
  EXPECT_EQ(pair.server_peer.messages[0].second, text);
  EXPECT_EQ(pair.server_peer.messages[1].second, small);
}

// A compressed message in assembly grows in 64 KiB blocks, not in a buffer that doubles (which
// copies up to half the message in one call): what it holds, and is charged for, stays within a
// block of its size.
TEST(Session, ACompressedMessageInAssemblyHoldsItsSizeInBlocks) {
  Pair pair(DeflateParams{});
  const std::string part(600'000, 'z');  // a doubling buffer would hold 1 MiB
  ASSERT_TRUE(pair.client.send_fragment(Opcode::binary, bytes_of(part), false, pair.client_peer));
  pair.client_to_server();
  EXPECT_GE(pair.server.message_memory(), part.size());
  EXPECT_LE(pair.server.message_memory(), part.size() + 64 * KiB);
  const std::string rest = compressible_text();
  ASSERT_TRUE(pair.client.send_fragment(Opcode::binary, bytes_of(rest), true, pair.client_peer));
  pair.client_to_server();
  ASSERT_EQ(pair.server_peer.messages.size(), 1u);
  EXPECT_EQ(pair.server_peer.messages[0].second, part + rest);
  EXPECT_EQ(pair.server.message_memory(), 0u);
}

// Several compressed messages in one receive() call share its inflate budget: the call stops
// within the second 12 KiB message of four, not after all of them.
TEST(Session, CompressedMessagesInOneReceiveShareItsInflateBudget) {
  Pair pair(DeflateParams{.server_no_context_takeover = true, .client_no_context_takeover = true});
  const std::string text = compressible_text().substr(0, 12 * KiB);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(pair.client.send_message(Opcode::binary, bytes_of(text), pair.client_peer));
  }
  std::vector<std::byte> wire;
  wire.swap(pair.client_peer.wire);
  const std::size_t used = pair.server.receive(wire, pair.server_peer, pair.server_peer);
  EXPECT_LT(used, wire.size());
  EXPECT_LE(pair.server_peer.messages.size(), 2u);
  receive_all(pair.server, std::span(wire).subspan(used), pair.server_peer, pair.server_peer);
  ASSERT_EQ(pair.server_peer.messages.size(), 4u);
  for (const auto& message : pair.server_peer.messages) EXPECT_EQ(message.second, text);
}

// Messages each way over `pair`: whole ones, a streamed one with a ping between its pieces, a
// streamed send under way while a message arrives, and a message arriving over several calls.
void exchange_compressed_messages(Pair& pair) {
  const std::string text = compressible_text().substr(0, 3 * KiB);
  const auto piece = [&](std::size_t i) { return bytes_of(text).subspan(i * KiB, KiB); };
  ASSERT_TRUE(pair.client.send_message(Opcode::binary, bytes_of(text), pair.client_peer));
  pair.client_to_server();
  ASSERT_TRUE(pair.server.send_message(Opcode::binary, bytes_of(text), pair.server_peer));
  pair.server_to_client();

  ASSERT_TRUE(pair.client.send_fragment(Opcode::binary, piece(0), false, pair.client_peer));
  ASSERT_TRUE(pair.client.send_ping(bytes_of("between"), pair.client_peer));
  ASSERT_TRUE(pair.client.send_fragment(Opcode::binary, piece(1), false, pair.client_peer));
  pair.client_to_server();  // the message stays in assembly between reads
  ASSERT_TRUE(pair.server.send_fragment(Opcode::binary, piece(0), false, pair.server_peer));
  ASSERT_TRUE(pair.client.send_fragment(Opcode::binary, piece(2), true, pair.client_peer));
  pair.client_to_server();
  ASSERT_TRUE(pair.server.send_fragment(Opcode::binary, piece(1), false, pair.server_peer));
  ASSERT_TRUE(pair.server.send_fragment(Opcode::binary, piece(2), true, pair.server_peer));
  pair.server_to_client();

  ASSERT_TRUE(pair.client.send_message(Opcode::binary, bytes_of(text), pair.client_peer));
  std::vector<std::byte> wire;
  wire.swap(pair.client_peer.wire);
  for (std::size_t at = 0; at < wire.size(); at += 100) {  // a read of 100 bytes at a time
    const std::size_t size = std::min<std::size_t>(100, wire.size() - at);
    ASSERT_EQ(
        pair.server.receive(std::span(wire).subspan(at, size), pair.server_peer, pair.server_peer),
        size);
  }

  const std::vector<std::pair<Opcode, std::string>> expected(3, {Opcode::binary, text});
  EXPECT_EQ(pair.server_peer.messages, expected);
  EXPECT_EQ(pair.client_peer.messages, std::vector(2, expected[0]));
  EXPECT_EQ(pair.server_peer.pings, std::vector<std::string>{"between"});
  EXPECT_TRUE(pair.server_peer.errors.empty());
  EXPECT_TRUE(pair.client_peer.errors.empty());
}

// The heap a pair's two sessions hold once their messages are done: what goes when they do.
// Averaged over many pairs, since malloc keeps the last few blocks freed of each size in its
// thread cache, which it counts as in use.
std::size_t heap_held_per_pair_after_exchange(const DeflateParams& params) {
  constexpr std::size_t count = 32;
  auto pairs = std::make_unique<std::array<std::optional<Pair>, count>>();
  for (std::optional<Pair>& pair : *pairs) {
    pair.emplace(params);
    exchange_compressed_messages(*pair);
    pair->server_peer = Peer();  // the peers' records go first
    pair->client_peer = Peer();
  }
  const std::size_t with_sessions = test::live_heap();
  for (std::optional<Pair>& pair : *pairs) pair.reset();
  return (with_sessions - test::live_heap()) / count;
}

// Without context takeover a compressed session between messages holds nothing on the heap, in
// either role: zlib's states and buffers are the thread's, taken per message, and the agreed
// parameters are kept inline.
TEST(Session, CompressedSessionsWithoutContextTakeoverHoldNoHeapBetweenMessages) {
  const DeflateParams no_context{.server_no_context_takeover = true,
                                 .client_no_context_takeover = true};
  heap_held_per_pair_after_exchange(no_context);  // sets up the thread's states and buffers
  EXPECT_EQ(heap_held_per_pair_after_exchange(no_context), 0u);
}

// With context takeover a direction keeps its zlib state from one message to the next (a
// browser's offer: the client keeps its context, so the server's inflater does): a kept 32 KiB
// inflate window at least on the server, a deflate state on the client. And the client's second
// message refers to its first.
TEST(Session, ADirectionWithContextTakeoverKeepsItsZlibState) {
  const DeflateParams browser{.server_no_context_takeover = true};
  EXPECT_GE(heap_held_per_pair_after_exchange(browser), 64 * KiB);

  Pair pair(browser);
  const std::string text = compressible_text().substr(0, 3 * KiB);
  ASSERT_TRUE(pair.client.send_message(Opcode::binary, bytes_of(text), pair.client_peer));
  const std::size_t first_size = pair.client_peer.wire.size();
  pair.client_to_server();
  ASSERT_TRUE(pair.client.send_message(Opcode::binary, bytes_of(text), pair.client_peer));
  EXPECT_LT(pair.client_peer.wire.size(), first_size / 4) << "the second message refers back";
  pair.client_to_server();
  const std::vector<std::pair<Opcode, std::string>> expected(2, {Opcode::binary, text});
  EXPECT_EQ(pair.server_peer.messages, expected);
}

// The permessage-deflate answer a session was opened with, kept interned: the caller's string
// may go.
TEST(Session, KeepsTheDeflateAnswerItWasGiven) {
  const SessionConfig config = config_for(Role::server, 0);
  auto answer = std::make_unique<std::string>("permessage-deflate; server_no_context_takeover");
  const Session session(config, DeflateParams{.server_no_context_takeover = true}, *answer);
  answer.reset();
  EXPECT_EQ(session.deflate_answer(), "permessage-deflate; server_no_context_takeover");
  EXPECT_EQ(Session(config, std::nullopt, "ignored").deflate_answer(), "");
}

}  // namespace
}  // namespace fastws::protocol
