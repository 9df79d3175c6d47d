// Broadcast at scale: 1,000 connections on two loops, all read by one poll loop in the test
// thread. A broadcast reaches every connection exactly once, in order and intact, while other
// threads send to some connections directly; a consumer that never reads is dropped from or
// closed by the slow-consumer policy without holding up the others; stop() in the middle of a
// broadcast stream ends every connection within the close timeout, each having received a prefix
// of the stream. Suite names contain "Broadcast": CI runs them under TSan too.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "server_test_support.hpp"
#include "test_peer.hpp"

namespace fastws::testing {
namespace {

// Full scale under TSan too: the whole file takes ~15 s there (~4 s in Release).
constexpr std::size_t kConnections = 1000;
constexpr std::size_t kSlowCaseReaders = 200;

// ---------------------------------------------------------------------------------------------
// Payloads that describe themselves: kind, stream (the sending thread), sequence number and
// size, then body bytes derived from all four, so a lost, repeated, reordered, truncated or
// corrupted message shows wherever it lands.

enum class Kind : std::uint8_t { broadcast = 'B', direct = 'D', end = 'E' };

constexpr std::size_t kPayloadHead = 10;         // kind, stream, sequence (4), size (4)
constexpr std::size_t kLarge = 64 * 1024 + 300;  // larger than the loop's 64 KiB cork buffer

struct PayloadId {
  Kind kind = Kind::broadcast;
  std::uint8_t stream = 0;
  std::uint32_t sequence = 0;
  std::uint32_t size = 0;
  friend bool operator<(const PayloadId& a, const PayloadId& b) {
    return std::tie(a.kind, a.stream, a.sequence, a.size) <
           std::tie(b.kind, b.stream, b.sequence, b.size);
  }
};

void put_u32(std::byte* out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<std::byte>((value >> (24 - 8 * i)) & 0xFF);
}
std::uint32_t get_u32(const std::byte* in) {
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = (value << 8) | std::to_integer<std::uint32_t>(in[i]);
  return value;
}

std::vector<std::byte> make_payload(const PayloadId& id) {
  std::vector<std::byte> payload(std::max<std::size_t>(id.size, kPayloadHead));
  payload[0] = static_cast<std::byte>(id.kind);
  payload[1] = static_cast<std::byte>(id.stream);
  put_u32(&payload[2], id.sequence);
  put_u32(&payload[6], static_cast<std::uint32_t>(payload.size()));
  for (std::size_t i = kPayloadHead; i < payload.size(); ++i) {
    payload[i] = static_cast<std::byte>((id.sequence * 31 + id.stream * 101 + i * 7) & 0xFF);
  }
  return payload;
}

std::vector<std::byte> make_payload(Kind kind, std::uint8_t stream, std::uint32_t sequence,
                                    std::size_t size) {
  return make_payload({kind, stream, sequence, static_cast<std::uint32_t>(size)});
}

// What a received payload claims to be; its bytes are checked against make_payload(id).
std::optional<PayloadId> claimed_id(std::span<const std::byte> payload) {
  if (payload.size() < kPayloadHead) return std::nullopt;
  PayloadId id;
  id.kind = static_cast<Kind>(payload[0]);
  id.stream = std::to_integer<std::uint8_t>(payload[1]);
  id.sequence = get_u32(&payload[2]);
  id.size = get_u32(&payload[6]);
  return id;
}

// The expected bytes of each distinct payload, built once: a broadcast is compared 1,000 times.
class ExpectedPayloads {
 public:
  // What `payload` is, if it is exactly the payload it claims to be.
  std::optional<PayloadId> identify(std::span<const std::byte> payload) {
    const auto id = claimed_id(payload);
    if (!id || id->size != payload.size()) return std::nullopt;
    const std::vector<std::byte>& expected = of(*id);
    if (std::memcmp(expected.data(), payload.data(), payload.size()) != 0) return std::nullopt;
    return id;
  }

 private:
  const std::vector<std::byte>& of(const PayloadId& id) {
    auto found = cache_.find(id);
    if (found == cache_.end()) found = cache_.emplace(id, make_payload(id)).first;
    return found->second;
  }

  std::map<PayloadId, std::vector<std::byte>> cache_;
};

// ---------------------------------------------------------------------------------------------
// What one client received, checked message by message: broadcasts in sequence from 0, direct
// sends in sequence per stream, end markers, the close code. The first violation is kept.

constexpr std::size_t kMaxStreams = 4;

struct Tally {
  std::uint32_t next_broadcast = 0;
  std::array<std::uint32_t, kMaxStreams> next_direct{};
  std::uint32_t ends = 0;
  std::uint16_t close_code = 0;  // 0: no close frame (yet)
  std::string error;

  void fail(std::string what) {
    if (error.empty()) error = std::move(what);
  }
};

void take(Tally& tally, ExpectedPayloads& expected, Opcode opcode,
          std::span<const std::byte> payload) {
  if (opcode == Opcode::close) {
    Frame close;
    close.opcode = Opcode::close;
    close.payload.assign(payload.begin(), payload.end());
    tally.close_code = close.close_code().value_or(1005);
    return;
  }
  // RFC 6455 5.5.1: no data frame may follow a close frame.
  if (tally.close_code != 0) {
    tally.fail("a data frame after the close frame");
    return;
  }
  const auto id = expected.identify(payload);
  if (opcode != Opcode::binary || !id) {
    tally.fail("a corrupt message of " + std::to_string(payload.size()) + " bytes");
    return;
  }
  const std::string which = std::to_string(id->sequence);
  switch (id->kind) {
    case Kind::broadcast:
      if (id->sequence != tally.next_broadcast) {
        tally.fail("broadcast " + which + " where " + std::to_string(tally.next_broadcast) +
                   " was due");
      } else {
        ++tally.next_broadcast;
      }
      return;
    case Kind::direct:
      if (id->stream >= kMaxStreams || id->sequence != tally.next_direct[id->stream]) {
        tally.fail("direct send " + which + " of thread " + std::to_string(id->stream) +
                   " out of order");
      } else {
        ++tally.next_direct[id->stream];
      }
      return;
    case Kind::end:
      ++tally.ends;
      return;
  }
  tally.fail("an unknown kind of message");
}

// The first few clients whose tallies hold an error, for the failure message ("" if none).
std::string errors_of(const std::vector<Tally>& tallies) {
  std::string text;
  std::size_t shown = 0;
  for (std::size_t i = 0; i < tallies.size() && shown < 5; ++i) {
    if (tallies[i].error.empty()) continue;
    text += "client " + std::to_string(i) + ": " + tallies[i].error + "\n";
    ++shown;
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// Many RawPeers (connected and upgraded one by one) read by one thread: poll over all sockets,
// each ready one read once without blocking, every complete frame handed to a callback.

class PeerFleet {
 public:
  using OnFrame = std::function<void(std::size_t peer, Opcode, std::span<const std::byte>)>;

  PeerFleet(std::uint16_t port, std::size_t count) : readers_(count), buffer_(256 * 1024) {
    for (Reader& reader : readers_) {
      reader.peer = std::make_unique<RawPeer>(port);
      if (status_of(reader.peer->handshake()) != 101) upgrade_failures_++;
    }
  }

  std::size_t size() const { return readers_.size(); }
  RawPeer& peer(std::size_t i) { return *readers_[i].peer; }
  std::size_t upgrade_failures() const { return upgrade_failures_; }
  bool all_ended() const {
    return std::ranges::all_of(readers_, [](const Reader& r) { return r.ended; });
  }
  // Why a stream could not be parsed (RFC 6455 5.2 header rules for a client, or a fragmented
  // message where the server only sends whole ones); empty while all were well-formed.
  std::string malformed() const {
    for (std::size_t i = 0; i < readers_.size(); ++i) {
      if (!readers_[i].malformed.empty()) {
        return "client " + std::to_string(i) + ": " + readers_[i].malformed;
      }
    }
    return {};
  }

  // Waits up to `wait` for readable sockets and reads each ready one once.
  void pump(std::chrono::milliseconds wait, const OnFrame& on_frame) {
    polled_.clear();
    for (const Reader& reader : readers_) {
      polled_.push_back({reader.ended ? -1 : reader.peer->fd(), POLLIN, 0});
    }
    if (::poll(polled_.data(), polled_.size(), static_cast<int>(wait.count())) <= 0) return;
    for (std::size_t i = 0; i < readers_.size(); ++i) {
      if (polled_[i].revents != 0) read_once(i, on_frame);
    }
  }

  // Pumps until `done()` holds or `limit` passed; true if it held.
  bool pump_until(const std::function<bool()>& done, const OnFrame& on_frame,
                  std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      pump(10ms, on_frame);
    }
    return true;
  }

 private:
  struct Reader {
    std::unique_ptr<RawPeer> peer;
    std::vector<std::byte> pending;
    bool ended = false;
    std::string malformed;
  };

  void read_once(std::size_t i, const OnFrame& on_frame) {
    Reader& reader = readers_[i];
    const ssize_t n = ::recv(reader.peer->fd(), buffer_.data(), buffer_.size(), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      reader.ended = true;  // end of stream or reset; a partial frame before it is cut off
      return;
    }
    reader.pending.insert(reader.pending.end(), buffer_.begin(), buffer_.begin() + n);
    const protocol::FrameHeaderRules rules{protocol::Role::client, 0, UINT64_MAX};
    std::size_t offset = 0;
    while (reader.malformed.empty()) {
      protocol::FrameHeaderParser parser;
      std::size_t used = 0;
      const auto status =
          parser.parse(reader.pending.data() + offset, reader.pending.size() - offset, used, rules);
      if (status == protocol::FrameHeaderParser::Status::need_more) break;
      const protocol::FrameHeader& header = parser.header();
      if (status == protocol::FrameHeaderParser::Status::error || !header.fin) {
        reader.malformed = header.fin ? std::string(parser.error().reason) : "fragmented";
        break;
      }
      const auto length = static_cast<std::size_t>(header.payload_length);
      if (reader.pending.size() - offset - used < length) break;
      on_frame(i, header.opcode, {reader.pending.data() + offset + used, length});
      offset += used + length;
    }
    reader.pending.erase(reader.pending.begin(),
                         reader.pending.begin() + static_cast<std::ptrdiff_t>(offset));
  }

  std::vector<Reader> readers_;
  std::vector<std::byte> buffer_;
  std::vector<pollfd> polled_;
  std::size_t upgrade_failures_ = 0;
};

std::uint16_t local_port(int fd) {
  sockaddr_in local{};
  socklen_t size = sizeof local;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &size);
  return ntohs(local.sin_port);
}

std::uint16_t remote_port(const Conn& conn) {
  const std::string address = conn.remote_address();
  return static_cast<std::uint16_t>(std::stoul(address.substr(address.rfind(':') + 1)));
}

// A server on two loops recording its connections and what on_close reported for each.
class BroadcastServer {
 public:
  explicit BroadcastServer(ServerOptions options) : server_(with_two_loops(std::move(options))) {
    server_.server().on_open([this](const Conn& conn) { opened_.add(conn); });
    server_.server().on_close([this](const Conn& conn, const CloseStatus& status) {
      closes_.add({conn.id(), status});
    });
    server_.start();
  }

  static ServerOptions with_two_loops(ServerOptions options) {
    options.threads = 2;
    return options;
  }

  TestServer& test_server() { return server_; }
  Server& server() { return server_.server(); }
  std::uint16_t port() const { return server_.port(); }
  bool wait_open(std::size_t count) { return opened_.wait_for(count, 10s); }

  // The server's handle of the connection whose client socket is `fd`, empty if none.
  Conn conn_of(int fd) const {
    const std::uint16_t port = local_port(fd);
    for (const Conn& conn : opened_.all()) {
      if (remote_port(conn) == port) return conn;
    }
    return {};
  }

  // What on_close reported for the connection `id`, once it was called.
  std::optional<CloseStatus> close_of(std::uint64_t id) const {
    for (const auto& [closed, status] : closes_.all()) {
      if (closed == id) return status;
    }
    return std::nullopt;
  }

 private:
  Recorded<Conn> opened_;
  Recorded<std::pair<std::uint64_t, CloseStatus>> closes_;
  TestServer server_;  // last: stopped before the recorders go
};

// ---------------------------------------------------------------------------------------------
// a) Broadcasts from one thread and direct sends from three more, to 1,000 connections.

constexpr std::uint32_t kBroadcasts = 120;
constexpr std::uint8_t kDirectThreads = 3;
constexpr std::uint32_t kDirectsPerConnection = 10;

// Every 30th broadcast and one direct send per thread is large: it leaves through writev next to
// the cork instead of through it.
std::size_t broadcast_size(std::uint32_t sequence) {
  return sequence % 30 == 29 ? kLarge : 16 + (sequence * 97) % 1500;
}
std::size_t direct_size(std::uint32_t sequence) {
  return sequence == kDirectsPerConnection / 2 ? kLarge : 16 + (sequence * 53) % 700;
}
// Thread t sends to the clients whose index (in the fleet) has t's parity: clients
// with an even index get two interleaved direct streams, odd ones one.
bool targets(std::uint8_t thread, std::size_t connection_index) {
  return connection_index % 2 == thread % 2;
}

TEST(BroadcastScale, EveryClientGetsEveryBroadcastOnceInOrderIntactWhileThreadsSendDirectly) {
  ServerOptions options = TestServer::default_options();
  options.max_buffered_bytes = 64u << 20;  // nothing may be dropped here
  BroadcastServer server(options);
  PeerFleet fleet(server.port(), kConnections);
  ASSERT_EQ(fleet.upgrade_failures(), 0u);
  ASSERT_TRUE(server.wait_open(kConnections));

  // Which direct streams each client (by fleet index) must see.
  std::vector<Conn> conns(kConnections);
  std::vector<std::array<bool, kMaxStreams>> targeted(kConnections);
  for (std::size_t i = 0; i < kConnections; ++i) {
    conns[i] = server.conn_of(fleet.peer(i).fd());
    ASSERT_TRUE(conns[i]) << "no server connection for client " << i;
    for (std::uint8_t t = 0; t < kDirectThreads; ++t) targeted[i][t] = targets(t, i);
  }

  std::atomic<std::size_t> refused_directs{0};
  std::atomic<std::size_t> senders_done{0};
  std::vector<std::thread> senders;
  senders.emplace_back([&] {
    for (std::uint32_t seq = 0; seq < kBroadcasts; ++seq) {
      server.server().broadcast(make_payload(Kind::broadcast, 0, seq, broadcast_size(seq)));
    }
    ++senders_done;
  });
  for (std::uint8_t t = 0; t < kDirectThreads; ++t) {
    senders.emplace_back([&, t] {
      // Round by round, so each thread's sends interleave with the broadcasts and the others.
      for (std::uint32_t seq = 0; seq < kDirectsPerConnection; ++seq) {
        const auto payload = make_payload(Kind::direct, t, seq, direct_size(seq));
        for (std::size_t i = 0; i < kConnections; ++i) {
          if (!targets(t, i)) continue;
          const SendStatus status = conns[i].send(payload);
          if (status == SendStatus::dropped || status == SendStatus::closed) ++refused_directs;
        }
      }
      ++senders_done;
    });
  }

  ExpectedPayloads expected;
  std::vector<Tally> tallies(kConnections);
  const PeerFleet::OnFrame on_frame = [&](std::size_t i, Opcode op,
                                          std::span<const std::byte> payload) {
    take(tallies[i], expected, op, payload);
  };
  // Read while the senders run, as live clients do. The end marker goes out after every other
  // send, so on every connection it comes last.
  fleet.pump_until([&] { return senders_done == senders.size(); }, on_frame, 30s);
  for (auto& sender : senders) sender.join();
  server.server().broadcast(make_payload(Kind::end, 0, 0, kPayloadHead));
  const bool finished = fleet.pump_until(
      [&] {
        return std::ranges::all_of(tallies,
                                   [](const Tally& t) { return t.ends > 0 || !t.error.empty(); });
      },
      on_frame, 30s);

  EXPECT_EQ(fleet.malformed(), "");
  EXPECT_EQ(errors_of(tallies), "");
  ASSERT_TRUE(finished) << "not every client saw the end marker in time";
  std::uint64_t directs = 0;
  for (std::size_t i = 0; i < kConnections; ++i) {
    const Tally& tally = tallies[i];
    ASSERT_EQ(tally.next_broadcast, kBroadcasts) << "client " << i;
    ASSERT_EQ(tally.ends, 1u) << "client " << i;
    for (std::uint8_t t = 0; t < kDirectThreads; ++t) {
      ASSERT_EQ(tally.next_direct[t], targeted[i][t] ? kDirectsPerConnection : 0u)
          << "client " << i << ", thread " << int{t};
      directs += tally.next_direct[t];
    }
  }
  EXPECT_EQ(refused_directs.load(), 0u);
  const ServerStats stats = server.server().stats();
  EXPECT_EQ(stats.dropped_sends, 0u);
  EXPECT_EQ(stats.messages_out, kConnections * (kBroadcasts + 1) + directs);
}

// ---------------------------------------------------------------------------------------------
// b) One client never reads while the others read everything. The broadcaster keeps at most
// kWindow messages in flight to the readers (as a rate-limited publisher would), so only the
// silent client can reach the buffer limit.

constexpr std::size_t kSlowCaseMessage = 16 * 1024;
constexpr std::size_t kSlowCaseLimit = 256 * 1024;
constexpr std::uint32_t kWindow = 8;  // 128 KiB in flight per reader: half the limit
// Kernel buffers absorb a few MiB before the server's own buffer fills; this is far beyond.
constexpr std::uint32_t kMaxSlowCaseBroadcasts = 2000;
// Broadcasts after the policy acted: the readers must get these too.
constexpr std::uint32_t kAfterPolicy = 16;

std::vector<std::byte> slow_case_broadcast(std::uint32_t sequence) {
  return make_payload(Kind::broadcast, 0, sequence, kSlowCaseMessage);
}

struct SlowConsumerRun {
  std::uint32_t broadcasts = 0;  // all sent (the end marker not counted)
  std::vector<Tally> tallies;    // the readers'
};

// Broadcasts, paced by the readers, until `policy_acted()` and kAfterPolicy more; then the end
// marker, and reads until every reader saw it.
SlowConsumerRun broadcast_past_a_silent_client(BroadcastServer& server, PeerFleet& readers,
                                               const std::function<bool()>& policy_acted) {
  SlowConsumerRun run;
  run.tallies.resize(readers.size());
  ExpectedPayloads expected;
  const PeerFleet::OnFrame on_frame = [&](std::size_t i, Opcode op,
                                          std::span<const std::byte> payload) {
    take(run.tallies[i], expected, op, payload);
  };
  const auto slowest = [&] {
    std::uint32_t least = UINT32_MAX;
    for (const Tally& tally : run.tallies) least = std::min(least, tally.next_broadcast);
    return least;
  };
  std::optional<std::uint32_t> last;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!last || run.broadcasts < *last) {
    if (run.broadcasts == kMaxSlowCaseBroadcasts || std::chrono::steady_clock::now() > deadline ||
        !errors_of(run.tallies).empty()) {
      ADD_FAILURE() << "the policy did not act after " << run.broadcasts << " broadcasts";
      return run;
    }
    if (run.broadcasts >= slowest() + kWindow) {
      readers.pump(10ms, on_frame);
      continue;
    }
    server.server().broadcast(slow_case_broadcast(run.broadcasts++));
    if (!last && policy_acted()) last = run.broadcasts + kAfterPolicy;
  }
  server.server().broadcast(make_payload(Kind::end, 0, 0, kPayloadHead));
  readers.pump_until(
      [&] {
        return std::ranges::all_of(run.tallies, [](const Tally& t) { return t.ends > 0; }) ||
               !errors_of(run.tallies).empty();
      },
      on_frame, 20s);
  return run;
}

void expect_readers_got_everything(const SlowConsumerRun& run, const PeerFleet& readers) {
  EXPECT_EQ(readers.malformed(), "");
  EXPECT_EQ(errors_of(run.tallies), "");
  for (std::size_t i = 0; i < run.tallies.size(); ++i) {
    ASSERT_EQ(run.tallies[i].next_broadcast, run.broadcasts) << "reader " << i;
    ASSERT_EQ(run.tallies[i].ends, 1u) << "reader " << i;
  }
}

ServerOptions slow_case_options(SlowConsumerPolicy policy) {
  ServerOptions options = TestServer::default_options();
  options.max_buffered_bytes = kSlowCaseLimit;
  options.slow_consumer = policy;
  return options;
}

// The silent client: connected first, its receive buffer small so the server's fills sooner.
std::unique_ptr<RawPeer> connect_silent_client(std::uint16_t port) {
  auto silent = std::make_unique<RawPeer>(port, 3s);
  shrink_receive_buffer(silent->fd());
  EXPECT_EQ(status_of(silent->handshake()), 101);
  return silent;
}

// Both slow-consumer cases: the silent client connected first, then the readers, all open on a
// server that buffers at most kSlowCaseLimit bytes per connection under `policy`.
class BroadcastSlowConsumer : public ::testing::Test {
 protected:
  void start(SlowConsumerPolicy policy) {
    server_ = std::make_unique<BroadcastServer>(slow_case_options(policy));
    silent_ = connect_silent_client(server_->port());
    readers_ = std::make_unique<PeerFleet>(server_->port(), kSlowCaseReaders);
    ASSERT_EQ(readers_->upgrade_failures(), 0u);
    ASSERT_TRUE(server_->wait_open(kSlowCaseReaders + 1));
    silent_conn_ = server_->conn_of(silent_->fd());
    ASSERT_TRUE(silent_conn_);
  }

  // Declared server first: the clients go before it does.
  std::unique_ptr<BroadcastServer> server_;
  std::unique_ptr<RawPeer> silent_;
  std::unique_ptr<PeerFleet> readers_;
  Conn silent_conn_;
};

TEST_F(BroadcastSlowConsumer, DropPolicyDropsOnlyForTheSilentClientAndOthersGetEverything) {
  ASSERT_NO_FATAL_FAILURE(start(SlowConsumerPolicy::drop));
  BroadcastServer& server = *server_;
  RawPeer& silent = *silent_;
  const Conn& silent_conn = silent_conn_;

  const SlowConsumerRun run = broadcast_past_a_silent_client(
      server, *readers_, [&] { return server.server().stats().dropped_sends > 0; });
  expect_readers_got_everything(run, *readers_);
  EXPECT_TRUE(silent_conn.is_open());  // drop policy: the connection stays
  EXPECT_LE(silent_conn.buffered_amount(), kSlowCaseLimit);

  // Now the silent client reads. Once the server's buffer for it is empty, a last marker cannot
  // be dropped; what arrives before it is every broadcast the policy did not drop, whole and in
  // order: the number missing is exactly the number of drops (the only ones in this server).
  const std::uint64_t dropped = server.server().stats().dropped_sends;
  ExpectedPayloads expected;
  std::vector<std::uint32_t> received;
  std::uint32_t ends = 0;
  bool last_marker_sent = false;
  while (true) {
    if (!last_marker_sent && silent_conn.buffered_amount() == 0) {
      server.server().broadcast(make_payload(Kind::end, 0, 1, kPayloadHead));
      last_marker_sent = true;
    }
    const auto frame = silent.read_frame();
    ASSERT_TRUE(frame) << "the silent client's stream ended after " << received.size();
    const auto id = expected.identify(frame->payload);
    ASSERT_TRUE(id && frame->opcode == Opcode::binary)
        << "a corrupt message after " << received.size();
    if (id->kind == Kind::end) {
      ++ends;
      if (id->sequence == 1) break;
      continue;
    }
    ASSERT_TRUE(received.empty() || id->sequence > received.back()) << "out of order or repeated";
    received.push_back(id->sequence);
  }
  const std::uint64_t missing = run.broadcasts - received.size() + (2 - ends);
  EXPECT_GT(missing, 0u);
  EXPECT_EQ(missing, dropped);
  EXPECT_EQ(server.server().stats().dropped_sends, dropped);  // nothing dropped since
}

TEST_F(BroadcastSlowConsumer, ClosePolicyClosesTheSilentClientWith1008AndOthersGetEverything) {
  ASSERT_NO_FATAL_FAILURE(start(SlowConsumerPolicy::close));
  BroadcastServer& server = *server_;
  RawPeer& silent = *silent_;
  const Conn& silent_conn = silent_conn_;

  const SlowConsumerRun run = broadcast_past_a_silent_client(
      server, *readers_, [&] { return server.close_of(silent_conn.id()).has_value(); });
  expect_readers_got_everything(run, *readers_);
  // connection_output.cpp: the send over the limit closes the connection at once (its buffer is
  // full, so no close frame can go out first) and on_close says 1008 with the reason.
  const auto status = server.close_of(silent_conn.id());
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, close_code::policy_violation);
  EXPECT_FALSE(status->error.empty());
  EXPECT_FALSE(silent_conn.is_open());
  EXPECT_EQ(silent_conn.send("late"), SendStatus::dropped);
  EXPECT_EQ(server.server().stats().dropped_sends, 1u);  // the send that hit the limit
  EXPECT_EQ(server.server().stats().connections, kSlowCaseReaders);

  // The silent client reads what the kernel still holds: whole broadcasts from 0 on without a
  // gap (the server buffer was dropped with the connection, so the last one may be cut), no
  // close frame other than 1008, then the end of the stream.
  ExpectedPayloads expected;
  std::uint32_t next = 0;
  while (auto frame = silent.read_frame()) {
    if (frame->opcode == Opcode::close) {
      EXPECT_EQ(frame->close_code(), close_code::policy_violation);
      continue;
    }
    const auto id = expected.identify(frame->payload);
    ASSERT_TRUE(id && frame->opcode == Opcode::binary) << "a corrupt message after " << next;
    ASSERT_EQ(id->sequence, next) << "a gap or a repeat";
    ++next;
  }
  EXPECT_TRUE(silent.wait_closed());
  EXPECT_GT(next, 0u);
  EXPECT_LT(next, run.broadcasts);
}

// ---------------------------------------------------------------------------------------------
// c) stop() while a thread broadcasts to 1,000 connections.

TEST(BroadcastScale, StopWhileBroadcastingEndsEveryClientWithAPrefixOfTheStream) {
  ServerOptions options = TestServer::default_options();
  options.close_timeout = 1s;
  options.max_buffered_bytes = 64u << 20;  // nothing dropped: each client sees a true prefix
  BroadcastServer server(options);
  PeerFleet fleet(server.port(), kConnections);
  ASSERT_EQ(fleet.upgrade_failures(), 0u);
  ASSERT_TRUE(server.wait_open(kConnections));

  constexpr std::size_t kInFlight = 4;
  std::atomic<bool> stopping{false};
  std::atomic<bool> quit{false};
  std::atomic<std::uint32_t> issued{0};
  std::thread broadcaster([&] {
    // At most kInFlight broadcasts waiting in the server (counted by what it wrote), so that
    // the loops see the stop request soon. Once stop() was called: one per millisecond, also
    // after run() returned; those broadcasts must be harmless.
    for (std::uint32_t seq = 0; !quit; ++seq) {
      while (!stopping && !quit &&
             server.server().stats().messages_out + kInFlight * kConnections < seq * kConnections) {
        std::this_thread::sleep_for(100us);
      }
      server.server().broadcast(make_payload(Kind::broadcast, 0, seq, 10 + (seq * 37) % 300));
      issued = seq + 1;
      std::this_thread::sleep_for(1ms);
    }
  });

  ExpectedPayloads expected;
  std::vector<Tally> tallies(kConnections);
  const PeerFleet::OnFrame on_frame = [&](std::size_t i, Opcode op,
                                          std::span<const std::byte> payload) {
    take(tallies[i], expected, op, payload);
    // Like a browser: answer the close handshake (RFC 6455 5.5.1) with the same code.
    if (op == Opcode::close) {
      const std::uint16_t code = tallies[i].close_code;
      fleet.peer(i).send_frame(code == 1005 ? Frame::close_empty() : Frame::close(code));
    }
  };
  // Stop in full flow: once every client has seen a few broadcasts.
  const bool flowing = fleet.pump_until(
      [&] {
        return std::ranges::all_of(tallies, [](const Tally& t) { return t.next_broadcast >= 5; });
      },
      on_frame, 20s);
  const auto stopped_at = std::chrono::steady_clock::now();
  stopping = true;
  server.server().stop();
  const bool all_ended = fleet.pump_until([&] { return fleet.all_ended(); }, on_frame, 10s);
  server.test_server().stop();  // joins run()
  const auto stop_took = since(stopped_at);
  quit = true;
  broadcaster.join();

  EXPECT_TRUE(flowing);
  EXPECT_TRUE(all_ended) << "a client's stream did not end";
  // Bounded: the close timeout, plus the time to write what was queued and for this thread to
  // read 1,000 sockets (seconds under TSan on a loaded machine; a hang is forever).
  EXPECT_LT(stop_took, options.close_timeout + 5s);
  EXPECT_EQ(fleet.malformed(), "");
  EXPECT_EQ(errors_of(tallies), "");
  for (std::size_t i = 0; i < kConnections; ++i) {
    const Tally& tally = tallies[i];
    EXPECT_TRUE(tally.close_code == 0 || tally.close_code == close_code::going_away)
        << "client " << i << " got close " << tally.close_code;
    EXPECT_LE(tally.next_broadcast, issued.load()) << "client " << i;
  }
  EXPECT_EQ(server.server().stats().connections, 0u);
}

}  // namespace
}  // namespace fastws::testing
