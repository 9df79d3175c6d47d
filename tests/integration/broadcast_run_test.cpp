// Runs of broadcasts written from the shared buffers (the cork references them; one writev per
// subscriber): every byte arrives in order when the kernel refuses part of a run and the rest
// waits by reference (the server's memory does not grow per subscriber), a Writer's open message
// is not overtaken, and TLS subscribers (whose output is copied: TLS makes a record per iovec)
// get the same bytes. Suite names contain "Broadcast": CI runs them under TSan too.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server_test_support.hpp"
#include "test_peer.hpp"
#include "tls_test_support.hpp"

namespace fastws::testing {
namespace {

constexpr std::size_t MiB = 1u << 20;

// Broadcast `sequence` of `size` bytes: the sequence number, then bytes derived from it.
std::vector<std::byte> payload(std::uint32_t sequence, std::size_t size = 1024) {
  std::vector<std::byte> out(size);
  std::memcpy(out.data(), &sequence, sizeof sequence);
  for (std::size_t i = sizeof sequence; i < size; ++i) {
    out[i] = static_cast<std::byte>((sequence * 131 + i * 7) & 0xFF);
  }
  return out;
}

std::size_t resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::stoul(line.substr(6)) * 1024;
  }
  return 0;
}

// Reads `count` frames and checks each is broadcast first + i, whole and binary; "" or the first
// difference.
std::string expect_broadcasts(RawPeer& peer, std::uint32_t first, std::uint32_t count,
                              std::size_t size = 1024) {
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::optional<Frame> frame = peer.read_frame();
    if (!frame) return "no frame " + std::to_string(first + i);
    if (frame->opcode != Opcode::binary || !frame->fin)
      return "not a binary message at " + std::to_string(first + i);
    const std::vector<std::byte> expected = payload(first + i, size);
    if (frame->payload.size() != expected.size() ||
        std::memcmp(frame->payload.data(), expected.data(), expected.size()) != 0) {
      return "broadcast " + std::to_string(first + i) + " differs";
    }
  }
  return {};
}

std::vector<std::unique_ptr<RawPeer>> open_peers(TestServer& server, std::size_t count,
                                                 bool small_receive_buffer,
                                                 SSL_CTX* tls = nullptr) {
  std::vector<std::unique_ptr<RawPeer>> peers;
  for (std::size_t i = 0; i < count; ++i) {
    auto peer = std::make_unique<RawPeer>(server.port(), 10s);
    if (small_receive_buffer) shrink_receive_buffer(peer->fd());
    if (tls != nullptr && !peer->start_tls(tls)) return {};
    if (status_of(peer->handshake()) != 101) return {};
    peers.push_back(std::move(peer));
  }
  return peers;
}

TEST(BroadcastRun, KernelFullMidRunEveryByteArrivesInOrderAndTheRestWaitsShared) {
  constexpr std::size_t kPeers = 8;
  constexpr std::uint32_t kBroadcasts = 8192;  // 8 MiB per peer: the kernel holds about 4
  ServerOptions options = TestServer::default_options();
  options.max_buffered_bytes = 64 * MiB;  // nothing dropped: every byte must arrive
  TestServer server(options);
  Recorded<Conn> opened;
  server.server().on_open([&](Conn conn) { opened.add(conn); });
  server.start();
  auto peers = open_peers(server, kPeers, /*small_receive_buffer=*/true);
  ASSERT_EQ(peers.size(), kPeers);
  ASSERT_TRUE(opened.wait_for(kPeers));

  const std::size_t before = resident_bytes();
  for (std::uint32_t i = 0; i < kBroadcasts; ++i) server.server().broadcast(payload(i));
  // Every broadcast handed to every connection (written or waiting in its backlog).
  ASSERT_TRUE(wait_until(
      [&] { return server.server().stats().messages_out >= kPeers * kBroadcasts; }, 20s));
  EXPECT_GT(server.server().stats().backpressured_connections, 0u) << "the kernel refused some";
  const std::size_t growth = resident_bytes() - before;
  // Copies per subscriber would hold about 4 MiB each beyond the kernel's share (32 MiB here);
  // shared, the run buffers are in memory once (8 MiB) whatever the number of subscribers.
  if (!sanitized) {
    EXPECT_LT(growth, 20 * MiB) << "RSS grew by " << growth;
  }

  for (auto& peer : peers) EXPECT_EQ(expect_broadcasts(*peer, 0, kBroadcasts), "");
  EXPECT_EQ(server.server().stats().dropped_sends, 0u);
}

// Reads frames until `expected` (sequence numbers) arrived, each whole and in order; "" or the
// first difference.
std::string expect_sequences(RawPeer& peer, const std::vector<std::uint32_t>& expected) {
  for (const std::uint32_t sequence : expected) {
    const std::optional<Frame> frame = peer.read_frame();
    if (!frame) return "no frame for " + std::to_string(sequence);
    const std::vector<std::byte> bytes = payload(sequence);
    if (frame->opcode != Opcode::binary || frame->payload.size() != bytes.size() ||
        std::memcmp(frame->payload.data(), bytes.data(), bytes.size()) != 0) {
      return "expected " + std::to_string(sequence);
    }
  }
  return {};
}

// Publishes made in one handler go out as one run. Each subscriber gets the run's messages but
// those it is excepted from, in order, as stretches of the joined frames, and every delivery
// counts in the stats.
TEST(BroadcastRun, APublishRunSkipsEachExceptedSubscriberAndCountsEveryDelivery) {
  TestServer server;
  Recorded<Conn> opened;
  server.server().on_open([&](Conn conn) {
    conn.subscribe("t");
    opened.add(conn);
  });
  server.server().on_message([&](const Conn&, Message) {
    const std::vector<Conn> conns = opened.all();
    const Conn none;
    const Conn* except[] = {&none, &none, &conns[1], &conns[1], &none, &conns[0]};
    for (std::uint32_t i = 0; i < 6; ++i) {
      server.server().publish("t", payload(i), Opcode::binary, *except[i]);
    }
  });
  server.start();
  auto peers = open_peers(server, 3, /*small_receive_buffer=*/false);
  ASSERT_EQ(peers.size(), 3u);
  ASSERT_TRUE(opened.wait_for(3));
  const std::uint64_t before = server.server().stats().messages_out;
  ASSERT_TRUE(peers[2]->send_text("go"));
  EXPECT_EQ(expect_sequences(*peers[0], {0, 1, 2, 3, 4}), "");
  EXPECT_EQ(expect_sequences(*peers[1], {0, 1, 4, 5}), "");
  EXPECT_EQ(expect_sequences(*peers[2], {0, 1, 2, 3, 4, 5}), "");
  EXPECT_EQ(server.server().stats().messages_out - before, 15u);
  EXPECT_EQ(server.server().stats().dropped_sends, 0u);
}

TEST(BroadcastRun, AWritersOpenMessageIsNotOvertakenByARun) {
  TestServer server;
  Recorded<Conn> opened;
  std::mutex mutex;
  std::optional<Writer> writer;
  server.server().on_open([&](Conn conn) { opened.add(conn); });
  server.server().on_message([&](Conn conn, const Message& message) {
    std::lock_guard lock(mutex);
    if (message.text() == "open") {
      writer.emplace(conn.writer(Opcode::binary));
      writer->write(to_bytes("first piece;"));
    } else if (message.text() == "finish") {
      writer->finish(to_bytes("last piece"));
      writer.reset();
    }
  });
  server.start();
  auto peers = open_peers(server, 2, false);
  ASSERT_EQ(peers.size(), 2u);
  ASSERT_TRUE(opened.wait_for(2));
  RawPeer& streaming = *peers[0];
  RawPeer& other = *peers[1];

  ASSERT_TRUE(streaming.send_text("open"));
  const std::optional<Frame> first = streaming.read_frame();
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->fin);
  EXPECT_EQ(to_string(first->payload), "first piece;");
  // A run while the message is open: the other connection gets it at once, this one waits.
  constexpr std::uint32_t kRun = 48;
  for (std::uint32_t i = 0; i < kRun; ++i) server.server().broadcast(payload(i));
  EXPECT_EQ(expect_broadcasts(other, 0, kRun), "");
  ASSERT_TRUE(streaming.send_text("finish"));
  const std::optional<Frame> last = streaming.read_frame();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->opcode, Opcode::continuation);
  EXPECT_TRUE(last->fin);
  EXPECT_EQ(to_string(last->payload), "last piece");
  EXPECT_EQ(expect_broadcasts(streaming, 0, kRun), "");
}

TEST(BroadcastRun, TlsSubscribersGetEveryRunByteExact) {
  TestServer server(tls_server_options());
  Recorded<Conn> opened;
  server.server().on_open([&](Conn conn) { opened.add(conn); });
  server.start();
  const ClientTlsContext tls = client_tls_context();
  auto peers = open_peers(server, 3, false, tls.get());
  ASSERT_EQ(peers.size(), 3u);
  ASSERT_TRUE(opened.wait_for(3));
  constexpr std::uint32_t kRun = 200;
  for (std::uint32_t i = 0; i < kRun; ++i) server.server().broadcast(payload(i));
  // And frames larger than the cork, which leave by writev beside it.
  for (std::uint32_t i = kRun; i < kRun + 3; ++i) server.server().broadcast(payload(i, 70000));
  for (auto& peer : peers) {
    EXPECT_EQ(expect_broadcasts(*peer, 0, kRun), "");
    EXPECT_EQ(expect_broadcasts(*peer, kRun, 3, 70000), "");
  }
}

}  // namespace
}  // namespace fastws::testing
