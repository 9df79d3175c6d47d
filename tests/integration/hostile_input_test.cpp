// The hostile inputs of ANCHORS.md ("Hostile input", items 1-10, 12, 13) against the real server
// over 127.0.0.1, for the sub-cases no other integration test drives through a socket: the
// session-level spec (tests/spec/session.spec) and the fuzzers cover most of them in memory,
// these check that the server as a whole gives the same answers.
//
// Already covered elsewhere over real sockets (not repeated here): the limit across fragments
// with a pong between (server_limits_test MessageLimit), fragment floods and 4 MiB in 64-byte
// fragments (FragmentFlood), unmasked data frames and RSV2 (server_echo_test), the malformed
// heads of item 8 (server_handshake_test, server_http_upgrade_test), on_upgrade rejections with
// a pipelined request (UpgradeDecision, ServerUpgrade), 100-200 slowloris heads and the close
// slow-consumer policy (server_limits_test, server_timeouts_test).
//
// Memory bounds are measured with a process-wide peak of live operator-new bytes (replaced
// below), so this file must stay its own executable.
#include <gtest/gtest.h>
#include <malloc.h>
#include <zlib.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "deflate_peer.hpp"
#include "server_test_support.hpp"

// ---------------------------------------------------------------------------------------------
// Live heap bytes and their peak, for the whole process (server loop and test thread).

namespace hostile_memory {
inline std::atomic<std::size_t> live{0};
inline std::atomic<std::size_t> peak{0};

inline void allocated(void* memory) {
  if (memory == nullptr) return;
  const std::size_t now = live.fetch_add(malloc_usable_size(memory)) + malloc_usable_size(memory);
  std::size_t seen = peak.load();
  while (now > seen && !peak.compare_exchange_weak(seen, now)) {
  }
}
inline void released(void* memory) {
  if (memory != nullptr) live.fetch_sub(malloc_usable_size(memory));
}
// Starts a measurement: the peak restarts from what is live now, which is returned.
inline std::size_t restart() {
  const std::size_t now = live.load();
  peak.store(now);
  return now;
}
}  // namespace hostile_memory

[[gnu::noinline]] void* operator new(std::size_t size) {
  void* memory = std::malloc(size == 0 ? 1 : size);
  if (memory == nullptr) throw std::bad_alloc();
  hostile_memory::allocated(memory);
  return memory;
}
[[gnu::noinline]] void* operator new[](std::size_t size) {
  return ::operator new(size);
}
[[gnu::noinline]] void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  void* memory = std::malloc(size == 0 ? 1 : size);
  hostile_memory::allocated(memory);
  return memory;
}
[[gnu::noinline]] void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept {
  return ::operator new(size, tag);
}
[[gnu::noinline]] void operator delete(void* memory) noexcept {
  hostile_memory::released(memory);
  std::free(memory);
}
[[gnu::noinline]] void operator delete[](void* memory) noexcept {
  ::operator delete(memory);
}
[[gnu::noinline]] void operator delete(void* memory, std::size_t) noexcept {
  ::operator delete(memory);
}
[[gnu::noinline]] void operator delete[](void* memory, std::size_t) noexcept {
  ::operator delete(memory);
}

namespace fastws::testing {
namespace {

constexpr MaskKey key{std::byte{0x11}, std::byte{0x22}, std::byte{0x33}, std::byte{0x44}};

std::vector<std::byte> bytes_of(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (int value : values) out.push_back(static_cast<std::byte>(value));
  return out;
}

std::vector<std::byte> filled(std::size_t size, char c) {
  return std::vector<std::byte>(size, static_cast<std::byte>(c));
}

// A frame on the wire, masked as a client must.
std::vector<std::byte> wire(Frame frame) {
  if (!frame.mask) frame.mask = key;
  return frame.serialize();
}

Frame frame_of(Opcode opcode, std::vector<std::byte> payload, bool fin = true) {
  Frame frame;
  frame.opcode = opcode;
  frame.fin = fin;
  frame.payload = std::move(payload);
  return frame;
}

// A close frame with exactly this code (big-endian) and raw reason bytes.
Frame close_with(int code, std::string_view reason = {}) {
  std::vector<std::byte> payload = bytes_of({(code >> 8) & 0xFF, code & 0xFF});
  const auto text = to_bytes(reason);
  payload.insert(payload.end(), text.begin(), text.end());
  return frame_of(Opcode::close, std::move(payload));
}

void echo(Server& server) {
  server.on_message(
      [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
}

// An echo server that counts what reached the application.
class CountingServer {
 public:
  explicit CountingServer(ServerOptions options = TestServer::default_options())
      : server_(std::move(options)) {
    server_.server().on_message([this](const Conn& conn, Message message) {
      messages_.add(message.size());
      conn.send(message.data(), message.opcode());
    });
    server_.server().on_ping(
        [this](const Conn&, std::span<const std::byte> payload) { pings_.add(payload.size()); });
    server_.server().on_error(
        [this](const Conn&, const CloseStatus& status) { errors_.add(status.code); });
    server_.start();
  }

  std::uint16_t port() const { return server_.port(); }
  std::unique_ptr<RawPeer> connect(std::string_view extra = {}) {
    auto peer = std::make_unique<RawPeer>(port(), 2s);
    const std::string head = peer->handshake("/", extra);
    EXPECT_EQ(status_of(head), 101) << head;
    return peer;
  }

  Recorded<std::size_t> messages_;
  Recorded<std::size_t> pings_;
  Recorded<std::uint16_t> errors_;
  TestServer server_;
};

// One case: bytes sent after the handshake, and the close code the server must answer with.
struct WireCase {
  std::string name;
  std::vector<std::byte> bytes;
  std::uint16_t code;
};

// Runs every case on its own connection: the server's close code, then the server hangs up.
void expect_close_codes(CountingServer& server, const std::vector<WireCase>& cases,
                        std::string_view extra = {}) {
  for (const WireCase& c : cases) {
    auto peer = server.connect(extra);
    peer->send_raw(c.bytes);
    EXPECT_EQ(peer->read_close_code(), c.code) << c.name;
    EXPECT_TRUE(peer->wait_closed()) << c.name;
  }
}

Frame compressed(Opcode opcode, std::vector<std::byte> payload, bool fin = true) {
  Frame frame = frame_of(opcode, std::move(payload), fin);
  frame.rsv1 = true;
  return frame;
}

ServerOptions deflate_options(std::size_t limit = 16u << 20) {
  ServerOptions options = TestServer::default_options();
  options.compression.enabled = true;
  options.max_message_size = limit;
  return options;
}

constexpr std::string_view deflate_offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";

// =============================================================================================
// 1. Compression bombs: 1009, no message, memory near the limit.

// Sends `bytes` on a connection that negotiated permessage-deflate: the server closes it with
// 1009, and its heap never grows past about twice the message limit meanwhile.
void expect_bomb_refused(CountingServer& server, const std::vector<std::byte>& bytes,
                         std::size_t limit) {
  auto peer = server.connect(deflate_offer);
  const std::size_t baseline = hostile_memory::restart();
  peer->send_raw(bytes);
  EXPECT_EQ(peer->read_close_code(), close_code::message_too_big);
  EXPECT_TRUE(peer->wait_closed());
  const std::size_t growth = hostile_memory::peak.load() - baseline;
  EXPECT_LE(growth, 2 * limit + 512 * 1024) << "peak heap growth " << growth;
}

TEST(CompressionBomb, OneSmallFrameInflatingFarPastTheLimitIs1009WithBoundedMemory) {
  constexpr std::size_t limit = 1u << 20;
  CountingServer server(deflate_options(limit));
  Zlib zlib;
  const std::vector<std::byte> bomb = zlib.compress(filled(64u << 20, '\0'));  // 64 MiB
  ASSERT_LT(bomb.size(), 128u * 1024);
  expect_bomb_refused(server, wire(compressed(Opcode::binary, bomb)), limit);
  ASSERT_TRUE(server.errors_.wait_for(1));
  EXPECT_EQ(server.errors_.all().front(), close_code::message_too_big);
  EXPECT_EQ(server.messages_.size(), 0u);
}

TEST(CompressionBomb, ManyContinuationsSharingOneDeflateStreamAre1009) {
  constexpr std::size_t limit = 1u << 20;
  CountingServer server(deflate_options(limit));
  Zlib zlib;
  const std::vector<std::byte> quarter_mib = filled(256 * 1024, 'z');
  // 64 fragments of 256 KiB each once inflated (16 MiB), each a few hundred bytes on the wire.
  std::vector<std::byte> bytes;
  for (int i = 0; i < 64; ++i) {
    const bool last = i == 63;
    auto piece = zlib.deflate_piece(quarter_mib, Z_SYNC_FLUSH, last);
    Frame frame = i == 0 ? compressed(Opcode::binary, std::move(piece), false)
                         : frame_of(Opcode::continuation, std::move(piece), last);
    const auto one = wire(frame);
    bytes.insert(bytes.end(), one.begin(), one.end());
  }
  ASSERT_LT(bytes.size(), 256u * 1024);
  expect_bomb_refused(server, bytes, limit);
  EXPECT_EQ(server.messages_.size(), 0u);
}

TEST(CompressionBomb, ExactlyTheLimitAfterInflationIsDelivered) {
  constexpr std::size_t limit = 1u << 20;
  CountingServer server(deflate_options(limit));
  Zlib zlib;
  auto peer = server.connect(deflate_offer);
  const std::size_t baseline = hostile_memory::restart();
  peer->send_frame(compressed(Opcode::binary, zlib.compress(filled(limit, 'a'))));
  ASSERT_TRUE(server.messages_.wait_for(1));
  EXPECT_EQ(server.messages_.all().front(), limit);
  // The measurement sees the server's allocations (else the bounds above would prove nothing).
  EXPECT_GE(hostile_memory::peak.load() - baseline, limit);
  EXPECT_EQ(server.errors_.size(), 0u);
}

// =============================================================================================
// 2. Absurd declared lengths.

TEST(DeclaredLength, FourGiBWithoutPayloadIs1009AtOnceWithoutAllocatingIt) {
  CountingServer server;  // 16 MiB limit
  auto peer = server.connect();
  const std::size_t baseline = hostile_memory::restart();
  // FIN + binary, MASK + 127, length 0x0000000100000000, the mask key, and no payload at all.
  peer->send_raw(bytes_of({0x82, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44}));
  EXPECT_EQ(peer->read_close_code(), close_code::message_too_big);  // within the 2 s timeout
  EXPECT_TRUE(peer->wait_closed());
  EXPECT_LT(hostile_memory::peak.load() - baseline, 1u << 20);
  EXPECT_EQ(server.messages_.size(), 0u);
}

TEST(DeclaredLength, LengthWithTheTopBitSetIs1002) {
  CountingServer server;
  expect_close_codes(
      server,
      {
          {"64-bit length 0x8000000000000005",
           bytes_of({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 5, 0x11, 0x22, 0x33, 0x44, 1, 2, 3, 4, 5}),
           close_code::protocol_error},
          {"64-bit length 0xFFFFFFFFFFFFFFFF",
           bytes_of({0x82, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x11, 0x22, 0x33,
                     0x44}),
           close_code::protocol_error},
      });
  EXPECT_EQ(server.messages_.size(), 0u);
}

// =============================================================================================
// 3. The limit across fragments, when the fragments are compressed (the uncompressed case is
// MessageLimit in server_limits_test.cpp).

TEST(CompressedMessageLimit, LimitMinusOneThenAPongThenTwoBytesIs1009AndOneByteFits) {
  constexpr std::size_t limit = 1000;
  for (std::size_t tail : {std::size_t{2}, std::size_t{1}}) {
    CountingServer server(deflate_options(limit));
    auto peer = server.connect(deflate_offer);
    Zlib zlib;
    peer->send_frame(compressed(
        Opcode::binary, zlib.deflate_piece(filled(limit - 1, 'a'), Z_SYNC_FLUSH, false), false));
    peer->send_frame(Frame::pong(to_bytes("between")));
    peer->send_frame(frame_of(Opcode::continuation,
                              zlib.deflate_piece(filled(tail, 'b'), Z_SYNC_FLUSH, true), true));
    if (tail == 2) {
      EXPECT_EQ(peer->read_close_code(), close_code::message_too_big);
      EXPECT_EQ(server.messages_.size(), 0u);
    } else {
      ASSERT_TRUE(server.messages_.wait_for(1));
      EXPECT_EQ(server.messages_.all().front(), limit);
    }
  }
}

// =============================================================================================
// 4. Fragment budget: scales with the limit (the default-limit cases are FragmentFlood in
// server_limits_test.cpp).

TEST(FragmentBudget, AtA64KibLimitAWholeMessageIn64ByteFragmentsPassesAndAFloodIsCut) {
  ServerOptions options = TestServer::default_options();
  options.max_message_size = 64 * 1024;  // 1,024 fragments of 64 bytes
  CountingServer server(options);
  {
    auto peer = server.connect();
    std::vector<std::byte> bytes;
    for (int i = 0; i < 1024; ++i) {
      Frame frame =
          frame_of(i == 0 ? Opcode::binary : Opcode::continuation, filled(64, 'f'), i == 1023);
      const auto one = wire(frame);
      bytes.insert(bytes.end(), one.begin(), one.end());
    }
    ASSERT_TRUE(peer->send_raw(bytes));
    auto echoed = peer->read_frame();
    ASSERT_TRUE(echoed);
    EXPECT_EQ(echoed->payload, filled(64 * 1024, 'f'));
  }
  {
    auto peer = server.connect();
    std::vector<std::byte> bytes = wire(frame_of(Opcode::text, {}, false));
    const auto empty = wire(frame_of(Opcode::continuation, {}, false));
    for (int i = 0; i < 100'000; ++i) bytes.insert(bytes.end(), empty.begin(), empty.end());
    peer->send_raw(bytes);  // the server may stop reading before the end: fine
    EXPECT_EQ(peer->read_close_code(), close_code::message_too_big);
    EXPECT_TRUE(peer->wait_closed());
  }
  EXPECT_EQ(server.messages_.size(), 1u);
}

// =============================================================================================
// 5. Control frames.

TEST(ControlFrames, OversizeFragmentedAndInvalidCloseFramesGetTheirCodes) {
  CountingServer server;
  std::vector<WireCase> cases = {
      {"ping of 126 bytes", wire(Frame::ping(filled(126, 'p'))), close_code::protocol_error},
      {"pong of 126 bytes", wire(Frame::pong(filled(126, 'p'))), close_code::protocol_error},
      {"close of 126 bytes", wire(close_with(1000, std::string(124, 'r'))),
       close_code::protocol_error},
      {"ping with FIN=0", wire(frame_of(Opcode::ping, filled(4, 'p'), false)),
       close_code::protocol_error},
      {"pong with FIN=0", wire(frame_of(Opcode::pong, filled(4, 'p'), false)),
       close_code::protocol_error},
      {"close with FIN=0", wire(frame_of(Opcode::close, bytes_of({0x03, 0xE8}), false)),
       close_code::protocol_error},
      {"close payload of one byte", wire(frame_of(Opcode::close, bytes_of({0x03}))),
       close_code::protocol_error},
      {"close reason not UTF-8", wire(close_with(1000, "ok\xff")), close_code::invalid_payload},
      {"close reason overlong NUL", wire(close_with(1000, "\xc0\x80")),
       close_code::invalid_payload},
  };
  for (int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
    cases.push_back(
        {"close code " + std::to_string(code), wire(close_with(code)), close_code::protocol_error});
  }
  expect_close_codes(server, cases);
  EXPECT_EQ(server.pings_.size(), 0u);
  EXPECT_EQ(server.messages_.size(), 0u);
}

TEST(ControlFrames, ValidCloseCodesAndA125BytePingAreAccepted) {
  CountingServer server;
  for (int code : {1000, 1001, 1003, 1007, 1011, 1012, 1014, 3000, 4999}) {
    auto peer = server.connect();
    peer->send_frame(close_with(code, "why"));
    EXPECT_EQ(peer->read_close_code(), code) << code;
  }
  {
    auto peer = server.connect();
    peer->send_frame(Frame::close_empty());
    EXPECT_EQ(peer->read_close_code(), close_code::no_status);
  }
  auto peer = server.connect();
  const std::vector<std::byte> payload = filled(125, 'q');
  peer->send_frame(Frame::ping(payload));
  auto pong = peer->read_frame();
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->opcode, Opcode::pong);
  EXPECT_EQ(pong->payload, payload);
}

// A ping flood from a peer that does not read: the pongs that cannot be sent collapse into one
// pending pong carrying the latest payload, so the last pong the peer finally reads answers the
// last ping. (server_timeouts_test checks the buffered amount stays small.)
TEST(ControlFrames, PingFloodWithoutReadingEndsWithThePongOfTheLatestPing) {
  CountingServer server;
  RawPeer peer(server.port(), 1s);
  shrink_receive_buffer(peer.fd());
  ASSERT_EQ(status_of(peer.handshake()), 101);
  constexpr std::size_t pings = 60'000;  // 125-byte pongs: ~7.6 MB, more than kernels buffer
  std::vector<std::byte> bytes;
  for (std::size_t i = 0; i < pings; ++i) {
    std::vector<std::byte> payload = filled(125, '.');
    const std::string index = std::to_string(i);
    for (std::size_t j = 0; j < index.size(); ++j) payload[j] = static_cast<std::byte>(index[j]);
    const auto one = wire(Frame::ping(payload));
    bytes.insert(bytes.end(), one.begin(), one.end());
  }
  ASSERT_TRUE(peer.send_raw(bytes));
  ASSERT_TRUE(server.pings_.wait_for(pings, 4s)) << server.pings_.size();
  std::size_t pongs = 0;
  long previous = -1;
  std::string last;
  while (auto frame = peer.read_frame()) {  // ends after 1 s of silence
    ASSERT_EQ(frame->opcode, Opcode::pong);
    ++pongs;
    last = std::string(frame->payload_text().substr(0, frame->payload_text().find('.')));
    const long index = std::stol(last);
    ASSERT_GT(index, previous) << "pongs out of order";
    previous = index;
  }
  EXPECT_EQ(last, std::to_string(pings - 1)) << "the last pong must answer the last ping";
  EXPECT_LT(pongs, pings) << "pongs were all queued instead of collapsing";
}

// =============================================================================================
// 6. Masking: an unmasked frame from a client is 1002 and reaches no callback.

TEST(Masking, UnmaskedDataAndControlFramesAre1002WithoutACallback) {
  CountingServer server;
  std::vector<WireCase> cases;
  for (Frame frame :
       {Frame::text("hi"), Frame::binary(filled(200, 'b')), Frame::ping(),
        Frame::ping(to_bytes("x")), frame_of(Opcode::text, to_bytes("frag"), false)}) {
    std::vector<std::byte> bytes = frame.serialize();  // no mask
    // A valid, masked message right behind must not be delivered either.
    const auto after = wire(Frame::text("after"));
    bytes.insert(bytes.end(), after.begin(), after.end());
    cases.push_back({"unmasked opcode " + std::to_string(static_cast<int>(frame.opcode)), bytes,
                     close_code::protocol_error});
  }
  // Unmasked in the middle of a fragmented message.
  {
    std::vector<std::byte> bytes = wire(frame_of(Opcode::text, to_bytes("a"), false));
    const auto unmasked = frame_of(Opcode::continuation, to_bytes("b"), true).serialize();
    bytes.insert(bytes.end(), unmasked.begin(), unmasked.end());
    cases.push_back({"unmasked continuation", bytes, close_code::protocol_error});
  }
  expect_close_codes(server, cases);
  EXPECT_EQ(server.messages_.size(), 0u);
  EXPECT_EQ(server.pings_.size(), 0u);
  EXPECT_TRUE(server.errors_.wait_for(cases.size()));
  EXPECT_EQ(server.errors_.size(), cases.size());
}

// =============================================================================================
// 7. Reserved bits and opcodes; UTF-8 that fails fast, also across fragments.

TEST(ReservedBits, ReservedBitsAndOpcodesAre1002) {
  CountingServer server;
  std::vector<WireCase> cases;
  {
    Frame frame = Frame::text("hi");
    frame.rsv3 = true;
    cases.push_back({"rsv3", wire(frame), close_code::protocol_error});
  }
  {
    Frame frame = Frame::text("hi");
    frame.rsv1 = true;  // no extension negotiated
    cases.push_back({"rsv1 without deflate", wire(frame), close_code::protocol_error});
  }
  for (int opcode : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
    cases.push_back({"opcode " + std::to_string(opcode),
                     wire(frame_of(static_cast<Opcode>(opcode), to_bytes("x"))),
                     close_code::protocol_error});
  }
  cases.push_back({"continuation without a message",
                   wire(frame_of(Opcode::continuation, to_bytes("x"))),
                   close_code::protocol_error});
  {
    std::vector<std::byte> bytes = wire(frame_of(Opcode::text, to_bytes("a"), false));
    const auto second = wire(Frame::binary(to_bytes("b")));
    bytes.insert(bytes.end(), second.begin(), second.end());
    cases.push_back({"new message inside a fragmented one", bytes, close_code::protocol_error});
  }
  expect_close_codes(server, cases);
  EXPECT_EQ(server.messages_.size(), 0u);
}

TEST(ReservedBits, Rsv1OnControlFramesAndContinuationsIs1002WithDeflate) {
  CountingServer server(deflate_options());
  Zlib zlib;
  std::vector<WireCase> cases;
  {
    Frame ping = Frame::ping(to_bytes("x"));
    ping.rsv1 = true;
    cases.push_back({"rsv1 on a ping", wire(ping), close_code::protocol_error});
  }
  {
    const auto all = zlib.compress("Hello");
    std::vector<std::byte> bytes =
        wire(compressed(Opcode::text, std::vector<std::byte>(all.begin(), all.begin() + 2), false));
    const auto rest = wire(
        compressed(Opcode::continuation, std::vector<std::byte>(all.begin() + 2, all.end()), true));
    bytes.insert(bytes.end(), rest.begin(), rest.end());
    cases.push_back({"rsv1 on a continuation", bytes, close_code::protocol_error});
  }
  expect_close_codes(server, cases, deflate_offer);
  EXPECT_EQ(server.messages_.size(), 0u);
}

TEST(Utf8, InvalidTextFailsAtTheFirstBadByteWithoutWaitingForTheRest) {
  CountingServer server;
  std::vector<WireCase> cases;
  // A first fragment with a bad byte, and no further fragment ever: 1007 must come anyway.
  cases.push_back({"bad byte in an unfinished message",
                   wire(frame_of(Opcode::text, to_bytes("abc\xff"), false)),
                   close_code::invalid_payload});
  // A frame that declares 1,000 bytes, of which only 8 arrive, the 5th already invalid.
  {
    std::vector<std::byte> bytes = wire(Frame::text("abcd\xc0\x80" + std::string(994, 'x')));
    bytes.resize(2 + 2 + 4 + 8);  // header with 16-bit length, mask key, 8 payload bytes
    cases.push_back({"bad byte in an unfinished frame", bytes, close_code::invalid_payload});
  }
  // A code point started in one fragment and broken in the next.
  {
    std::vector<std::byte> bytes = wire(frame_of(Opcode::text, to_bytes("a\xce"), false));
    const auto next = wire(frame_of(Opcode::continuation, to_bytes("A"), false));
    bytes.insert(bytes.end(), next.begin(), next.end());
    cases.push_back({"code point broken across fragments", bytes, close_code::invalid_payload});
  }
  cases.push_back({"code point cut at the end of the message", wire(Frame::text("a\xce")),
                   close_code::invalid_payload});
  cases.push_back({"surrogate", wire(Frame::text("\xed\xa0\x80")), close_code::invalid_payload});
  cases.push_back(
      {"above U+10FFFF", wire(Frame::text("\xf4\x90\x80\x80")), close_code::invalid_payload});
  expect_close_codes(server, cases);
  EXPECT_EQ(server.messages_.size(), 0u);
}

TEST(Utf8, CodePointsSplitAcrossFragmentsAreFine) {
  CountingServer server;
  auto peer = server.connect();
  // "aκ😀" split inside both multibyte sequences, with a ping in between.
  peer->send_frame(frame_of(Opcode::text, to_bytes("a\xce"), false));
  peer->send_frame(frame_of(Opcode::continuation, to_bytes("\xba\xf0\x9f"), false));
  peer->send_frame(Frame::ping(to_bytes("p")));
  peer->send_frame(frame_of(Opcode::continuation, to_bytes("\x98\x80"), true));
  auto pong = peer->read_frame();
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->opcode, Opcode::pong);
  auto echoed = peer->read_frame();
  ASSERT_TRUE(echoed);
  EXPECT_EQ(echoed->opcode, Opcode::text);
  EXPECT_EQ(echoed->payload_text(), "a\xce\xba\xf0\x9f\x98\x80");
}

TEST(Utf8, InvalidTextInsideACompressedMessageIs1007) {
  CountingServer server(deflate_options());
  Zlib zlib;
  expect_close_codes(
      server,
      {{"compressed overlong NUL", wire(compressed(Opcode::text, zlib.compress("ok\xc0\x80"))),
        close_code::invalid_payload},
       {"compressed garbage", wire(compressed(Opcode::binary, filled(8, '\xff'))),
        close_code::invalid_payload}},
      deflate_offer);
  EXPECT_EQ(server.messages_.size(), 0u);
}

// =============================================================================================
// 8. Hostile heads beyond the size limit: the field-count limit, and huge values under a raised
// head limit, answered within the read deadline.

TEST(HostileHeads, TwoThousandFieldsUnderAHighSizeLimitAre431) {
  ServerOptions options = TestServer::default_options();
  options.max_header_size = 1u << 20;
  TestServer server(options);
  server.start();
  std::string head = RawPeer::upgrade_request();
  std::string many;
  for (int i = 0; i < 2000; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  head.insert(head.size() - 2, many);
  RawPeer peer(server.port());
  peer.send_raw(head);
  ReadToEnd answer = read_to_end(peer.fd());
  EXPECT_EQ(status_of(answer.bytes), 431) << answer.bytes.substr(0, 200);
  EXPECT_EQ(field_of(answer.bytes, "Connection"), "close");
  EXPECT_TRUE(answer.closed);
}

TEST(HostileHeads, HugeTokenListsAndKeysUnderAHighSizeLimitAreAnsweredInTime) {
  ServerOptions options = TestServer::default_options();
  options.max_header_size = 2u << 20;
  options.subprotocols = {"chat"};
  options.compression.enabled = true;
  TestServer server(options);
  echo(server.server());
  server.start();
  const std::string commas(1u << 20, ',');
  struct Case {
    const char* name;
    std::string extra;
    std::vector<int> statuses;
  };
  std::string protocols;
  while (protocols.size() < (1u << 20)) protocols += "a, ";
  std::string offers;
  while (offers.size() < (1u << 20)) offers += "permessage-deflate; client_max_window_bits=16, ";
  const std::vector<Case> cases = {
      {"1 MiB of commas in Connection", "Connection: " + commas + "Upgrade\r\n", {101, 400}},
      {"1 MiB of subprotocol offers", "Sec-WebSocket-Protocol: " + protocols + "chat\r\n", {101}},
      {"1 MiB of bad extension offers",
       "Sec-WebSocket-Extensions: " + offers + "x\r\n",
       {101, 400}},
      {"1 MiB key", "Sec-WebSocket-Key: " + std::string(1u << 20, 'A') + "\r\n", {400}},
      {"1 MiB of spaces in Upgrade",
       "Upgrade: " + std::string(1u << 20, ' ') + "websocket\r\n",
       {101, 400}},
  };
  for (const Case& c : cases) {
    RawPeer peer(server.port(), 2s);  // a deadline for the answer, not a timing check
    peer.send_raw(RawPeer::upgrade_request("/", c.extra));
    const std::string head = peer.read_head();
    const int status = status_of(head);
    EXPECT_NE(std::find(c.statuses.begin(), c.statuses.end(), status), c.statuses.end())
        << c.name << ": " << head.substr(0, 200);
  }
  RawPeer normal(server.port());
  EXPECT_EQ(status_of(normal.handshake()), 101);
}

// =============================================================================================
// 9. Extension offers: invalid parameters are declined (or 400), never accepted or crashed on.

int offer_outcome(std::uint16_t port, std::string_view offer, std::string& extension) {
  RawPeer peer(port, 2s);
  const std::string head =
      peer.handshake("/", "Sec-WebSocket-Extensions: " + std::string(offer) + "\r\n");
  extension = field_of(head, "Sec-WebSocket-Extensions");
  return status_of(head);
}

TEST(ExtensionOffers, InvalidParametersAreDeclinedOr400) {
  TestServer server(deflate_options());
  echo(server.server());
  server.start();
  const std::vector<std::string> bad = {
      "permessage-deflate; client_max_window_bits=7",
      "permessage-deflate; client_max_window_bits=16",
      "permessage-deflate; client_max_window_bits=abc",
      "permessage-deflate; client_max_window_bits=010",
      "permessage-deflate; client_max_window_bits=-1",
      "permessage-deflate; server_max_window_bits=7",
      "permessage-deflate; server_max_window_bits=16",
      "permessage-deflate; server_max_window_bits",  // requires a value
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
      "permessage-deflate; client_max_window_bits=10; client_max_window_bits=10",
      "permessage-deflate; server_max_window_bits=10; server_max_window_bits=11",
      "permessage-deflate; server_no_context_takeover=1",
      "permessage-deflate; unknown_parameter",
      "permessage-deflate; client_max_window_bits=\"" + std::string(10 * 1024, 'a') + "\"",
      "permessage-deflate; x=\"" + std::string(10 * 1024, '\\') + "\"",
      "permessage-deflate; client_max_window_bits=\"1",  // unterminated quote
  };
  for (const std::string& offer : bad) {
    std::string extension;
    const int status = offer_outcome(server.port(), offer, extension);
    EXPECT_TRUE((status == 101 && extension.empty()) || status == 400)
        << offer.substr(0, 80) << " -> " << status << " " << extension;
  }
  // A bad offer followed by a good one: the good one may be taken, the bad one never.
  std::string extension;
  const int status =
      offer_outcome(server.port(),
                    "permessage-deflate; client_max_window_bits=16, permessage-deflate", extension);
  EXPECT_TRUE((status == 101 && (extension.empty() || extension == "permessage-deflate")) ||
              status == 400)
      << status << " " << extension;
}

// zlib cannot write a raw deflate stream with an 8-bit window: asked for 8, it writes with 9.
TEST(ExtensionOffers, WindowBitsEightQuirk) {
  TestServer server(deflate_options());
  echo(server.server());
  server.start();
  {  // server_max_window_bits=8 is agreed to; the server then sends uncompressed.
    RawPeer peer(server.port(), 2s);
    const std::string head = peer.handshake(
        "/", "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=8\r\n");
    ASSERT_EQ(status_of(head), 101);
    EXPECT_EQ(field_of(head, "Sec-WebSocket-Extensions"),
              "permessage-deflate; server_max_window_bits=8");
    const std::string text(2000, 'x');
    Zlib zlib(15);
    peer.send_frame(compressed(Opcode::text, zlib.compress(text)));
    auto echoed = peer.read_frame();
    ASSERT_TRUE(echoed);
    EXPECT_FALSE(echoed->rsv1) << "an 8-bit window cannot be written by zlib: uncompressed";
    EXPECT_EQ(std::string(echoed->payload_text()), text);
  }
  // client_max_window_bits=8 may be accepted; a zlib client then compresses with a 9-bit window,
  // back-references up to 511 bytes away, which the server must still decode.
  RawPeer peer(server.port(), 2s);
  const std::string head = peer.handshake(
      "/", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=8\r\n");
  ASSERT_EQ(status_of(head), 101);
  const std::string extension = field_of(head, "Sec-WebSocket-Extensions");
  if (extension.empty()) GTEST_SKIP() << "client_max_window_bits=8 declined (allowed)";
  ASSERT_TRUE(extension.starts_with("permessage-deflate")) << extension;
  std::string block;
  std::uint32_t state = 12345;
  for (int i = 0; i < 400; ++i) {
    state = state * 1103515245u + 12345u;
    block += static_cast<char>('a' + (state >> 16) % 26);
  }
  const std::string message = block + block + block;  // repeats 400 bytes back
  Zlib zlib(9);
  for (int round = 0; round < 3; ++round) {
    peer.send_frame(compressed(Opcode::text, zlib.compress(message)));
    auto echoed = peer.read_frame();
    ASSERT_TRUE(echoed) << round;
    EXPECT_EQ(echoed->rsv1 ? zlib.decompress(echoed->payload) : std::string(echoed->payload_text()),
              message)
        << round;
  }
}

// =============================================================================================
// 10. Empty compressed messages among non-empty ones, and messages without the 00 00 ff ff tail.

struct DeflateSetup {
  const char* name;
  std::string offer;
  bool client_resets;  // client_no_context_takeover agreed: the client resets per message
};

void round_trip_mixed_messages(const DeflateSetup& setup) {
  ServerOptions options = deflate_options();
  options.compression.min_size = 0;  // the server compresses even empty echoes
  TestServer server(options);
  echo(server.server());
  server.start();
  RawPeer peer(server.port(), 2s);
  const std::string head = peer.handshake("/", "Sec-WebSocket-Extensions: " + setup.offer + "\r\n");
  ASSERT_EQ(status_of(head), 101) << setup.name;
  ASSERT_TRUE(field_of(head, "Sec-WebSocket-Extensions").starts_with("permessage-deflate"))
      << setup.name << ": " << head;
  std::string text;
  for (int i = 0; i < 200; ++i) text += "line " + std::to_string(i % 13) + "\n";
  const std::vector<std::string> messages = {"", text, "", "", text, "x", "", text + text, ""};
  Zlib zlib;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    // Empty messages go both ways: as deflate's empty block (00) and as an empty payload.
    std::vector<std::byte> payload =
        messages[i].empty() && i % 2 == 1 ? std::vector<std::byte>{} : zlib.compress(messages[i]);
    if (setup.client_resets) zlib.reset_deflate();
    peer.send_frame(compressed(i % 3 == 0 ? Opcode::binary : Opcode::text, payload));
    auto echoed = peer.read_frame();
    ASSERT_TRUE(echoed) << setup.name << " message " << i;
    const std::string got =
        echoed->rsv1 ? zlib.decompress(echoed->payload) : std::string(echoed->payload_text());
    EXPECT_EQ(got, messages[i]) << setup.name << " message " << i;
  }
}

TEST(DeflateRoundTrip, EmptyAndNonEmptyMessagesMixedRoundTripByteExact) {
  for (const DeflateSetup& setup : {
           DeflateSetup{"context takeover", "permessage-deflate", false},
           DeflateSetup{"no context takeover",
                        "permessage-deflate; client_no_context_takeover; "
                        "server_no_context_takeover",
                        true},
           DeflateSetup{"server only", "permessage-deflate; server_no_context_takeover", false},
       }) {
    round_trip_mixed_messages(setup);
  }
}

TEST(DeflateRoundTrip, MessagesWithoutTheStrippedTailAreHandled) {
  TestServer server(deflate_options());
  echo(server.server());
  server.start();
  RawPeer peer(server.port(), 2s);
  ASSERT_EQ(field_of(peer.handshake("/", deflate_offer), "Sec-WebSocket-Extensions"),
            "permessage-deflate");
  std::string text;
  for (int i = 0; i < 100; ++i) text += "tailless " + std::to_string(i % 5) + "; ";
  Zlib zlib;
  auto expect_echo = [&](const std::vector<std::byte>& payload, const std::string& expected,
                         const char* what) {
    peer.send_frame(compressed(Opcode::text, payload));
    auto echoed = peer.read_frame();
    ASSERT_TRUE(echoed) << what;
    EXPECT_EQ(echoed->rsv1 ? zlib.decompress(echoed->payload) : std::string(echoed->payload_text()),
              expected)
        << what;
  };
  // A message ending with a final (BFINAL) block, so no 00 00 ff ff tail; the client then
  // starts a new stream (Z_FINISH resets it) and the next messages must still decode.
  expect_echo(zlib.deflate_piece(to_bytes(text), Z_FINISH, false), text, "BFINAL message");
  expect_echo(zlib.compress(text), text, "normal message after BFINAL");
  expect_echo(zlib.deflate_piece(to_bytes("empty next"), Z_FINISH, false), "empty next",
              "second BFINAL");
  expect_echo(zlib.deflate_piece(to_bytes(""), Z_FINISH, false), "", "empty BFINAL message");
  expect_echo(zlib.compress(text + "!"), text + "!", "normal message at the end");
  // A message that keeps its 00 00 ff ff, against RFC 7692 7.2.1, still decodes, and so do the
  // context-takeover messages behind it: its data ends at a block boundary, where the server
  // appends no tail (one would start a stored block that swallows the next message's bytes).
  expect_echo(zlib.deflate_piece(to_bytes(text), Z_SYNC_FLUSH, false), text, "tail kept");
  expect_echo(zlib.compress(text + "?"), text + "?", "normal message after the kept tail");
  expect_echo(zlib.deflate_piece(to_bytes(text), Z_SYNC_FLUSH, false), text, "tail kept again");
  expect_echo(zlib.compress(text), text, "normal message after the second kept tail");
}

// =============================================================================================
// 12. Rejected upgrades: a bad Origin is refused with Connection: close and nothing behind it is
// parsed; look-alike origins do not pass an allow-list.

TEST(RejectedUpgrade, BadOriginIsRefusedWithConnectionCloseAndNothingPipelinedIsParsed) {
  std::atomic<int> upgrades{0};
  std::atomic<int> http{0};
  Recorded<std::size_t> messages;
  TestServer server;  // same-origin policy
  server.server().on_upgrade([&](const Request&, Upgrade&) { ++upgrades; });
  server.server().on_http([&](const Request&, Response& response) {
    ++http;
    response.send(200, "text/plain", "SMUGGLED");
  });
  server.server().on_message([&](const Conn&, Message message) { messages.add(message.size()); });
  server.start();
  const std::string host = "Host: 127.0.0.1:" + std::to_string(server.port());
  std::string request = request_head(
      "GET / HTTP/1.1", {host, "Upgrade: websocket", "Connection: Upgrade",
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
                         "Origin: http://evil.example"});
  // Behind it: a valid same-origin upgrade, a plain request, and a frame.
  request +=
      request_head("GET / HTTP/1.1",
                   {host, "Upgrade: websocket", "Connection: Upgrade",
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"});
  request += request_head("GET /page HTTP/1.1", {host});
  const auto frame = wire(Frame::text("smuggled frame"));
  request += to_string(frame);
  RawPeer peer(server.port());
  peer.send_raw(request);
  ReadToEnd answer = read_to_end(peer.fd());
  EXPECT_TRUE(answer.closed);
  EXPECT_EQ(status_of(answer.bytes), 403) << answer.bytes;
  EXPECT_EQ(field_of(answer.bytes, "Connection"), "close") << answer.bytes;
  EXPECT_EQ(answer.bytes.find("HTTP/1.1", 1), std::string::npos) << "a second response";
  EXPECT_EQ(answer.bytes.find("SMUGGLED"), std::string::npos);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(http.load(), 0);
  EXPECT_LE(upgrades.load(), 1);  // at most the refused request itself
  EXPECT_EQ(messages.size(), 0u);
}

TEST(RejectedUpgrade, LookAlikeOriginsDoNotPassAnAllowList) {
  ServerOptions options = TestServer::default_options();
  options.origin.mode = OriginPolicy::Mode::allow_list;
  options.origin.allowed = {"https://app.example.com", "https://app.example"};
  TestServer server(options);
  server.start();
  auto status = [&](const std::string& origin) {
    RawPeer peer(server.port(), 2s);
    return status_of(peer.handshake("/", "Origin: " + origin + "\r\n"));
  };
  EXPECT_EQ(status("https://app.example.com"), 101);
  EXPECT_EQ(status("https://app.example"), 101);
  for (const char* origin : {
           "https://app.example.evil.com",
           "https://app.example.com.evil.com",
           "https://evil-app.example.com",
           "https://xapp.example.com",
           "https://app.example.com@evil.com",
           "https://evil.com#https://app.example.com",
           "https://evil.com/https://app.example.com",
           "http://app.example.com",
           "https://app.example.co",
           "null",
       }) {
    EXPECT_EQ(status(origin), 403) << "origin '" << origin << "'";
  }
}

// =============================================================================================
// 13. Slowloris at the size ANCHORS names, and a peer that never reads after the upgrade.

TEST(Slowloris, AThousandTricklingHeadsAreClosedByTheHandshakeTimeoutWhileAClientConnects) {
  ServerOptions options = TestServer::default_options();
  options.handshake_timeout = 500ms;
  TestServer server(options);
  echo(server.server());
  server.start();
  constexpr std::size_t count = 1000;
  const std::string request = RawPeer::upgrade_request();
  std::vector<std::unique_ptr<RawPeer>> slow;
  for (std::size_t i = 0; i < count; ++i) {
    slow.push_back(std::make_unique<RawPeer>(server.port(), 100ms));
    ASSERT_TRUE(slow.back()->connected()) << i;
  }
  std::atomic<bool> served{false};
  std::thread client([&] {
    std::this_thread::sleep_for(100ms);
    RawPeer normal(server.port(), 2s);
    if (status_of(normal.handshake()) != 101) return;
    normal.send_text("still serving");
    auto frame = normal.read_frame();
    served = frame && frame->payload_text() == "still serving";
  });
  std::vector<bool> closed(count, false);
  std::size_t open = count;
  std::size_t byte = 0;
  const auto deadline = std::chrono::steady_clock::now() + 4s;
  auto next_byte = std::chrono::steady_clock::now();
  while (open > 0 && std::chrono::steady_clock::now() < deadline) {
    if (std::chrono::steady_clock::now() >= next_byte && byte + 1 < request.size()) {
      for (std::size_t i = 0; i < count; ++i) {
        if (!closed[i]) slow[i]->send_raw(std::string_view(request).substr(byte, 1));
      }
      ++byte;
      next_byte += 200ms;  // never the whole head before the timeout
    }
    std::vector<pollfd> fds;
    std::vector<std::size_t> index;
    for (std::size_t i = 0; i < count; ++i) {
      if (closed[i]) continue;
      fds.push_back({slow[i]->fd(), POLLIN, 0});
      index.push_back(i);
    }
    ::poll(fds.data(), fds.size(), 20);
    for (std::size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].revents == 0) continue;
      char buffer[512];
      const ssize_t n = ::recv(fds[k].fd, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n > 0 || (n < 0 && errno == EAGAIN)) continue;  // a 408 or the like is fine
      closed[index[k]] = true;
      --open;
    }
  }
  client.join();
  EXPECT_TRUE(served.load());
  EXPECT_EQ(open, 0u) << "heads still open after the deadline";
}

// After the upgrade, the default (drop) policy never closes a peer that does not read; ANCHORS
// asks that such a peer be closed "by the backpressure policy or a write deadline". The peer
// here keeps the connection busy (pings), so the idle timeout does not apply.
TEST(NeverReadingPeer, IsCutByTheWriteTimeoutWhileItKeepsPingingUnderTheDefaultPolicy) {
  Recorded<Conn> opened;
  Recorded<CloseStatus> closes;
  ServerOptions options = TestServer::default_options();
  options.max_buffered_bytes = 256 * 1024;
  options.idle_timeout = 1s;  // never reached: the pings keep the peer from being idle
  options.write_timeout = 1s;
  TestServer server(options);
  server.server().on_open([&](const Conn& conn) { opened.add(conn); });
  server.server().on_close([&](const Conn&, const CloseStatus& status) { closes.add(status); });
  server.start();
  RawPeer peer(server.port(), 1s);
  shrink_receive_buffer(peer.fd());
  ASSERT_EQ(status_of(peer.handshake()), 101);
  Conn conn = wait_for_open(opened);
  ASSERT_TRUE(conn);
  const std::vector<std::byte> chunk = filled(64 * 1024, 'w');
  bool dropped = false;
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (conn.is_open() && std::chrono::steady_clock::now() < deadline) {
    dropped = conn.send(chunk) == SendStatus::dropped || dropped;
    if (!peer.send_frame(Frame::ping(to_bytes("busy")))) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(dropped) << "the peer's buffers never filled";
  ASSERT_TRUE(closes.wait_for(1)) << "a peer that never reads but keeps pinging was never cut";
  EXPECT_EQ(closes.all().front().code, close_code::abnormal);
  EXPECT_EQ(closes.all().front().error,
            "write timeout: the peer took none of our bytes for 1000 ms");
}

}  // namespace
}  // namespace fastws::testing
