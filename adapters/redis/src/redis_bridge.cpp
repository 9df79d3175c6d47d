#include "redis_bridge.hpp"

#include <algorithm>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "resp.hpp"

namespace fastws::redis::detail {

namespace {

// Counters with a single writer (the bridge's loop): a relaxed load and store, no locked add.
void bump(std::atomic<std::uint64_t>& counter, std::uint64_t by = 1) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

RedisUrl url_from(const Options& options) {
  std::string error;
  auto url = parse_redis_url(options.url, error);
  if (!url) throw std::invalid_argument("fastws::redis: " + error + ": " + options.url);
  return std::move(*url);
}

std::unique_ptr<net::TlsContext> tls_context_for(const RedisUrl& url, const Options& options) {
  if (!url.tls) return nullptr;
  if (options.tls.context != nullptr) return net::TlsContext::shared(options.tls.context);
  net::TlsClientSettings settings;
  settings.verify_peer = !options.tls.insecure_skip_verification;
  settings.ca_file = options.tls.ca_file;
  settings.ca_directory = options.tls.ca_directory;
  settings.certificate_file = options.tls.certificate_file;
  settings.key_file = options.tls.key_file;
  std::string error;
  auto context = net::TlsContext::client(settings, error);
  if (!context) throw std::invalid_argument("fastws::redis: " + error);
  return context;
}

std::unique_ptr<net::EventLoop> make_loop() {
  std::error_code error;
  auto loop = net::EventLoop::create(error);
  if (!loop) throw std::system_error(error, "fastws::redis: cannot create an event loop");
  return loop;
}

LinkSettings link_settings(std::string name, const RedisUrl& url, const net::TlsContext* tls,
                           const Options& options) {
  LinkSettings settings;
  settings.name = std::move(name);
  settings.url = url;
  settings.tls = tls;
  settings.connect_timeout = options.connect_timeout;
  settings.ping_interval = options.ping_interval;
  settings.reconnect_initial_delay = options.reconnect_initial_delay;
  settings.reconnect_max_delay = options.reconnect_max_delay;
  // A push carries the channel and the envelope beside the message.
  settings.limits.max_bulk_length = options.max_message_size + envelope_header_size;
  return settings;
}

std::span<const std::byte> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

}  // namespace

RedisBridge::RedisBridge(Server& server, Options options)
    : server_(&server),
      options_(std::move(options)),
      node_(make_node_id()),
      node_hex_(to_hex(node_)),
      url_(url_from(options_)),
      tls_(tls_context_for(url_, options_)),
      verbs_(options_.cluster ? sharded_verbs : plain_verbs),
      loop_(make_loop()) {
  LinkOwner& owner = *this;
  if (options_.cluster) {
    topology_ = std::make_unique<RedisLink>(
        *loop_, resolver_, link_settings("topology", url_, tls_.get(), options_), owner);
  } else {
    shards_.push_back(make_shard(url_.host, url_.port));
  }
}

RedisBridge::~RedisBridge() {
  server_closing();
}

void RedisBridge::start() {
  loop_->post([this] {
    if (topology_) topology_->open();
    for (auto& shard : shards_) shard->open();
  });
  thread_ = std::thread([this] { loop_->run(); });
}

void RedisBridge::server_closing() noexcept {
  if (!thread_.joinable()) return;
  loop_->stop();
  thread_.join();
  // The loop is still; its tasks will never run. Close the sockets from here.
  if (topology_) topology_->close();
  for (auto& shard : shards_) shard->close();
  loop_->cancel_flush(*this);
}

Stats RedisBridge::stats() const noexcept {
  Stats stats;
  stats.published = published_.load(std::memory_order_relaxed);
  stats.lost = lost_.load(std::memory_order_relaxed);
  stats.received = received_.load(std::memory_order_relaxed);
  stats.foreign = foreign_.load(std::memory_order_relaxed);
  stats.own_skipped = own_skipped_.load(std::memory_order_relaxed);
  stats.topics = topics_.load(std::memory_order_relaxed);
  stats.channels = channels_confirmed_.load(std::memory_order_relaxed);
  stats.reconnects = reconnects_.load(std::memory_order_relaxed);
  return stats;
}

// --- shards ---

std::unique_ptr<Shard> RedisBridge::make_shard(const std::string& host, std::uint16_t port) {
  LinkOwner& owner = *this;
  return std::make_unique<Shard>(*loop_, resolver_, link_settings("", url_, tls_.get(), options_),
                                 host, port, owner);
}

Shard* RedisBridge::shard_of(const RedisLink& which) noexcept {
  for (auto& shard : shards_) {
    if (&shard->publisher == &which || &shard->subscriber == &which) return shard.get();
  }
  return nullptr;
}

Shard* RedisBridge::shard_for(std::string_view channel) noexcept {
  if (!options_.cluster) return shards_.front().get();
  return slots_known_ ? slots_[slot_of(channel)] : nullptr;
}

// --- topics (from the server's loops) ---

void RedisBridge::topic_opened(std::string_view topic) {
  loop_->post([this, channel = options_.channel_prefix + std::string(topic)] {
    change_channel(channel, +1);
  });
}

void RedisBridge::topic_closed(std::string_view topic) {
  loop_->post([this, channel = options_.channel_prefix + std::string(topic)] {
    change_channel(channel, -1);
  });
}

void RedisBridge::change_channel(const std::string& name, int loops) {
  auto entry = channels_.find(name);
  if (entry == channels_.end()) {
    if (loops < 0) return;  // cannot happen: each loop closes only what it opened
    entry = channels_.emplace(name, Channel{}).first;
  }
  Channel& channel = entry->second;
  const bool had_members = channel.loops > 0;
  channel.loops = static_cast<std::uint32_t>(static_cast<int>(channel.loops) + loops);
  const bool has_members = channel.loops > 0;
  if (had_members == has_members) return;
  bump(topics_, has_members ? 1 : std::uint64_t(-1));
  mark_dirty(*entry);
}

void RedisBridge::mark_dirty(Channels::value_type& channel) {
  if (!channel.second.dirty) {
    channel.second.dirty = true;
    dirty_.push_back(&channel);
  }
  loop_->defer_flush(*this);
}

void RedisBridge::on_flush() {
  // Each dirty channel ends up subscribed on the shard that serves it now, if it has members and
  // that shard is connected, and nowhere else.
  for (Channels::value_type* entry : dirty_) {
    const std::string_view name = entry->first;
    Channel& channel = entry->second;
    channel.dirty = false;
    Shard* serving = channel.loops > 0 ? shard_for(name) : nullptr;
    if (serving != nullptr && !serving->subscriber.ready()) serving = nullptr;
    if (channel.subscribed_on == serving) continue;
    if (Shard* old = std::exchange(channel.subscribed_on, nullptr);
        old != nullptr && old->subscriber.ready()) {
      old->to_unsubscribe.push_back(name);
    }
    if (serving != nullptr) {
      serving->to_subscribe.push_back(name);
      channel.subscribed_on = serving;
    }
  }
  for (auto& shard : shards_) {
    shard->append_channels(verbs_.subscribe, shard->to_subscribe, verbs_.one_channel_per_command);
    shard->append_channels(verbs_.unsubscribe, shard->to_unsubscribe,
                           verbs_.one_channel_per_command);
    shard->unconfirmed += shard->to_subscribe.size();
    shard->to_subscribe.clear();
    shard->to_unsubscribe.clear();
    shard->send_commands();
  }
  for (Channels::value_type* entry : dirty_) {
    if (entry->second.loops == 0 && entry->second.subscribed_on == nullptr &&
        !entry->second.dirty) {
      channels_.erase(entry->first);
    }
  }
  dirty_.clear();
  check_connected();
}

void RedisBridge::mark_unsubscribed(const Shard& shard) {
  for (auto& entry : channels_) {
    if (entry.second.subscribed_on != &shard) continue;
    entry.second.subscribed_on = nullptr;
    mark_dirty(entry);  // subscribed again when a shard serving it is connected
  }
}

// --- publishing (any thread) ---

void RedisBridge::published(std::string_view topic, std::span<const std::byte> data, Opcode op) {
  const auto header = envelope_header(node_, op);
  bool post = false;
  {
    std::lock_guard lock(outbox_mutex_);
    if (outbox_.size() > options_.max_pending_bytes) {
      ++outbox_refused_;
    } else {
      const std::size_t before = outbox_.size();
      append_array_header(outbox_, 3);
      append_bulk(outbox_, verbs_.publish);
      append_bulk_header(outbox_, options_.channel_prefix.size() + topic.size());
      const std::size_t channel_at = outbox_.size();
      append_raw(outbox_, options_.channel_prefix);
      append_raw(outbox_, topic);
      // A cluster's shard serves the channel's slot (prefix + topic, read where it was just
      // written: a hash tag may span both).
      const std::uint16_t slot =
          options_.cluster ? slot_of({reinterpret_cast<const char*>(outbox_.data()) + channel_at,
                                      outbox_.size() - channel_at})
                           : 0;
      append_crlf(outbox_);
      append_bulk_header(outbox_, header.size() + data.size());
      append_raw(outbox_, header);
      append_raw(outbox_, data);
      append_crlf(outbox_);
      ++outbox_messages_;
      if (options_.cluster) {
        outbox_routes_.push_back({slot, static_cast<std::uint32_t>(outbox_.size() - before)});
      }
    }
    post = !std::exchange(drain_posted_, true);
  }
  if (post) loop_->post([this] { drain_outbox(); });
}

void RedisBridge::drain_outbox() {
  std::uint64_t messages = 0;
  std::uint64_t refused = 0;
  {
    std::lock_guard lock(outbox_mutex_);
    draining_.swap(outbox_);
    draining_routes_.swap(outbox_routes_);
    messages = std::exchange(outbox_messages_, 0);
    refused = std::exchange(outbox_refused_, 0);
    drain_posted_ = false;
  }
  if (refused > 0) lose(refused, "more than max_pending_bytes of publishes waited for Redis");
  if (messages > 0 && options_.cluster) {
    send_routed(draining_routes_);
  } else if (messages > 0) {
    Shard& shard = *shards_.front();
    if (!shard.publisher.ready()) {
      lose(messages, down_reason_);
    } else if (shard.publisher.backlog() > options_.max_pending_bytes) {
      lose(messages, "Redis takes publishes slower than they come: max_pending_bytes are waiting");
    } else {
      shard.unacknowledged += messages;
      shard.publisher.send(draining_);
    }
  }
  draining_.clear();
  draining_routes_.clear();
}

void RedisBridge::send_routed(std::span<const Routed> routed) {
  std::uint64_t unrouted = 0;
  std::size_t at = 0;
  for (const Routed& publish : routed) {
    const std::span<const std::byte> command(draining_.data() + at, publish.size);
    at += publish.size;
    Shard* shard = slots_known_ ? slots_[publish.slot] : nullptr;
    if (shard == nullptr || !shard->publisher.ready()) {
      ++unrouted;
      continue;
    }
    append_raw(shard->publishes, command);
    ++shard->publish_count;
  }
  if (unrouted > 0)
    lose(unrouted, "no connection to the shard serving the channel: " + down_reason_);
  for (auto& shard : shards_) {
    const std::uint64_t count = std::exchange(shard->publish_count, 0);
    if (count == 0) continue;
    if (shard->publisher.backlog() > options_.max_pending_bytes) {
      shard->publishes.clear();
      lose(count, "Redis takes publishes slower than they come: max_pending_bytes are waiting");
      continue;
    }
    shard->unacknowledged += count;
    shard->publisher.send(shard->publishes);
  }
}

void RedisBridge::lose(std::uint64_t count, std::string_view reason) {
  if (count == 0) return;
  bump(lost_, count);
  if (options_.on_lost) options_.on_lost(count, reason);
}

// --- the connections ---

void RedisBridge::link_ready(RedisLink& which) {
  if (&which == topology_.get()) {
    refresh_topology();
    return;
  }
  Shard* shard = shard_of(which);
  if (shard != nullptr && &which == &shard->subscriber) {
    // Subscribe again to every channel this shard serves; the flush at the end of this batch
    // sends them.
    for (auto& entry : channels_) {
      if (entry.second.loops > 0 && entry.second.subscribed_on == nullptr) mark_dirty(entry);
    }
  }
  check_connected();  // when there is nothing to subscribe to; else after the flush
}

void RedisBridge::link_down(RedisLink& which, std::string_view reason) {
  if (&which == topology_.get()) {
    topology_asked_ = false;
    return;  // the shards carry on; the slots are learnt again once it is back
  }
  Shard* shard = shard_of(which);
  if (shard == nullptr) return;
  down_reason_ = "no connection to Redis: " + std::string(reason);
  if (&which == &shard->publisher) {
    lose(std::exchange(shard->unacknowledged, 0),
         "the connection to Redis ended before Redis acknowledged them: " + std::string(reason));
  } else {
    // Redis forgot this connection's channels: nothing is subscribed there any more.
    mark_unsubscribed(*shard);
    shard->unconfirmed = 0;
    bump(channels_confirmed_, std::uint64_t(0) - std::exchange(shard->channels, 0));
  }
  if (options_.cluster) refresh_topology();  // a master may have failed over
  if (state() != State::disconnected) set_state(State::disconnected, reason);
}

void RedisBridge::link_reply(RedisLink& which, const RespReply& reply) {
  if (&which == topology_.get()) {
    topology_reply(reply);
    return;
  }
  Shard* shard = shard_of(which);
  if (shard == nullptr) return;
  if (&which == &shard->publisher) {
    publisher_reply(*shard, reply);
  } else {
    subscriber_reply(*shard, reply);
  }
}

void RedisBridge::publisher_reply(Shard& shard, const RespReply& reply) {
  if (shard.unacknowledged == 0) return;  // nothing but PUBLISH goes out: cannot happen
  --shard.unacknowledged;
  if (reply.type != RespType::error) {
    bump(published_);
    return;
  }
  lose(1, "Redis refused a PUBLISH: " + std::string(reply.text));
  // A cluster's slot moved (MOVED) or is moving (ASK): learn where.
  if (options_.cluster) refresh_topology();
}

void RedisBridge::subscriber_reply(Shard& shard, const RespReply& reply) {
  if (reply.type == RespType::error) {
    // A refused SUBSCRIBE (an ACL without the channel, a slot that moved, ...): which channels it
    // concerned is unknown, so start over on a fresh connection, and say why.
    shard.subscriber.drop("Redis refused a subscription: " + std::string(reply.text));
    return;
  }
  if (reply.type != RespType::array || reply.item(0).type != RespType::bulk) return;
  const std::string_view kind = reply.item(0).text;
  const std::string_view channel = reply.item(1).text;
  if (kind == verbs_.message) {
    deliver(channel, reply.item(2).text);
    return;
  }
  if (kind != verbs_.subscribed && kind != verbs_.unsubscribed) return;
  const auto count = static_cast<std::uint64_t>(reply.item(2).integer);
  bump(channels_confirmed_, count - std::exchange(shard.channels, count));
  if (kind == verbs_.subscribed) {
    if (shard.unconfirmed > 0 && --shard.unconfirmed == 0) check_connected();
    return;
  }
  // In a cluster Redis unsubscribes by itself the channels of a slot that moved away: subscribe
  // them where they are now.
  const auto entry = channels_.find(channel);
  if (options_.cluster && entry != channels_.end() && entry->second.subscribed_on == &shard) {
    entry->second.subscribed_on = nullptr;
    mark_dirty(*entry);
    refresh_topology();
  }
}

void RedisBridge::refresh_topology() {
  if (!topology_ || !topology_->ready()) return;
  if (topology_asked_) {
    topology_stale_ = true;
    return;
  }
  std::vector<std::byte> command;
  append_command(command, {"CLUSTER", "SLOTS"});
  topology_->send(command);
  topology_asked_ = true;
  topology_stale_ = false;
}

void RedisBridge::topology_reply(const RespReply& reply) {
  topology_asked_ = false;
  RespValue tree;
  std::string error;
  std::optional<std::vector<SlotRange>> ranges;
  if (parse_tree(reply.raw, {}, tree).status == RespStatus::complete) {
    ranges = parse_cluster_slots(tree, url_.host, error);
  }
  if (!ranges) {
    if (state() != State::disconnected) set_state(State::disconnected, error);
    return;
  }
  // The shards are the masters now named; those no longer named go, with what they held.
  std::vector<std::unique_ptr<Shard>> kept;
  for (const SlotRange& range : *ranges) {
    const auto found = std::find_if(kept.begin(), kept.end(), [&](const auto& shard) {
      return shard->at(range.host, range.port);
    });
    if (found != kept.end()) continue;
    const auto old = std::find_if(shards_.begin(), shards_.end(), [&](const auto& shard) {
      return shard && shard->at(range.host, range.port);
    });
    if (old != shards_.end()) {
      kept.push_back(std::move(*old));
    } else {
      kept.push_back(make_shard(range.host, range.port));
      kept.back()->open();
    }
  }
  for (auto& gone : shards_) {
    if (!gone) continue;
    lose(gone->unacknowledged, "the cluster no longer names this shard's node");
    mark_unsubscribed(*gone);
    bump(channels_confirmed_, std::uint64_t(0) - gone->channels);
    gone->close();
  }
  shards_ = std::move(kept);
  for (const SlotRange& range : *ranges) {
    Shard* serving = nullptr;
    for (auto& shard : shards_) {
      if (shard->at(range.host, range.port)) serving = shard.get();
    }
    std::fill(slots_.begin() + range.first, slots_.begin() + range.last + 1, serving);
  }
  slots_known_ = true;
  // Channels whose slot changed hands move at the next flush.
  for (auto& entry : channels_) {
    if (entry.second.loops > 0 && entry.second.subscribed_on != shard_for(entry.first)) {
      mark_dirty(entry);
    }
  }
  if (topology_stale_) refresh_topology();
  check_connected();
}

void RedisBridge::deliver(std::string_view channel, std::string_view message) {
  if (!channel.starts_with(options_.channel_prefix)) return;
  const std::string_view topic = channel.substr(options_.channel_prefix.size());
  const Unwrapped unwrapped = unwrap(bytes_of(message), node_);
  switch (unwrapped.origin) {
    case Unwrapped::Origin::this_node:
      bump(own_skipped_);
      return;
    case Unwrapped::Origin::foreign:
      bump(foreign_);
      break;
    case Unwrapped::Origin::other_node:
      break;
  }
  server_->publish_local(topic, unwrapped.payload, unwrapped.opcode);
  bump(received_);
}

void RedisBridge::check_connected() {
  // Connected once every shard is up and every channel held is subscribed: none waits to be
  // sent or confirmed.
  if (state() == State::connected || shards_.empty() || !dirty_.empty()) return;
  if (options_.cluster && !slots_known_) return;
  for (const auto& shard : shards_) {
    if (!shard->ready() || shard->unconfirmed > 0) return;
  }
  if (ever_connected_) bump(reconnects_);
  ever_connected_ = true;
  set_state(State::connected, "");
}

void RedisBridge::set_state(State state, std::string_view reason) {
  state_.store(state, std::memory_order_release);
  if (options_.on_state) options_.on_state(state, reason);
}

}  // namespace fastws::redis::detail
