// fastws::redis: scale-out of a Server's topics over several processes and machines through
// Redis pub/sub (CMake target fastws::redis).
//
//   fastws::Server server(options);
//   auto scaleout = fastws::redis::attach(server, {.url = "redis://:secret@10.0.0.5:6379"});
//   server.run();
//
// With it, server.publish(topic, message) reaches the topic's subscribers on this node at once,
// as without it, and goes to Redis, which hands it to every other node subscribed to the topic;
// each delivers it to its own subscribers, framed once. A node subscribes in Redis only to the
// topics its connections are in (counted over its loops: SUBSCRIBE when the first local member
// joins, UNSUBSCRIBE when the last one leaves), so idle topics elsewhere cost it nothing.
// Messages of one publishing thread on one topic arrive in order on every node; a node never
// delivers its own publish twice (messages carry the publishing node's id, see envelope.hpp).
// Server::broadcast() stays local. Pointed at a Redis Cluster (Options::cluster), each topic's
// channel lives on the shard serving its hash slot (sharded pub/sub), so the message rate grows
// with the shards.
//
// Redis being away never stops local delivery: while a node has no connection to Redis, its
// publishes reach its own subscribers and are counted as lost for the others (Stats::lost and
// Options::on_lost say how many and why); it reconnects with backoff and subscribes again to
// every topic it holds. What other nodes publish meanwhile does not reach it: pub/sub keeps
// nothing for absent subscribers.
//
// Why RESP over fastws's own sockets rather than hiredis: the links run on a fastws event loop
// (net::EventLoop) with its timers, resolver (names are resolved off the loop) and TLS session
// (net::TlsStream; Debian's hiredis 0.14 has no TLS), parse the pushes in place in their read
// buffer and hand the payload to the WebSocket framing with no copy in between, and need no
// adapter glue between two event models. RESP2's few commands and replies are a small, fuzzable
// parser (resp.hpp).
//
// Threading: attach() before server.run(). The scale-out runs on its own event loop thread,
// started by attach() and stopped when the server is destroyed; it never blocks. The callbacks
// run on that thread: keep them short. The handle may be copied, kept and read from any thread,
// also after the server is gone.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "fastws/client.hpp"
#include "fastws/server.hpp"

namespace fastws::redis {

// Where the scale-out's connections to Redis stand (Scaleout::state(), Options::on_state).
enum class State : std::uint8_t {
  connecting,    // not connected yet since attach()
  connected,     // every connection up and every held topic subscribed (confirmed by Redis)
  disconnected,  // a connection broke or Redis refused us (the reason says which); retrying
};

// How a server's scale-out reaches Redis, and its limits.
struct Options {
  // redis://[[user]:password@]host[:port][/db], or rediss:// for TLS. With a password and no
  // user the node sends AUTH password (requirepass), with both AUTH user password (ACL).
  std::string url = "redis://127.0.0.1:6379";
  // rediss://: how Redis's certificate is checked (verified against the system's CAs or
  // `ca_file` by default) and the client certificate, if Redis asks for one.
  ClientTlsOptions tls;
  // Redis channel of a topic: prefix + topic. Nodes of one deployment use the same prefix;
  // different deployments sharing one Redis use different ones.
  std::string channel_prefix;
  // The URL names a node of a Redis Cluster (Redis 7 or later): each channel goes to the shard
  // serving its hash slot, with sharded pub/sub (SPUBLISH, SSUBSCRIBE), so the message rate
  // grows with the number of shards. The node learns the slots from CLUSTER SLOTS on the URL's
  // node, and again when a slot moves (a MOVED reply, Redis unsubscribing a moved channel) or a
  // shard's connection breaks. Channels with a {hash tag} share a slot, as keys do.
  bool cluster = false;

  std::chrono::milliseconds connect_timeout{5000};         // resolve, connect, TLS, AUTH: all of it
  std::chrono::milliseconds reconnect_initial_delay{100};  // the first wait after a break
  std::chrono::milliseconds reconnect_max_delay{5000};     // the backoff doubles up to this
  // Every interval each connection sends a PING; one that heard nothing for a whole interval
  // with its PING unanswered is closed and made again (Redis gone without a FIN).
  std::chrono::milliseconds ping_interval{10000};

  // Limits. A message from Redis longer than max_message_size (after the envelope) ends that
  // connection (it is made again; such a message is never delivered): keep it at or above the
  // largest message the nodes publish. Publishes Redis has not taken yet (written slower than
  // they come, or waiting for a connection) are held up to max_pending_bytes; beyond it they
  // are lost (counted, reported).
  std::size_t max_message_size = 16 * 1024 * 1024;   // from Redis, after the envelope
  std::size_t max_pending_bytes = 64 * 1024 * 1024;  // publishes Redis has not taken yet

  // On the scale-out's thread: the state changed (reason says why for `disconnected`).
  std::function<void(State state, std::string_view reason)> on_state;
  // On the scale-out's thread: `count` publishes did not reach Redis (so no other node got
  // them), and why. Their local delivery was not affected.
  std::function<void(std::uint64_t count, std::string_view reason)> on_lost;
};

// Counters, each exact, readable from any thread.
struct Stats {
  std::uint64_t published = 0;    // publishes Redis acknowledged
  std::uint64_t lost = 0;         // publishes that did not reach Redis (see Options::on_lost)
  std::uint64_t received = 0;     // messages from elsewhere delivered to local subscribers
  std::uint64_t foreign = 0;      // of those, published by something other than a fastws node
  std::uint64_t own_skipped = 0;  // this node's publishes Redis handed back: not delivered again
  std::uint64_t topics = 0;       // topics with subscribers on this node
  std::uint64_t channels = 0;     // channels this node is subscribed to, as Redis last said
  std::uint64_t reconnects = 0;   // connections to Redis made again after they broke
};

namespace detail {
class RedisBridge;
}  // namespace detail

// A handle on a server's scale-out.
class Scaleout {
 public:
  // The counters (any thread).
  Stats stats() const noexcept;
  // Where the connections to Redis stand (any thread).
  State state() const noexcept;
  // This node's id (32 hex digits), as it appears in the envelope of its messages.
  const std::string& node_id() const noexcept;

 private:
  friend Scaleout attach(Server& server, Options options);
  explicit Scaleout(std::shared_ptr<const detail::RedisBridge> bridge) noexcept
      : bridge_(std::move(bridge)) {}
  std::shared_ptr<const detail::RedisBridge> bridge_;
};

// Attaches scale-out through Redis to `server` (before run(), once per server) and starts
// connecting. Throws std::invalid_argument for a bad URL or TLS file.
Scaleout attach(Server& server, Options options);

}  // namespace fastws::redis
