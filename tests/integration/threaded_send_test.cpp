// The headline promise: many user threads send to the same connections at once, while
// connections close at random, with no user locks. Suite names start with "Thread": CI runs them
// under TSan as well.
//
// Checked: every frame a client receives parses and its payload is intact (no bytes of another
// frame inside it), messages from one thread arrive in that thread's order, and on connections
// that stayed open every send reported written / queued / backpressure arrived exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <set>

#include "server_test_support.hpp"
#include "test_peer.hpp"

namespace fastws::testing {
namespace {

#if defined(FASTWS_UNDER_TSAN)
constexpr int kMessagesPerThread = 30;  // TSan is ~10x slower
#else
constexpr int kMessagesPerThread = 150;
#endif
constexpr int kConnections = 100;
constexpr int kSenders = 8;

// "T<thread> S<seq> L<length>|" then filler bytes derived from thread and seq: any foreign byte
// inside a payload breaks the pattern.
std::string make_payload(int thread, int seq) {
  const std::size_t length = seq % 50 == 49 ? 70'000 : 16 + static_cast<std::size_t>(seq * 7 % 200);
  char head[64];
  const int head_size = std::snprintf(head, sizeof head, "T%d S%d L%zu|", thread, seq, length);
  std::string payload(head, static_cast<std::size_t>(head_size));
  payload.resize(std::max(length, payload.size()),
                 static_cast<char>('a' + (thread * 7 + seq) % 26));
  return payload;
}

bool parse_payload(std::string_view payload, int& thread, int& seq) {
  std::size_t length = 0;
  if (std::sscanf(std::string(payload.substr(0, 40)).c_str(), "T%d S%d L%zu|", &thread, &seq,
                  &length) != 3) {
    return false;
  }
  return payload == make_payload(thread, seq) && payload.size() == length;
}

// Reads every client socket with poll and parses frames as they complete.
struct Client {
  std::unique_ptr<RawPeer> peer;
  std::vector<std::byte> pending;
  bool closed = false;
  bool broken = false;          // a frame that did not parse, or foreign bytes in a payload
  std::map<int, int> last_seq;  // per sender thread
  std::map<int, int> received;  // per sender thread
  bool out_of_order = false;
};

void consume(Client& client) {
  protocol::FrameHeaderRules rules{protocol::Role::client, 0, UINT64_MAX};
  while (true) {
    protocol::FrameHeaderParser parser;
    std::size_t used = 0;
    auto status = parser.parse(client.pending.data(), client.pending.size(), used, rules);
    if (status == protocol::FrameHeaderParser::Status::need_more) return;
    if (status == protocol::FrameHeaderParser::Status::error) {
      client.broken = true;
      return;
    }
    const auto& header = parser.header();
    if (client.pending.size() - used < header.payload_length) return;
    std::string_view payload(reinterpret_cast<const char*>(client.pending.data()) + used,
                             static_cast<std::size_t>(header.payload_length));
    if (header.opcode == Opcode::text) {
      int thread = -1, seq = -1;
      if (!parse_payload(payload, thread, seq)) {
        client.broken = true;
      } else {
        if (client.last_seq.count(thread) && seq <= client.last_seq[thread]) {
          client.out_of_order = true;
        }
        client.last_seq[thread] = seq;
        ++client.received[thread];
      }
    } else if (header.opcode != Opcode::close) {
      client.broken = true;
    }
    client.pending.erase(
        client.pending.begin(),
        client.pending.begin() + static_cast<std::ptrdiff_t>(used + header.payload_length));
  }
}

TEST(ThreadedSend, EightThreadsToHundredConnectionsWhileSomeClose) {
  ServerOptions options = TestServer::default_options();
  options.threads = 2;
  options.max_buffered_bytes = 64u << 20;  // no drops: every admitted send must arrive
  TestServer server(options);
  std::mutex mutex;
  std::vector<Conn> conns;
  server.server().on_open([&](const Conn& conn) {
    std::lock_guard lock(mutex);
    conns.push_back(conn);
  });
  server.start();

  std::vector<Client> clients(kConnections);
  for (auto& client : clients) {
    client.peer = std::make_unique<RawPeer>(server.port());
    ASSERT_NE(client.peer->handshake().find(" 101 "), std::string::npos);
  }
  for (int i = 0; i < 500; ++i) {
    std::lock_guard lock(mutex);
    if (conns.size() == kConnections) break;
    std::this_thread::sleep_for(10ms);
  }
  std::vector<Conn> handles;
  {
    std::lock_guard lock(mutex);
    handles = conns;
  }
  ASSERT_EQ(handles.size(), static_cast<std::size_t>(kConnections));

  // sent[thread][connection id] = sends that reported success.
  std::vector<std::map<std::uint64_t, int>> sent(kSenders);
  std::vector<std::thread> senders;
  for (int t = 0; t < kSenders; ++t) {
    senders.emplace_back([&, t] {
      for (int seq = 0; seq < kMessagesPerThread; ++seq) {
        const std::string payload = make_payload(t, seq);
        for (const Conn& conn : handles) {
          SendStatus status = conn.send(payload);
          if (status == SendStatus::written || status == SendStatus::queued ||
              status == SendStatus::backpressure) {
            ++sent[static_cast<std::size_t>(t)][conn.id()];
          } else {
            EXPECT_TRUE(status == SendStatus::closed || status == SendStatus::dropped);
          }
        }
      }
    });
  }
  // Meanwhile: 10 connections closed by the server from a user thread, 10 by their peers.
  std::set<std::uint64_t> closed_ids;
  std::thread closer([&] {
    std::mt19937 random(7);
    for (int i = 0; i < 10; ++i) {
      std::this_thread::sleep_for(2ms);
      const Conn& conn = handles[random() % handles.size()];
      conn.close(close_code::going_away, "random close");
      closed_ids.insert(conn.id());
    }
  });

  // Ten peers vanish while the sends run.
  std::set<std::size_t> dropped_by_peer;
  for (std::size_t i = 0; i < 10; ++i) dropped_by_peer.insert(i * 7 + 3);
  for (std::size_t i : dropped_by_peer) ::shutdown(clients[i].peer->fd(), SHUT_RDWR);
  // Sends never block, so the threads finish without anyone reading; then read everything.
  for (auto& thread : senders) thread.join();
  closer.join();

  // Which handle belongs to which client: the server's remote port is the client's local port.
  std::map<std::string, std::size_t> client_by_port;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    sockaddr_in local{};
    socklen_t size = sizeof local;
    ::getsockname(clients[i].peer->fd(), reinterpret_cast<sockaddr*>(&local), &size);
    client_by_port[":" + std::to_string(ntohs(local.sin_port))] = i;
  }
  std::vector<const Conn*> handle_of(clients.size(), nullptr);
  for (const Conn& conn : handles) {
    const std::string address = conn.remote_address();
    auto found = client_by_port.find(address.substr(address.rfind(':')));
    ASSERT_NE(found, client_by_port.end()) << address;
    handle_of[found->second] = &conn;
  }

  // What each client that stays open must receive in the end.
  auto expected_total = [&](std::size_t i) {
    int total = 0;
    for (const auto& per_connection : sent) {
      auto found = per_connection.find(handle_of[i]->id());
      if (found != per_connection.end()) total += found->second;
    }
    return total;
  };
  auto received_total = [&](std::size_t i) {
    int total = 0;
    for (const auto& [thread, count] : clients[i].received) total += count;
    return total;
  };
  auto stays_open = [&](std::size_t i) {
    return !closed_ids.count(handle_of[i]->id()) && !dropped_by_peer.count(i);
  };
  auto all_arrived = [&] {
    for (std::size_t i = 0; i < clients.size(); ++i) {
      if (stays_open(i) && !clients[i].broken && received_total(i) < expected_total(i)) {
        return false;
      }
    }
    return true;
  };

  const auto deadline = std::chrono::steady_clock::now() + 60s;
  // Read until everything owed has arrived (bounded): the machine may be busy, so no "quiet
  // for a while" guess decides when the data is complete.
  int quiet_rounds = 0;
  while (std::chrono::steady_clock::now() < deadline && (!all_arrived() || quiet_rounds < 2)) {
    std::vector<pollfd> fds;
    for (auto& client : clients) fds.push_back({client.peer->fd(), POLLIN, 0});
    const int ready = ::poll(fds.data(), fds.size(), 50);
    bool any = false;
    for (std::size_t i = 0; ready > 0 && i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)) || clients[i].closed) continue;
      std::byte buffer[65536];
      const ssize_t n = ::recv(fds[i].fd, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n > 0) {
        any = true;
        clients[i].pending.insert(clients[i].pending.end(), buffer, buffer + n);
        consume(clients[i]);
      } else if (n == 0 || errno != EAGAIN) {
        clients[i].closed = true;
      }
    }
    quiet_rounds = any ? 0 : quiet_rounds + 1;
  }

  int checked = 0;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    const Client& client = clients[i];
    EXPECT_FALSE(client.broken) << "connection " << i << " got a malformed or foreign frame";
    EXPECT_FALSE(client.out_of_order) << "connection " << i;
    ASSERT_NE(handle_of[i], nullptr);
    const std::uint64_t id = handle_of[i]->id();
    if (!stays_open(i)) continue;
    // Still open: exactly what was reported sent arrived.
    for (int t = 0; t < kSenders; ++t) {
      auto expected = sent[static_cast<std::size_t>(t)][id];
      EXPECT_EQ(client.received.count(t) ? client.received.at(t) : 0, expected)
          << "connection " << i << " thread " << t;
    }
    ++checked;
  }
  EXPECT_GT(checked, 50);
  // Handles of closed connections stay harmless.
  for (std::uint64_t id : closed_ids) {
    for (const Conn& conn : handles) {
      if (conn.id() == id) {
        EXPECT_EQ(conn.send("late"), SendStatus::closed);
      }
    }
  }
}

}  // namespace
}  // namespace fastws::testing
