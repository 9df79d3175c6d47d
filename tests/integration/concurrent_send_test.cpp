// Concurrent sends through Conn handles from user threads (conn.hpp threading contract, points 2-5)
// while connections are closed from a user thread and peers vanish: with the clients reading at
// the same time, and with clients that read only once the sends are done. Streaming writers from
// two threads to one connection. Handles used after the server stopped. Suite names start with
// "Concurrent": CI runs them under TSan too.
//
// Every frame a client receives is checked on its own (RFC 6455 5.2: a valid header, unmasked,
// no reserved bits) and against its own payload text, so bytes of one frame inside another show.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <set>

#include "server_test_support.hpp"
#include "test_peer.hpp"

namespace fastws::testing {
namespace {

#if defined(FASTWS_UNDER_TSAN)
constexpr int kMessagesPerThread = 12;  // TSan runs the server ~10x slower
constexpr int kStreamedMessages = 6;
#else
constexpr int kMessagesPerThread = 60;
constexpr int kStreamedMessages = 30;
#endif
constexpr int kConnections = 100;
constexpr int kSenders = 8;

bool is_user_closed(std::size_t client) {
  return client % 10 == 1;
}
bool is_reset_by_peer(std::size_t client) {
  return client % 10 == 2;
}
std::uint16_t user_close_code(std::size_t client) {
  return static_cast<std::uint16_t>(4000 + client);  // 4000-4999: private use (RFC 6455 7.4.2)
}

// Payloads: a header naming the send ("thread T seq N|"), then letters whose every byte depends
// on its position, thread and seq, so foreign bytes inside a payload show. Every 16th is over
// 64 KiB (the 64-bit length form, and larger than the loop's cork buffer).
std::size_t payload_length(int thread, int seq) {
  return seq % 16 == 15 ? 65'537 + static_cast<std::size_t>((seq * 131 + thread * 17) % 30'000)
                        : 24 + static_cast<std::size_t>((seq * 97 + thread * 31) % 2'000);
}

std::string payload_head(int thread, int seq) {
  return "thread " + std::to_string(thread) + " seq " + std::to_string(seq) + "|";
}

// The filler from `position` on, up to 26 bytes: a slice of the alphabet twice over.
std::string_view filler_at(std::size_t position, int thread, int seq, std::size_t max) {
  static constexpr std::string_view alphabet_twice =
      "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz";
  const std::size_t start = (position + static_cast<std::size_t>(thread * 7 + seq)) % 26;
  return alphabet_twice.substr(start, std::min<std::size_t>(26, max));
}

std::string sent_payload(int thread, int seq) {
  const std::size_t length = payload_length(thread, seq);
  std::string payload = payload_head(thread, seq);
  while (payload.size() < length) {
    payload += filler_at(payload.size(), thread, seq, length - payload.size());
  }
  return payload;
}

// Thread and seq named by a received payload, if the payload is exactly what that send sent.
bool identify_payload(std::string_view payload, int& thread, int& seq) {
  if (std::sscanf(std::string(payload.substr(0, 40)).c_str(), "thread %d seq %d|", &thread, &seq) !=
          2 ||
      thread < 0 || thread >= kSenders || seq < 0) {
    return false;
  }
  const std::string head = payload_head(thread, seq);
  if (payload.size() != payload_length(thread, seq) || !payload.starts_with(head)) return false;
  for (std::size_t at = head.size(); at < payload.size();) {
    const std::string_view expected = filler_at(at, thread, seq, payload.size() - at);
    if (payload.substr(at, expected.size()) != expected) return false;
    at += expected.size();
  }
  return true;
}

bool send_all(int fd, std::span<const std::byte> bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

// A client socket read without blocking: bytes are parsed into frames as they arrive, and each
// frame is checked against what a server may send (RFC 6455 5.1: unmasked; 5.2: no RSV bits
// without an extension; a valid opcode and length).
class FrameStream {
 public:
  struct Received {
    protocol::FrameHeader header;
    std::string_view payload;
  };

  // Connects and upgrades (blocking, bounded); then the socket is non-blocking.
  FrameStream(std::uint16_t port, std::string_view path) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return;
    if (!send_all(fd_, to_bytes(RawPeer::upgrade_request(path)))) return;
    std::string head;
    while (head.find("\r\n\r\n") == std::string::npos) {
      const std::string more = read_bytes(fd_, 1, 5s);
      if (more.empty()) return;
      head += more;
    }
    upgraded_ = head.starts_with("HTTP/1.1 101 ");
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }
  ~FrameStream() {
    if (fd_ >= 0) ::close(fd_);
  }
  FrameStream(const FrameStream&) = delete;
  FrameStream& operator=(const FrameStream&) = delete;

  int fd() const { return fd_; }
  bool upgraded() const { return upgraded_; }
  bool ended() const { return ended_; }
  // Why the stream stopped parsing, empty while every frame was well-formed.
  const std::string& malformed() const { return malformed_; }

  // Reads what the socket has and hands every complete frame to `on_frame`. Sets ended() at EOF
  // or reset.
  void read_available(const std::function<void(const Received&)>& on_frame) {
    while (!ended_) {
      std::byte buffer[256 * 1024];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n > 0) {
        pending_.insert(pending_.end(), buffer, buffer + n);
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        break;
      } else {
        ended_ = true;
      }
    }
    parse(on_frame);
  }

  // A masked close frame (RFC 6455 5.3: clients mask), sent whole.
  void send_close(std::uint16_t code) {
    Frame close = Frame::close(code);
    close.mask = MaskKey{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
    const std::vector<std::byte> bytes = close.serialize();
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
    send_all(fd_, bytes);
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }

  // Vanishes abruptly: SO_LINGER 0 makes close() send a reset instead of a FIN.
  void reset() {
    linger abort{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    ::close(fd_);
    fd_ = -1;
    ended_ = true;
  }

 private:
  void parse(const std::function<void(const Received&)>& on_frame) {
    const protocol::FrameHeaderRules rules{protocol::Role::client, 0, UINT64_MAX};
    std::size_t offset = 0;
    while (malformed_.empty()) {
      protocol::FrameHeaderParser parser;
      std::size_t used = 0;
      const auto status =
          parser.parse(pending_.data() + offset, pending_.size() - offset, used, rules);
      if (status == protocol::FrameHeaderParser::Status::need_more) break;
      if (status == protocol::FrameHeaderParser::Status::error) {
        malformed_ = "frame header: " + std::string(parser.error().reason);
        break;
      }
      const protocol::FrameHeader& header = parser.header();
      if (pending_.size() - offset - used < header.payload_length) break;
      const char* payload = reinterpret_cast<const char*>(pending_.data() + offset + used);
      on_frame({header, {payload, static_cast<std::size_t>(header.payload_length)}});
      offset += used + static_cast<std::size_t>(header.payload_length);
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(offset));
  }

  int fd_ = -1;
  bool upgraded_ = false;
  bool ended_ = false;
  std::string malformed_;
  std::vector<std::byte> pending_;
};

// What one client saw, checked frame by frame.
struct ClientRecord {
  std::vector<std::vector<int>> seqs{kSenders};  // per sender thread, in arrival order
  std::size_t data_frames = 0;
  std::string problem;  // the first frame that broke a rule
  std::optional<std::uint16_t> close_code;

  void check(const FrameStream::Received& frame) {
    if (!problem.empty()) return;
    if (close_code) {
      // RFC 6455 5.5.1: after its close frame an endpoint sends no more data frames.
      problem = "a frame after the close frame";
    } else if (frame.header.opcode == Opcode::close) {
      close_code =
          frame.payload.size() >= 2
              ? static_cast<std::uint16_t>((static_cast<unsigned char>(frame.payload[0]) << 8) |
                                           static_cast<unsigned char>(frame.payload[1]))
              : close_code::no_status;
    } else if (frame.header.opcode != Opcode::text || !frame.header.fin) {
      problem = "not a whole text message";
    } else {
      int thread = 0, seq = 0;
      if (!identify_payload(frame.payload, thread, seq)) {
        problem = "payload is not what any send sent: " + std::string(frame.payload.substr(0, 40));
        return;
      }
      auto& order = seqs[static_cast<std::size_t>(thread)];
      // Conn contract point 4: sends from one thread to one connection go out in call order.
      if (!order.empty() && seq <= order.back()) {
        problem = "thread " + std::to_string(thread) + ": seq " + std::to_string(seq) + " after " +
                  std::to_string(order.back());
      }
      order.push_back(seq);
      ++data_frames;
    }
  }
};

// What one sender thread saw for one connection.
struct SendRecord {
  std::vector<int> accepted;  // seqs whose send returned queued (written/backpressure: loop only)
  bool saw_closed = false;    // a send returned closed or dropped
  std::string problem;
};

bool is_prefix(const std::vector<int>& prefix, const std::vector<int>& whole) {
  return prefix.size() <= whole.size() && std::equal(prefix.begin(), prefix.end(), whole.begin());
}

// The index a client put in its request path ("/client/17" -> 17).
std::size_t client_index(const Conn& conn) {
  const std::string_view path = conn.request()->path();
  return static_cast<std::size_t>(std::stoul(std::string(path.substr(path.rfind('/') + 1))));
}

// Connects kConnections clients, each upgraded with "/client/<index>".
void connect_clients(std::uint16_t port, std::vector<std::unique_ptr<FrameStream>>& clients) {
  for (std::size_t i = 0; i < kConnections; ++i) {
    clients.push_back(std::make_unique<FrameStream>(port, "/client/" + std::to_string(i)));
    ASSERT_TRUE(clients.back()->upgraded()) << "client " << i;
  }
}

// Waits until on_open filed a handle (under `mutex`) in every slot of `handles`, then copies them
// to `conns`. False if some did not come within the wait.
bool wait_for_every_handle(std::mutex& mutex, const std::vector<Conn>& handles,
                           std::vector<Conn>& conns) {
  const bool all = wait_until([&] {
    std::lock_guard lock(mutex);
    return std::all_of(handles.begin(), handles.end(), [](const Conn& c) { return bool(c); });
  });
  std::lock_guard lock(mutex);
  conns = handles;
  return all;
}

// kSenders user threads, each sending its kMessagesPerThread payloads to every connection (each
// thread starting at another one) and noting what each send returned in records[thread][client].
std::vector<std::thread> start_senders(const std::vector<Conn>& conns,
                                       std::vector<std::vector<SendRecord>>& records,
                                       std::atomic<int>& sends_made) {
  records.assign(kSenders, std::vector<SendRecord>(conns.size()));
  std::vector<std::thread> senders;
  for (int t = 0; t < kSenders; ++t) {
    senders.emplace_back([&conns, &sends_made, &mine = records[static_cast<std::size_t>(t)], t] {
      for (int seq = 0; seq < kMessagesPerThread; ++seq) {
        const std::string payload = sent_payload(t, seq);
        for (std::size_t k = 0; k < conns.size(); ++k) {
          const std::size_t i = (k + static_cast<std::size_t>(t) * 13) % conns.size();
          const SendStatus status = conns[i].send(payload);
          ++sends_made;
          SendRecord& record = mine[i];
          if (status == SendStatus::queued) {
            // A connection that reported closed never reopens.
            if (record.saw_closed) record.problem = "queued after closed";
            record.accepted.push_back(seq);
          } else if (status == SendStatus::closed || status == SendStatus::dropped) {
            record.saw_closed = true;
          } else {
            record.problem = std::string("a send from a user thread returned ") + to_string(status);
          }
        }
      }
    });
  }
  return senders;
}

// Per client: how many of the sends to it returned queued.
std::vector<std::size_t> accepted_per_client(const std::vector<std::vector<SendRecord>>& records) {
  std::vector<std::size_t> accepted(kConnections);
  for (std::size_t i = 0; i < kConnections; ++i) {
    for (const auto& per_thread : records) accepted[i] += per_thread[i].accepted.size();
  }
  return accepted;
}

// What holds for client `i` whatever happened to its connection: every frame it got was
// well-formed and the exact payload of a send, in each thread's order, and every send to it
// returned queued, closed or dropped.
void expect_clean_stream(std::size_t i, const FrameStream& client, const ClientRecord& got,
                         const std::vector<std::vector<SendRecord>>& records) {
  EXPECT_EQ(client.malformed(), "");
  EXPECT_EQ(got.problem, "");
  for (std::size_t t = 0; t < kSenders; ++t) {
    EXPECT_EQ(records[t][i].problem, "") << "thread " << t;
  }
}

// The checker itself: it must see one foreign byte, a missing byte and a swapped header.
TEST(ConcurrentSend, PayloadCheckerRejectsForeignBytes) {
  int thread = -1, seq = -1;
  const std::string large = sent_payload(5, 15);
  ASSERT_GT(large.size(), 65'536u);
  EXPECT_TRUE(identify_payload(large, thread, seq));
  EXPECT_EQ(thread, 5);
  EXPECT_EQ(seq, 15);
  std::string foreign = large;
  foreign[40'000] = '\x82';  // e.g. the first byte of another frame's header
  EXPECT_FALSE(identify_payload(foreign, thread, seq));
  EXPECT_FALSE(identify_payload(std::string_view(large).substr(0, large.size() - 1), thread, seq));
  std::string other_header = sent_payload(4, 15);
  other_header.replace(0, payload_head(5, 15).size(), payload_head(5, 15));
  EXPECT_FALSE(identify_payload(other_header, thread, seq));
}

TEST(ConcurrentSend, EightThreadsToHundredReadingClientsWhileConnectionsCloseAndReset) {
  ServerOptions options = TestServer::default_options();
  options.threads = 2;
  options.max_buffered_bytes = 256u << 20;  // no drops: every admitted send must arrive
  // The close timer starts when the close is queued, behind up to megabytes of backlog.
  options.close_timeout = 20s;

  std::mutex mutex;
  std::vector<Conn> handles(kConnections);
  std::map<std::uint64_t, int> closes_by_id;
  std::map<std::size_t, CloseStatus> close_status_by_client;
  TestServer server(options);
  server.server().on_open([&](const Conn& conn) {
    std::lock_guard lock(mutex);
    handles[client_index(conn)] = conn;
  });
  server.server().on_close([&](const Conn& conn, const CloseStatus& status) {
    std::lock_guard lock(mutex);
    ++closes_by_id[conn.id()];
    for (std::size_t i = 0; i < handles.size(); ++i) {
      if (handles[i] == conn) close_status_by_client[i] = status;
    }
  });
  server.start();

  std::vector<std::unique_ptr<FrameStream>> clients;
  ASSERT_NO_FATAL_FAILURE(connect_clients(server.port(), clients));
  std::vector<Conn> conns;
  ASSERT_TRUE(wait_for_every_handle(mutex, handles, conns));

  // The clients read while the threads send, so the server's output runs through its cork,
  // backlog and EPOLLOUT paths at the same time as the mailbox fills.
  std::vector<ClientRecord> received(kConnections);
  std::vector<std::size_t> expected_frames(kConnections);
  std::atomic<bool> expectations_known{false};
  std::thread reader([&] {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    auto settled = [&](std::size_t i) {
      if (clients[i]->ended()) return true;
      if (!expectations_known.load(std::memory_order_acquire)) return false;
      if (is_user_closed(i) || is_reset_by_peer(i)) return false;  // wait for the end
      return received[i].data_frames >= expected_frames[i] || !received[i].problem.empty();
    };
    while (std::chrono::steady_clock::now() < deadline) {
      std::vector<pollfd> fds;
      std::vector<std::size_t> index;
      for (std::size_t i = 0; i < clients.size(); ++i) {
        if (clients[i]->ended()) continue;
        fds.push_back({clients[i]->fd(), POLLIN, 0});
        index.push_back(i);
      }
      bool all_settled = true;
      for (std::size_t i = 0; i < clients.size(); ++i) all_settled = all_settled && settled(i);
      if (all_settled) break;
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      for (std::size_t k = 0; k < fds.size(); ++k) {
        if (fds[k].revents == 0) continue;
        const std::size_t i = index[k];
        FrameStream& client = *clients[i];
        ClientRecord& record = received[i];
        client.read_available([&](const FrameStream::Received& frame) {
          const bool had_close = record.close_code.has_value();
          record.check(frame);
          if (!had_close && record.close_code) client.send_close(*record.close_code);
        });
        // A peer that vanishes in the middle of the traffic, without a close frame.
        if (is_reset_by_peer(i) && !client.ended() &&
            record.data_frames >= static_cast<std::size_t>(kSenders * kMessagesPerThread / 4)) {
          client.reset();
        }
      }
    }
    // Anything arriving after the expected count would be a duplicate or a refused send.
    const auto grace = std::chrono::steady_clock::now() + 100ms;
    while (std::chrono::steady_clock::now() < grace) {
      for (std::size_t i = 0; i < clients.size(); ++i) {
        clients[i]->read_available([&](const auto& frame) { received[i].check(frame); });
      }
      std::this_thread::sleep_for(5ms);
    }
  });

  std::vector<std::vector<SendRecord>> records;  // [thread][client]
  std::atomic<int> sends_made{0};
  std::vector<std::thread> senders = start_senders(conns, records, sends_made);
  // Meanwhile a user thread closes every tenth connection with its own code.
  std::thread closer([&] {
    wait_until([&] { return sends_made.load() > kConnections * kSenders; }, 10s);
    for (std::size_t i = 0; i < conns.size(); ++i) {
      if (!is_user_closed(i)) continue;
      EXPECT_EQ(conns[i].close(user_close_code(i), "closed by a user thread"), SendStatus::queued);
      std::this_thread::sleep_for(1ms);
    }
  });
  for (auto& thread : senders) thread.join();
  closer.join();
  expected_frames = accepted_per_client(records);
  expectations_known.store(true, std::memory_order_release);
  reader.join();

  int fully_checked = 0;
  for (std::size_t i = 0; i < kConnections; ++i) {
    const ClientRecord& got = received[i];
    SCOPED_TRACE("client " + std::to_string(i));
    expect_clean_stream(i, *clients[i], got, records);
    for (std::size_t t = 0; t < kSenders; ++t) {
      const SendRecord& sent = records[t][i];
      if (is_user_closed(i) || is_reset_by_peer(i)) {
        // Sends queued before the close arrive, in order; none after it.
        EXPECT_TRUE(is_prefix(got.seqs[t], sent.accepted)) << "thread " << t;
      } else {
        // Never closed: every admitted send arrived exactly once, in call order.
        EXPECT_EQ(got.seqs[t], sent.accepted) << "thread " << t;
        EXPECT_FALSE(sent.saw_closed) << "thread " << t;
      }
    }
    if (is_user_closed(i)) {
      EXPECT_EQ(got.close_code, user_close_code(i));
      EXPECT_TRUE(clients[i]->ended());
    } else if (!is_reset_by_peer(i)) {
      EXPECT_FALSE(got.close_code.has_value());
      ++fully_checked;
    }
  }
  EXPECT_EQ(fully_checked, 80);

  // Handles of closed connections stay harmless, from any thread.
  for (std::size_t i = 0; i < kConnections; ++i) {
    if (!is_user_closed(i) && !is_reset_by_peer(i)) continue;
    ASSERT_TRUE(wait_until([&] { return !conns[i].is_open(); })) << "client " << i;
    EXPECT_EQ(conns[i].send("late"), SendStatus::closed);
    EXPECT_EQ(conns[i].ping("late"), SendStatus::closed);
    EXPECT_EQ(conns[i].close(), SendStatus::closed);
  }
  clients.clear();  // the rest end with a FIN
  server.stop();
  std::lock_guard lock(mutex);
  EXPECT_EQ(closes_by_id.size(), static_cast<std::size_t>(kConnections));
  for (const auto& [id, count] : closes_by_id) EXPECT_EQ(count, 1) << "connection " << id;
  for (std::size_t i = 0; i < kConnections; ++i) {
    if (is_user_closed(i)) {
      // The client answered with the same code: a clean close handshake.
      EXPECT_EQ(close_status_by_client[i].code, user_close_code(i)) << "client " << i;
      EXPECT_EQ(close_status_by_client[i].error, "") << "client " << i;
    } else if (is_reset_by_peer(i)) {
      EXPECT_EQ(close_status_by_client[i].code, close_code::abnormal) << "client " << i;
    }
  }
}

// ---- Clients that read only after the sends ----

// The same sends while no client reads: each connection's backlog grows for the whole run and
// drains afterwards. Meanwhile a user thread closes random connections (1001; their clients never
// answer, so those are still closing when the clients read) and ten peers shut their sockets down
// (a FIN, no close frame).
TEST(ConcurrentSend, EightThreadsToHundredClientsThatReadOnlyAfterwardsWhileSomeClose) {
  ServerOptions options = TestServer::default_options();
  options.threads = 2;
  options.max_buffered_bytes = 64u << 20;  // no drops: every admitted send must arrive
  std::mutex mutex;
  std::vector<Conn> handles(kConnections);
  TestServer server(options);
  server.server().on_open([&](const Conn& conn) {
    std::lock_guard lock(mutex);
    handles[client_index(conn)] = conn;
  });
  server.start();
  std::vector<std::unique_ptr<FrameStream>> clients;
  ASSERT_NO_FATAL_FAILURE(connect_clients(server.port(), clients));
  std::vector<Conn> conns;
  ASSERT_TRUE(wait_for_every_handle(mutex, handles, conns));
  // Each handle names its peer: the server's remote port is the client's local port.
  for (std::size_t i = 0; i < kConnections; ++i) {
    sockaddr_in local{};
    socklen_t size = sizeof local;
    ASSERT_EQ(::getsockname(clients[i]->fd(), reinterpret_cast<sockaddr*>(&local), &size), 0);
    EXPECT_TRUE(conns[i].remote_address().ends_with(":" + std::to_string(ntohs(local.sin_port))))
        << conns[i].remote_address();
  }

  std::vector<std::vector<SendRecord>> records;  // [thread][client]
  std::atomic<int> sends_made{0};
  std::vector<std::thread> senders = start_senders(conns, records, sends_made);
  std::set<std::size_t> closed_by_user;
  std::thread closer([&] {
    std::mt19937 random(7);
    for (int i = 0; i < 10; ++i) {
      std::this_thread::sleep_for(2ms);
      const std::size_t client = random() % conns.size();
      conns[client].close(close_code::going_away, "random close");
      closed_by_user.insert(client);
    }
  });
  std::set<std::size_t> shut_by_peer;
  for (std::size_t i = 0; i < 10; ++i) shut_by_peer.insert(i * 7 + 3);
  for (std::size_t i : shut_by_peer) ::shutdown(clients[i]->fd(), SHUT_RDWR);
  // Sends never block, so the threads finish without anyone reading.
  for (auto& thread : senders) thread.join();
  closer.join();

  const auto stays_open = [&](std::size_t i) {
    return !closed_by_user.count(i) && !shut_by_peer.count(i);
  };
  const std::vector<std::size_t> owed = accepted_per_client(records);
  std::vector<ClientRecord> received(kConnections);
  const auto all_arrived = [&] {
    for (std::size_t i = 0; i < kConnections; ++i) {
      if (stays_open(i) && received[i].problem.empty() && clients[i]->malformed().empty() &&
          received[i].data_frames < owed[i]) {
        return false;
      }
    }
    return true;
  };
  // Read until everything owed has arrived (bounded), then two quiet rounds more so that a
  // duplicate would show: the machine may be busy, so no quiet spell alone decides.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  int quiet_rounds = 0;
  while (std::chrono::steady_clock::now() < deadline && (!all_arrived() || quiet_rounds < 2)) {
    std::vector<pollfd> fds;
    std::vector<std::size_t> index;
    for (std::size_t i = 0; i < kConnections; ++i) {
      if (clients[i]->ended()) continue;
      fds.push_back({clients[i]->fd(), POLLIN, 0});
      index.push_back(i);
    }
    const int ready = ::poll(fds.data(), fds.size(), 50);
    for (std::size_t k = 0; ready > 0 && k < fds.size(); ++k) {
      if (fds[k].revents == 0) continue;
      const std::size_t i = index[k];
      clients[i]->read_available(
          [&](const FrameStream::Received& frame) { received[i].check(frame); });
    }
    quiet_rounds = ready > 0 ? 0 : quiet_rounds + 1;
  }

  int fully_checked = 0;
  for (std::size_t i = 0; i < kConnections; ++i) {
    const ClientRecord& got = received[i];
    SCOPED_TRACE("client " + std::to_string(i));
    expect_clean_stream(i, *clients[i], got, records);
    if (!stays_open(i)) continue;
    // Still open: every admitted send arrived exactly once, in call order.
    for (std::size_t t = 0; t < kSenders; ++t) {
      EXPECT_EQ(got.seqs[t], records[t][i].accepted) << "thread " << t;
    }
    ++fully_checked;
  }
  EXPECT_GT(fully_checked, 50);
  // Handles of connections closed by the user stay harmless.
  for (std::size_t i : closed_by_user) EXPECT_EQ(conns[i].send("late"), SendStatus::closed);
}

// ---- Streaming writers ----

// Piece `piece` of streamed message `message` of writer thread `thread`; the last piece of each
// message is over 64 KiB so that pieces also wait in the backlog.
std::string streamed_piece(int thread, int message, int piece, int pieces) {
  const std::size_t length =
      piece == pieces - 1 ? 70'000 : 10 + static_cast<std::size_t>(piece * 37);
  std::string text = "[w" + std::to_string(thread) + " m" + std::to_string(message) + " p" +
                     std::to_string(piece) + "]";
  text.resize(std::max(length, text.size()), static_cast<char>('A' + (thread * 5 + piece) % 26));
  return text;
}

std::string streamed_message(int thread, int message, int pieces) {
  std::string whole;
  for (int p = 0; p < pieces; ++p) whole += streamed_piece(thread, message, p, pieces);
  return whole;
}

TEST(ConcurrentSend, WritersOnTwoThreadsToOneConnectionNeverInterleave) {
  ServerOptions options = TestServer::default_options();
  options.threads = 2;
  options.max_buffered_bytes = 256u << 20;
  Recorded<Conn> opened;
  TestServer server(options);
  server.server().on_open([&](const Conn& conn) { opened.add(conn); });
  server.start();
  FrameStream client(server.port(), "/");
  ASSERT_TRUE(client.upgraded());
  const Conn conn = wait_for_open(opened);
  ASSERT_TRUE(conn);

  constexpr int kPieces = 5;
  constexpr int kWriters = 2;
  constexpr int kPlain = 40;
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      for (int m = 0; m < kStreamedMessages; ++m) {
        Writer writer = conn.writer(Opcode::text);
        for (int p = 0; p < kPieces - 1; ++p) {
          if (writer.write(streamed_piece(t, m, p, kPieces)) != SendStatus::queued) ++refused;
        }
        if (writer.finish(streamed_piece(t, m, kPieces - 1, kPieces)) != SendStatus::queued) {
          ++refused;
        }
      }
    });
  }
  // Whole messages sent meanwhile wait for the open streamed message (RFC 6455 5.4).
  threads.emplace_back([&] {
    for (int i = 0; i < kPlain; ++i) {
      if (conn.send("plain " + std::to_string(i)) != SendStatus::queued) ++refused;
    }
  });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(refused.load(), 0);

  // Reassemble: a text frame opens a message, continuations extend it, FIN ends it.
  std::vector<std::string> messages;
  std::string open_message;
  bool in_message = false;
  std::string problem;
  const std::size_t expected = kWriters * kStreamedMessages + kPlain;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (messages.size() < expected && problem.empty() && !client.ended() &&
         std::chrono::steady_clock::now() < deadline) {
    pollfd entry{client.fd(), POLLIN, 0};
    ::poll(&entry, 1, 50);
    client.read_available([&](const FrameStream::Received& frame) {
      const Opcode op = frame.header.opcode;
      if (op == Opcode::continuation) {
        if (!in_message) problem = "a continuation outside a message";
      } else if (op == Opcode::text) {
        if (in_message) problem = "a new message inside a fragmented one";
        in_message = true;
        open_message.clear();
      } else {
        problem = "unexpected opcode";
      }
      open_message += frame.payload;
      if (frame.header.fin) {
        messages.push_back(std::move(open_message));
        open_message.clear();
        in_message = false;
      }
    });
  }
  ASSERT_EQ(problem, "");
  ASSERT_EQ(client.malformed(), "");
  ASSERT_EQ(messages.size(), expected);

  // Each streamed message arrives whole and unmixed, each thread's in its order; the plain ones
  // in theirs.
  std::vector<int> next_message(kWriters, 0);
  int next_plain = 0;
  for (const std::string& message : messages) {
    if (message.starts_with("plain ")) {
      EXPECT_EQ(message, "plain " + std::to_string(next_plain++));
      continue;
    }
    int thread = -1, index = -1;
    ASSERT_EQ(std::sscanf(message.c_str(), "[w%d m%d", &thread, &index), 2)
        << message.substr(0, 20);
    ASSERT_TRUE(thread >= 0 && thread < kWriters);
    EXPECT_EQ(index, next_message[static_cast<std::size_t>(thread)]++);
    EXPECT_TRUE(message == streamed_message(thread, index, kPieces))
        << "streamed message " << thread << "/" << index << " arrived mixed";
  }
  EXPECT_EQ(next_plain, kPlain);
  for (int count : next_message) EXPECT_EQ(count, kStreamedMessages);
}

// ---- Handles after the server stopped ----

TEST(ConcurrentSend, HandlesUsedFromThreadsAcrossStopReportClosedAfterIt) {
  ServerOptions options = TestServer::default_options();
  options.threads = 2;
  options.close_timeout = 300ms;
  Recorded<Conn> opened;
  TestServer server(options);
  server.server().on_open([&](const Conn& conn) { opened.add(conn); });
  server.start();
  std::vector<std::unique_ptr<RawPeer>> peers;
  for (int i = 0; i < 10; ++i) {
    peers.push_back(std::make_unique<RawPeer>(server.port()));
    ASSERT_NE(peers.back()->handshake().find(" 101 "), std::string::npos);
  }
  ASSERT_TRUE(opened.wait_for(10));
  const std::vector<Conn> conns = opened.all();

  // Four threads use every method on copies of the handles while the server stops; once stop()
  // returned, every call they make must say closed.
  std::atomic<bool> stopped{false};
  std::atomic<bool> done{false};
  std::atomic<int> wrong_after_stop{0};
  std::atomic<int> calls_after_stop{0};
  std::vector<std::thread> users;
  for (int t = 0; t < 4; ++t) {
    users.emplace_back([&, copies = conns] {
      while (!done) {
        const bool after = stopped.load();
        for (const Conn& conn : copies) {
          Writer writer = conn.writer();
          const SendStatus statuses[] = {conn.send("x"), conn.ping("p"), writer.write("piece"),
                                         writer.finish("end")};
          (void)conn.buffered_amount();
          conn.subscribe("room");
          if (!after) continue;
          ++calls_after_stop;
          if (conn.is_open()) ++wrong_after_stop;
          for (SendStatus status : statuses) {
            if (status != SendStatus::closed) ++wrong_after_stop;
          }
        }
      }
    });
  }
  std::this_thread::sleep_for(20ms);
  server.stop();
  stopped = true;
  ASSERT_TRUE(wait_until([&] { return calls_after_stop.load() > 100; }, 10s));
  done = true;
  for (auto& user : users) user.join();
  EXPECT_EQ(wrong_after_stop.load(), 0);
  for (const Conn& conn : conns) {
    EXPECT_EQ(conn.close(), SendStatus::closed);
    conn.terminate();  // harmless
  }
}

}  // namespace
}  // namespace fastws::testing
