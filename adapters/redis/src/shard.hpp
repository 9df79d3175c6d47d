// One Redis node the scale-out talks to: a publisher connection whose PUBLISH replies are counted
// (a RESP2 connection in subscribed mode takes no other command, hence two), and a subscriber
// connection holding the channels this node serves for us. A standalone Redis is one shard
// serving every channel; a Redis Cluster has one per master, for the channels of its slots, and
// speaks the sharded verbs (SPUBLISH, SSUBSCRIBE, "smessage") there.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "redis_link.hpp"

namespace fastws::redis::detail {

struct ShardVerbs {
  std::string_view publish;
  std::string_view subscribe;
  std::string_view unsubscribe;
  std::string_view message;       // the kind of a push carrying a message
  std::string_view subscribed;    // of a subscription's confirmation
  std::string_view unsubscribed;  // of an unsubscription's (in a cluster, also Redis's own)
  // A cluster refuses SSUBSCRIBE of channels in different slots (CROSSSLOT): one per command.
  bool one_channel_per_command;
};

inline constexpr ShardVerbs plain_verbs{"PUBLISH",   "SUBSCRIBE",   "UNSUBSCRIBE", "message",
                                        "subscribe", "unsubscribe", false};
inline constexpr ShardVerbs sharded_verbs{
    "SPUBLISH", "SSUBSCRIBE", "SUNSUBSCRIBE", "smessage", "ssubscribe", "sunsubscribe", true};

class Shard {
 public:
  // Links like `base`, to host:port.
  Shard(net::EventLoop& loop, net::Resolver& resolver, const LinkSettings& base, std::string host,
        std::uint16_t port, LinkOwner& owner);

  bool at(std::string_view other_host, std::uint16_t other_port) const noexcept {
    return host == other_host && port == other_port;
  }
  bool ready() const noexcept { return publisher.ready() && subscriber.ready(); }
  void open() {
    publisher.open();
    subscriber.open();
  }
  void close() noexcept {
    publisher.close();
    subscriber.close();
  }

  // Queues (UN)SUBSCRIBE commands for `names`, sent by send_commands().
  void append_channels(std::string_view verb, std::span<const std::string_view> names,
                       bool one_per_command);
  void send_commands() { subscriber.send(commands_); }

  const std::string host;
  const std::uint16_t port;
  RedisLink publisher;
  RedisLink subscriber;
  std::uint64_t unacknowledged = 0;  // PUBLISHes sent on the current connection, not answered
  std::uint64_t unconfirmed = 0;     // channels in SUBSCRIBEs Redis has not confirmed yet
  std::uint64_t channels = 0;        // channels the subscriber holds, as Redis last said

  // Built during one batch (RedisBridge::on_flush(), drain): what goes to this shard.
  std::vector<std::string_view> to_subscribe;
  std::vector<std::string_view> to_unsubscribe;
  std::vector<std::byte> publishes;
  std::uint64_t publish_count = 0;

 private:
  std::vector<std::byte> commands_;
};

}  // namespace fastws::redis::detail
