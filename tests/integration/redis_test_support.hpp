// Redis for the scale-out tests: redis-server processes of the test's own on free loopback ports
// (killed and started again where they were), redis-cli as an observer from outside, nodes (a
// Server with the scale-out attached, run on a thread of its own) and WebSocket clients that
// check what each of them receives, message by message.
//
// A missing redis-server fails the tests (scripts/install-deps.sh installs it) unless
// FASTWS_ALLOW_MISSING_PEERS=1 says to skip.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fastws/client.hpp"
#include "fastws/redis.hpp"
#include "fastws/server.hpp"
#include "proxy_test_support.hpp"
#include "support/command_output.hpp"

namespace fastws::testing {

// redis-server in the foreground on 127.0.0.1, keeping nothing on disk; `extra` adds lines to
// its configuration (requirepass, user ...). A nonzero `port` starts it where it was before.
inline std::unique_ptr<ProxyProcess> start_redis(const std::string& program,
                                                 const std::string& extra = {},
                                                 std::uint16_t port = 0) {
  const std::string config = "port {port}\nbind 127.0.0.1\nsave \"\"\nappendonly no\n" + extra;
  return std::make_unique<ProxyProcess>(program, std::vector<std::string>{"{config}"}, config,
                                        port);
}

// What redis-cli prints (--raw: one value per line) for `command`, e.g. "PUBSUB NUMSUB room".
inline std::string redis_cli(std::uint16_t port, const std::string& command,
                             const std::string& auth = {}) {
  std::string output;
  const std::string credentials = auth.empty() ? "" : " --no-auth-warning " + auth;
  fastws::test::run_command("timeout 5 redis-cli -h 127.0.0.1 -p " + std::to_string(port) +
                                credentials + " --raw " + command + " 2>&1",
                            output);
  return output;
}

// PUBSUB NUMSUB `channel`: how many connections (one per node) are subscribed to it.
inline int redis_subscribers(std::uint16_t port, const std::string& channel) {
  const std::string output = redis_cli(port, "PUBSUB NUMSUB " + channel);
  const auto line = output.find('\n');
  if (line == std::string::npos) return -1;
  int count = -1;
  std::from_chars(output.data() + line + 1, output.data() + output.size(), count);
  return count;
}

// The scale-out's options for tests: quick to notice Redis gone and to come back.
inline redis::Options test_redis_options(std::uint16_t port, const std::string& credentials = {}) {
  redis::Options options;
  options.url = "redis://" + credentials + "127.0.0.1:" + std::to_string(port);
  options.connect_timeout = 2s;
  options.reconnect_initial_delay = 20ms;
  options.reconnect_max_delay = 200ms;
  options.ping_interval = 1s;
  return options;
}

// One node: a Server with its handlers, the scale-out, and run() on a thread of its own.
class Node {
 public:
  Node(const std::function<void(Server&)>& handlers, redis::Options options, unsigned threads = 2)
      : server_({.host = "127.0.0.1", .port = 0, .threads = threads}) {
    handlers(server_);
    scaleout_.emplace(redis::attach(server_, std::move(options)));
    EXPECT_FALSE(server_.listen());
    thread_ = std::thread([this] { server_.run(); });
  }
  ~Node() {
    server_.stop();
    thread_.join();
  }
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  Server& server() { return server_; }
  const redis::Scaleout& scaleout() const { return *scaleout_; }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(server_.port()) + "/"; }

 private:
  Server server_;
  std::optional<redis::Scaleout> scaleout_;
  std::thread thread_;
};

// Handlers that put every connection into `topic` when it opens.
inline std::function<void(Server&)> subscribe_on_open(std::string topic) {
  return [topic](Server& server) {
    server.on_open([topic](const Conn& conn) { EXPECT_TRUE(conn.subscribe(topic)); });
  };
}

// Two nodes on one Redis (through `options`: credentials, TLS): a publish on one reaches a client
// of the other.
inline void expect_connected_pair(const redis::Options& options) {
  Node first(subscribe_on_open("room"), options);
  Node second(subscribe_on_open("room"), options);
  Client client;
  std::atomic<int> received{0};
  std::string text;  // written before `received` is bumped
  client.on_message([&](const Conn&, Message message) {
    text = message.text();
    received.fetch_add(1, std::memory_order_release);
  });
  ASSERT_TRUE(client.connect_and_wait(second.url()));
  ASSERT_TRUE(wait_until(
      [&] {
        return first.scaleout().state() == redis::State::connected &&
               second.scaleout().stats().channels == 1;
      },
      5s));
  first.server().publish("room", "through Redis");
  ASSERT_TRUE(wait_until([&] { return received.load(std::memory_order_acquire) == 1; }, 2s));
  EXPECT_EQ(text, "through Redis");
}

// Messages "<publisher> <sequence>" as the test's publishers send them.
inline std::string numbered(std::size_t publisher, std::size_t sequence) {
  return std::to_string(publisher) + " " + std::to_string(sequence);
}

// Publishes `count` numbered messages as `publisher` to `topic`, from `first` on.
inline void publish_numbered(Server& server, const std::string& topic, std::size_t publisher,
                             std::size_t first, std::size_t count) {
  for (std::size_t i = first; i < first + count; ++i) {
    server.publish(topic, numbered(publisher, i));
  }
}

// WebSocket clients that keep, per connection and per publisher, the sequence numbers received
// in arrival order, so a test compares them with what each must have got: exactly once, in
// order. Each connection's record is written on its client loop only; `received` counts every
// message after it is recorded, and a test that saw the count it waits for reads the records
// (the counter's release sequence orders them).
class NumberedSubscribers {
 public:
  static constexpr std::size_t max_publishers = 32;
  struct Record {
    std::array<std::vector<std::size_t>, max_publishers> from;
    std::size_t malformed = 0;
  };

  NumberedSubscribers() : client_({.threads = 2}) {
    client_.on_open([this](const Conn&) { opened.fetch_add(1, std::memory_order_relaxed); });
    client_.on_message([this](const Conn& conn, Message message) {
      Record* const* slot = conn.user_data<Record*>();
      if (slot == nullptr) return;
      Record& record = **slot;
      const std::string_view text = message.text();
      std::size_t publisher = 0;
      std::size_t sequence = 0;
      const auto space = text.find(' ');
      const auto first = std::from_chars(text.data(), text.data() + text.size(), publisher);
      const auto second =
          std::from_chars(text.data() + space + 1, text.data() + text.size(), sequence);
      if (space == std::string_view::npos || first.ec != std::errc() || second.ec != std::errc() ||
          publisher >= max_publishers) {
        ++record.malformed;
      } else {
        record.from[publisher].push_back(sequence);
      }
      received.fetch_add(1, std::memory_order_release);
    });
  }

  // Opens `count` connections to `url`; `group` names them for expectations later.
  void connect(const std::string& url, std::size_t count, std::size_t group) {
    for (std::size_t i = 0; i < count; ++i) {
      records_.emplace_back();
      groups_.push_back(group);
      client_.connect(url, {.user_data = &records_.back()});
    }
  }

  bool wait_open(std::chrono::milliseconds limit) {
    return wait_until([&] { return opened.load() == records_.size(); }, limit);
  }
  bool wait_received(std::size_t total, std::chrono::milliseconds limit) {
    return wait_until([&] { return received.load(std::memory_order_acquire) >= total; }, limit);
  }

  // Every connection of `group` got exactly `expected[p]` from publisher p, in that order.
  // Returns how many connections did not (and reports the first few).
  std::size_t mismatches(std::size_t group,
                         const std::array<std::vector<std::size_t>, max_publishers>& expected) {
    received.load(std::memory_order_acquire);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < records_.size(); ++i) {
      if (groups_[i] != group) continue;
      const Record& record = records_[i];
      if (record.from == expected && record.malformed == 0) continue;
      if (++wrong <= 3) {
        if (record.malformed > 0) {
          ADD_FAILURE() << "connection " << i << " of group " << group << ": " << record.malformed
                        << " malformed messages";
        }
        for (std::size_t p = 0; p < max_publishers; ++p) {
          if (record.from[p] == expected[p]) continue;
          ADD_FAILURE() << "connection " << i << " of group " << group << ": from publisher " << p
                        << " got " << record.from[p].size() << " messages (not in order, or "
                        << "not each once), expected " << expected[p].size();
        }
      }
    }
    return wrong;
  }

  std::size_t size() const { return records_.size(); }

  std::atomic<std::size_t> opened{0};
  std::atomic<std::size_t> received{0};

 private:
  std::deque<Record> records_;  // stable addresses: each connection's user data points at one
  std::vector<std::size_t> groups_;
  Client client_;  // last: its loops stop before the records go
};

// 0, 1, ..., count - 1 after `first`.
inline std::vector<std::size_t> sequence(std::size_t first, std::size_t count) {
  std::vector<std::size_t> numbers(count);
  for (std::size_t i = 0; i < count; ++i) numbers[i] = first + i;
  return numbers;
}

}  // namespace fastws::testing
