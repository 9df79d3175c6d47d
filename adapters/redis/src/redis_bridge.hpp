// The scale-out of one server through Redis (see fastws/redis.hpp for what users get).
//
// Redis is reached through shards (shard.hpp): a standalone Redis is one shard serving every
// channel; a Redis Cluster has one per master, each serving the channels of its hash slots
// (sharded pub/sub), learnt from CLUSTER SLOTS on a topology connection to the URL's node and
// learnt again when a slot moves. Everything runs on the bridge's own event loop thread, so the
// bridge lives and stops with the server, not with its loops' run().
//
// - Publishes (any thread) are framed as PUBLISH / SPUBLISH commands into an outbox under a
//   lock, and the loop hands the whole outbox to the shards at once: one wakeup and one write
//   per shard for a burst.
// - Topic membership arrives from the server's loops (TopicBridge): counted per channel, turned
//   into SUBSCRIBE / UNSUBSCRIBE on the channel's shard at the end of the loop's batch for what
//   changed, and subscribed again whenever a shard's subscriber connection is made again.
// - A message from Redis is unwrapped (envelope.hpp): this node's own is skipped, the others go
//   to Server::publish_local(), which frames them once for all local subscribers.
//
// Loss accounting is exact for what the node knows: a publish is lost when there is no
// connection to hand it to, when too many bytes wait for Redis, when Redis refuses it (a slot
// that moved included), or when the connection breaks before Redis acknowledged it (Redis may
// have delivered such a message before it went: lost means "not known to have reached Redis").
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cluster_slots.hpp"
#include "connection/topic_registry.hpp"
#include "envelope.hpp"
#include "fastws/redis.hpp"
#include "fastws/topic_bridge.hpp"
#include "net/event_loop.hpp"
#include "net/resolver.hpp"
#include "net/tls_context.hpp"
#include "redis_link.hpp"
#include "shard.hpp"

namespace fastws::redis::detail {

class RedisBridge final : public TopicBridge, private LinkOwner, private net::FlushHandler {
 public:
  // Throws std::invalid_argument for a bad URL or TLS file, std::system_error when the event
  // loop cannot be made.
  RedisBridge(Server& server, Options options);
  ~RedisBridge() override;
  RedisBridge(const RedisBridge&) = delete;
  RedisBridge& operator=(const RedisBridge&) = delete;

  // Starts the loop thread and the connections.
  void start();

  // TopicBridge
  void topic_opened(std::string_view topic) override;
  void topic_closed(std::string_view topic) override;
  void published(std::string_view topic, std::span<const std::byte> data, Opcode op) override;
  void server_closing() noexcept override;

  Stats stats() const noexcept;
  State state() const noexcept { return state_.load(std::memory_order_acquire); }
  const std::string& node_id() const noexcept { return node_hex_; }

 private:
  // A channel of a topic with members on `loops` of the server's loops.
  struct Channel {
    std::uint32_t loops = 0;
    Shard* subscribed_on = nullptr;  // SUBSCRIBE sent on that shard's current connection
    bool dirty = false;              // in dirty_
  };
  using Channels =
      std::unordered_map<std::string, Channel, fastws::detail::TopicNameHash, std::equal_to<>>;
  // A publish in the outbox, in a cluster: its channel's slot and its command's length.
  struct Routed {
    std::uint16_t slot;
    std::uint32_t size;
  };

  // LinkOwner (the shards' links and the topology link)
  void link_ready(RedisLink& which) override;
  void link_reply(RedisLink& which, const RespReply& reply) override;
  void link_down(RedisLink& which, std::string_view reason) override;
  // Sends the SUBSCRIBE / UNSUBSCRIBE that the batch's changes call for.
  void on_flush() override;

  Shard* shard_of(const RedisLink& link) noexcept;
  // The shard serving `channel`; null in a cluster whose slots are not known yet.
  Shard* shard_for(std::string_view channel) noexcept;
  std::unique_ptr<Shard> make_shard(const std::string& host, std::uint16_t port);

  void change_channel(const std::string& channel, int loops);
  void mark_dirty(Channels::value_type& channel);
  void mark_unsubscribed(const Shard& shard);  // its subscriber connection forgot its channels
  void subscriber_reply(Shard& shard, const RespReply& reply);
  void publisher_reply(Shard& shard, const RespReply& reply);
  void topology_reply(const RespReply& reply);
  void refresh_topology();
  void drain_outbox();
  void send_routed(std::span<const Routed> routed);
  void deliver(std::string_view channel, std::string_view message);
  void lose(std::uint64_t count, std::string_view reason);
  void set_state(State state, std::string_view reason);
  void check_connected();

  Server* server_;
  const Options options_;
  const NodeId node_;
  const std::string node_hex_;
  const RedisUrl url_;
  const std::unique_ptr<net::TlsContext> tls_;
  const ShardVerbs verbs_;
  // Destroyed last: tasks posted to it may name the members below (they never run then).
  std::unique_ptr<net::EventLoop> loop_;
  net::Resolver resolver_;
  std::unique_ptr<RedisLink> topology_;  // a cluster's: CLUSTER SLOTS to the URL's node
  std::vector<std::unique_ptr<Shard>> shards_;
  std::thread thread_;

  // Publishes waiting for the loop, from any thread.
  std::mutex outbox_mutex_;
  std::vector<std::byte> outbox_;      // PUBLISH commands; guarded by outbox_mutex_
  std::vector<Routed> outbox_routes_;  // a cluster's; guarded by outbox_mutex_
  std::uint64_t outbox_messages_ = 0;  // guarded by outbox_mutex_
  std::uint64_t outbox_refused_ = 0;   // over max_pending_bytes; guarded by outbox_mutex_
  bool drain_posted_ = false;          // guarded by outbox_mutex_

  // Loop thread only.
  std::vector<std::byte> draining_;  // the outbox taken over, on its way to the shards
  std::vector<Routed> draining_routes_;
  Channels channels_;
  std::vector<Channels::value_type*> dirty_;  // entries stay until on_flush() looked at them
  std::array<Shard*, slot_count> slots_{};    // a cluster's: who serves each slot
  bool slots_known_ = false;
  bool topology_asked_ = false;  // CLUSTER SLOTS sent, not answered
  bool topology_stale_ = false;  // ask again once answered
  std::string down_reason_ = "not connected to Redis yet";
  bool ever_connected_ = false;

  // Written by the loop thread only, read by stats() from any thread.
  std::atomic<State> state_{State::connecting};
  std::atomic<std::uint64_t> published_{0};
  std::atomic<std::uint64_t> lost_{0};
  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::uint64_t> foreign_{0};
  std::atomic<std::uint64_t> own_skipped_{0};
  std::atomic<std::uint64_t> topics_{0};
  std::atomic<std::uint64_t> channels_confirmed_{0};
  std::atomic<std::uint64_t> reconnects_{0};
};

}  // namespace fastws::redis::detail
