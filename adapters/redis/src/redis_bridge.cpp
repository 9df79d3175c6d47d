#include "redis_bridge.hpp"

#include <stdexcept>
#include <system_error>
#include <utility>

#include "resp.hpp"

namespace fastws::redis::detail {

namespace {

// Channels per SUBSCRIBE / UNSUBSCRIBE command: a node that holds many topics restores them in
// a few commands, none of them huge.
constexpr std::size_t channels_per_command = 1024;

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
      loop_(make_loop()),
      publisher_(*loop_, resolver_, link_settings("publisher", url_, tls_.get(), options_), *this),
      subscriber_(*loop_, resolver_, link_settings("subscriber", url_, tls_.get(), options_),
                  *this) {}

RedisBridge::~RedisBridge() {
  server_closing();
}

void RedisBridge::start() {
  loop_->post([this] {
    publisher_.open();
    subscriber_.open();
  });
  thread_ = std::thread([this] { loop_->run(); });
}

void RedisBridge::server_closing() noexcept {
  if (!thread_.joinable()) return;
  loop_->stop();
  thread_.join();
  // The loop is still; its tasks will never run. Close the sockets from here.
  publisher_.close();
  subscriber_.close();
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
  std::vector<Channels::value_type*> subscribe;
  std::vector<Channels::value_type*> unsubscribe;
  const bool ready = subscriber_.ready();
  for (Channels::value_type* entry : dirty_) {
    Channel& channel = entry->second;
    channel.dirty = false;
    if (!ready) continue;  // everything held is subscribed again once connected
    if (channel.loops > 0 && !channel.subscribed) subscribe.push_back(entry);
    if (channel.loops == 0 && channel.subscribed) unsubscribe.push_back(entry);
  }
  append_channel_command("SUBSCRIBE", subscribe);
  append_channel_command("UNSUBSCRIBE", unsubscribe);
  for (Channels::value_type* entry : subscribe) entry->second.subscribed = true;
  for (Channels::value_type* entry : unsubscribe) entry->second.subscribed = false;
  unconfirmed_ += subscribe.size();
  for (Channels::value_type* entry : dirty_) {
    if (entry->second.loops == 0 && !entry->second.subscribed) channels_.erase(entry->first);
  }
  dirty_.clear();
  subscriber_.send(commands_);
  check_connected();
}

void RedisBridge::append_channel_command(std::string_view verb,
                                         std::span<Channels::value_type* const> which) {
  while (!which.empty()) {
    const auto chunk = which.first(std::min(which.size(), channels_per_command));
    which = which.subspan(chunk.size());
    append_array_header(commands_, chunk.size() + 1);
    append_bulk(commands_, verb);
    for (const Channels::value_type* entry : chunk) append_bulk(commands_, entry->first);
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
      append_array_header(outbox_, 3);
      append_bulk(outbox_, "PUBLISH");
      append_bulk_header(outbox_, options_.channel_prefix.size() + topic.size());
      append_raw(outbox_, options_.channel_prefix);
      append_raw(outbox_, topic);
      append_crlf(outbox_);
      append_bulk_header(outbox_, header.size() + data.size());
      append_raw(outbox_, header);
      append_raw(outbox_, data);
      append_crlf(outbox_);
      ++outbox_messages_;
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
    messages = std::exchange(outbox_messages_, 0);
    refused = std::exchange(outbox_refused_, 0);
    drain_posted_ = false;
  }
  if (refused > 0) lose(refused, "more than max_pending_bytes of publishes waited for Redis");
  if (messages == 0) return;
  if (!publisher_.ready()) {
    draining_.clear();
    lose(messages, publisher_down_reason_);
    return;
  }
  if (publisher_.backlog() > options_.max_pending_bytes) {
    draining_.clear();
    lose(messages, "Redis takes publishes slower than they come: max_pending_bytes are waiting");
    return;
  }
  unacknowledged_ += messages;
  publisher_.send(draining_);
}

void RedisBridge::lose(std::uint64_t count, std::string_view reason) {
  if (count == 0) return;
  bump(lost_, count);
  if (options_.on_lost) options_.on_lost(count, reason);
}

// --- the connections ---

void RedisBridge::link_ready(RedisLink& which) {
  if (&which == &subscriber_) {
    // Subscribe again to every channel held; the flush at the end of this batch sends them.
    for (auto& entry : channels_) {
      if (entry.second.loops > 0) mark_dirty(entry);
    }
  }
  check_connected();  // when there is nothing to subscribe to; else after the flush
}

void RedisBridge::link_down(RedisLink& which, std::string_view reason) {
  if (&which == &publisher_) {
    publisher_down_reason_ = "no connection to Redis: " + std::string(reason);
    lose(std::exchange(unacknowledged_, 0),
         "the connection to Redis ended before Redis acknowledged them: " + std::string(reason));
  } else {
    // Redis forgot this connection's channels: nothing is subscribed any more.
    for (Channels::value_type* entry : dirty_) entry->second.dirty = false;
    dirty_.clear();
    std::erase_if(channels_, [](const auto& entry) { return entry.second.loops == 0; });
    for (auto& entry : channels_) entry.second.subscribed = false;
    unconfirmed_ = 0;
    channels_confirmed_.store(0, std::memory_order_relaxed);
  }
  if (state() != State::disconnected) set_state(State::disconnected, reason);
}

void RedisBridge::link_reply(RedisLink& which, const RespReply& reply) {
  if (&which == &publisher_) {
    publisher_reply(reply);
  } else {
    subscriber_reply(reply);
  }
}

void RedisBridge::publisher_reply(const RespReply& reply) {
  if (unacknowledged_ == 0) return;  // nothing but PUBLISH goes out: cannot happen
  --unacknowledged_;
  if (reply.type == RespType::error) {
    lose(1, "Redis refused a PUBLISH: " + std::string(reply.text));
  } else {
    bump(published_);
  }
}

void RedisBridge::subscriber_reply(const RespReply& reply) {
  if (reply.type == RespType::error) {
    // A refused SUBSCRIBE (an ACL without the channel, ...): which channels it concerned is
    // unknown, so start over on a fresh connection, and say why.
    subscriber_.drop("Redis refused a subscription: " + std::string(reply.text));
    return;
  }
  if (reply.type != RespType::array || reply.item(0).type != RespType::bulk) return;
  const std::string_view kind = reply.item(0).text;
  if (kind == "message") {
    deliver(reply.item(1).text, reply.item(2).text);
  } else if (kind == "subscribe" || kind == "unsubscribe") {
    channels_confirmed_.store(static_cast<std::uint64_t>(reply.item(2).integer),
                              std::memory_order_relaxed);
    if (kind == "subscribe" && unconfirmed_ > 0 && --unconfirmed_ == 0) check_connected();
  }
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
  // Connected once every channel held is subscribed: none waits to be sent or confirmed.
  if (state() == State::connected || !publisher_.ready() || !subscriber_.ready() ||
      !dirty_.empty() || unconfirmed_ > 0) {
    return;
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
