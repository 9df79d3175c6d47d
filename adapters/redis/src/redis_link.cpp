#include "redis_link.hpp"

#include <sys/epoll.h>
#include <sys/uio.h>

#include <algorithm>
#include <utility>

#include "net/socket.hpp"
#include "net/socket_io.hpp"

namespace fastws::redis::detail {

namespace {

// What one read asks for at least: a batch of pushes arrives in a few reads, not many.
constexpr std::size_t read_size = 64 * 1024;

std::string milliseconds(std::chrono::milliseconds time) {
  return std::to_string(time.count()) + " ms";
}

}  // namespace

RedisLink::RedisLink(net::EventLoop& loop, net::Resolver& resolver, LinkSettings settings,
                     LinkOwner& owner)
    : loop_(loop),
      resolver_(resolver),
      settings_(std::move(settings)),
      owner_(owner),
      dialer_(loop) {}

RedisLink::~RedisLink() {
  close();
}

void RedisLink::open() {
  if (phase_ == Phase::idle) connect();
}

void RedisLink::close() noexcept {
  teardown();
  loop_.cancel_timer(*this);
  phase_ = Phase::idle;
}

void RedisLink::connect() {
  phase_ = Phase::resolving;
  const std::uint64_t attempt = ++attempt_;
  loop_.arm_timer(*this, settings_.connect_timeout);  // the whole opening
  // The answer comes on the resolver's thread (at once for an IP address): back to the loop,
  // where this attempt may have ended meanwhile, or the link may be gone (a cluster shard that
  // was dropped; `alive` is checked on the loop thread, where links are destroyed).
  resolver_.resolve(
      settings_.url.host, settings_.url.port, net::AddressFamily::any,
      [this, attempt, &loop = loop_, alive = std::weak_ptr<const int>(lifetime_)](
          std::error_code error, std::vector<net::SocketAddress> addresses) {
        loop.post([this, attempt, alive, error, addresses = std::move(addresses)]() mutable {
          if (alive.expired() || attempt != attempt_ || phase_ != Phase::resolving) return;
          if (error) {
            fail("cannot resolve " + settings_.url.host + ": " + error.message());
            return;
          }
          phase_ = Phase::dialing;
          dialer_.dial(
              std::move(addresses), settings_.connect_timeout, [this](net::Dialer::Result result) {
                if (!result.socket) {
                  fail("cannot connect to " + settings_.url.describe() + ": " + result.message);
                  return;
                }
                connected(std::move(result.socket));
              });
        });
      });
}

void RedisLink::connected(net::UniqueFd socket) {
  socket_ = std::move(socket);
  net::set_tcp_nodelay(socket_.get());
  if (const auto error = loop_.add(socket_.get(), EPOLLIN | EPOLLRDHUP, *this)) {
    fail("cannot watch the socket: " + error.message());
    return;
  }
  if (settings_.tls == nullptr) {
    start_opening();
    return;
  }
  std::string error;
  tls_ = net::TlsStream::connect(*settings_.tls, socket_.get(), settings_.url.host, error);
  if (!tls_) {
    fail("TLS to " + settings_.url.describe() + ": " + error);
    return;
  }
  phase_ = Phase::tls;
  advance_tls();
}

void RedisLink::advance_tls() {
  std::string error;
  switch (tls_->handshake(error)) {
    case net::TlsStream::Handshake::done:
      watch(false);
      start_opening();
      return;
    case net::TlsStream::Handshake::in_progress:
      watch(tls_->needs_writable());
      return;
    case net::TlsStream::Handshake::failed:
      fail("the TLS handshake with " + settings_.url.describe() + " failed: " + error);
      return;
  }
}

void RedisLink::start_opening() {
  phase_ = Phase::opening;
  const RedisUrl& url = settings_.url;
  if (url.has_password) {
    if (url.user.empty()) {
      append_command(output_, {"AUTH", url.password});
    } else {
      append_command(output_, {"AUTH", url.user, url.password});
    }
    ++opening_replies_;
  }
  append_command(output_, {"PING"});
  ++opening_replies_;
  loop_.defer_flush(*this);
}

void RedisLink::send(std::vector<std::byte>& commands) {
  if (phase_ != Phase::ready || commands.empty()) {
    commands.clear();
    return;
  }
  if (backlog() == 0) {
    output_.clear();
    written_ = 0;
    output_.swap(commands);
  } else {
    // Written bytes go once they are half of the buffer: each byte moves at most once more.
    if (written_ >= output_.size() / 2) {
      output_.erase(output_.begin(), output_.begin() + static_cast<std::ptrdiff_t>(written_));
      written_ = 0;
    }
    output_.insert(output_.end(), commands.begin(), commands.end());
  }
  commands.clear();
  loop_.defer_flush(*this);
}

void RedisLink::on_io(std::uint32_t events) {
  if (phase_ == Phase::tls) {
    advance_tls();
    return;
  }
  if ((events & EPOLLOUT) != 0) {
    write_output();
    if (!socket_) return;
  }
  if ((events & ~static_cast<std::uint32_t>(EPOLLOUT)) != 0) read_input();
}

void RedisLink::on_flush() {
  if (phase_ == Phase::opening || phase_ == Phase::ready) write_output();
}

void RedisLink::on_timer() {
  switch (phase_) {
    case Phase::idle:
      return;
    case Phase::waiting:
      connect();
      return;
    case Phase::ready:
      if (pings_outstanding_ > 0 && !heard_since_tick_) {
        fail("Redis did not answer a PING for " + milliseconds(settings_.ping_interval));
        return;
      }
      // A whole interval up: the next failure starts the backoff over. (Not at once when ready:
      // a link Redis accepts and then refuses, an ACL without the channels, would retry at the
      // shortest delay for ever.)
      failures_in_a_row_ = 0;
      heard_since_tick_ = false;
      if (pings_outstanding_ == 0) {
        append_command(output_, {"PING"});
        ++pings_outstanding_;
        loop_.defer_flush(*this);
      }
      loop_.arm_timer(*this, settings_.ping_interval);
      return;
    default:
      fail("no answer from " + settings_.url.describe() + " within " +
           milliseconds(settings_.connect_timeout));
      return;
  }
}

void RedisLink::read_input() {
  // Room for one more read, keeping what is not parsed yet at the front.
  if (input_start_ > 0) {
    input_.erase(input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(input_start_));
    input_start_ = 0;
  }
  const std::size_t kept = input_.size();
  input_.resize(kept + std::max(read_size, kept));
  const std::span<std::byte> room(input_.data() + kept, input_.size() - kept);
  const net::IoResult result = tls_ ? tls_->read(room) : net::read_some(socket_.get(), room);
  input_.resize(kept + (result.status == net::IoStatus::done ? result.bytes : 0));
  switch (result.status) {
    case net::IoStatus::done:
      break;
    case net::IoStatus::would_block:
      if (tls_ && tls_->needs_writable()) watch(true);
      return;
    case net::IoStatus::end_of_file:
      fail(settings_.url.describe() + " closed the connection");
      return;
    case net::IoStatus::failed:
      fail("the connection to " + settings_.url.describe() + " failed: " + result.error->message());
      return;
  }
  handle_replies();
  if (socket_ && tls_ && tls_->has_buffered_input()) loop_.revisit(revisit_);
}

void RedisLink::handle_replies() {
  RespReply reply;
  while (input_start_ < input_.size()) {
    const std::span<const std::byte> unread(input_.data() + input_start_,
                                            input_.size() - input_start_);
    const RespParse parsed = parse_reply(unread, settings_.limits, reply);
    if (parsed.status == RespStatus::incomplete) break;
    if (parsed.status == RespStatus::invalid) {
      fail(std::string("Redis sent what is not RESP2: ") + parsed.error);
      return;
    }
    input_start_ += parsed.consumed;
    heard_since_tick_ = true;
    if (phase_ == Phase::opening) {
      if (!opening_reply(reply)) return;
      continue;
    }
    if (pings_outstanding_ > 0 && is_pong(reply)) {
      --pings_outstanding_;
      continue;
    }
    owner_.link_reply(*this, reply);
    if (phase_ != Phase::ready) return;  // the owner closed the link
  }
  if (input_start_ == input_.size()) {
    input_.clear();
    input_start_ = 0;
  }
}

bool RedisLink::opening_reply(const RespReply& reply) {
  if (reply.type == RespType::error) {
    const bool auth = settings_.url.has_password && opening_replies_ == 2;
    fail(std::string("Redis refused ") + (auth ? "AUTH" : "PING") + ": " + std::string(reply.text));
    return false;
  }
  if (--opening_replies_ > 0) return true;
  phase_ = Phase::ready;
  heard_since_tick_ = false;
  loop_.arm_timer(*this, settings_.ping_interval);
  owner_.link_ready(*this);
  return phase_ == Phase::ready;
}

bool RedisLink::is_pong(const RespReply& reply) const noexcept {
  // "+PONG", or ["pong", ""] on a connection in subscribed mode.
  if (reply.type == RespType::simple) return reply.text == "PONG";
  return reply.type == RespType::array && reply.item(0).type == RespType::bulk &&
         reply.item(0).text == "pong";
}

void RedisLink::write_output() {
  if (!socket_ || backlog() == 0) return;
  const iovec buffer{output_.data() + written_, backlog()};
  const net::IoResult result =
      tls_ ? tls_->write({&buffer, 1}) : net::write_vectored(socket_.get(), {&buffer, 1});
  if (result.status == net::IoStatus::failed) {
    fail("the connection to " + settings_.url.describe() + " failed: " + result.error->message());
    return;
  }
  written_ += result.bytes;
  if (written_ == output_.size()) {
    output_.clear();
    written_ = 0;
  }
  watch(backlog() > 0);
}

void RedisLink::watch(bool writable) {
  if (writable == want_writable_ || !socket_) return;
  want_writable_ = writable;
  const std::uint32_t events = EPOLLIN | EPOLLRDHUP | (writable ? EPOLLOUT : 0u);
  if (const auto error = loop_.modify(socket_.get(), events, *this)) {
    fail("cannot watch the socket: " + error.message());
  }
}

void RedisLink::fail(std::string reason) {
  teardown();
  phase_ = Phase::waiting;
  // Doubling from the initial delay up to the limit, then a random point in its upper half.
  failures_in_a_row_ = std::min(failures_in_a_row_ + 1, 30u);
  auto delay = settings_.reconnect_initial_delay;
  for (unsigned i = 1; i < failures_in_a_row_ && delay < settings_.reconnect_max_delay; ++i) {
    delay *= 2;
  }
  delay = std::min(delay, settings_.reconnect_max_delay);
  const auto half = delay.count() / 2;
  delay = std::chrono::milliseconds(
      half + std::uniform_int_distribution<std::int64_t>(0, delay.count() - half)(jitter_));
  loop_.arm_timer(*this, delay);
  owner_.link_down(*this, reason);
}

void RedisLink::teardown() noexcept {
  ++attempt_;  // a resolution still under way is for an attempt that is over
  dialer_.cancel();
  revisit_.cancel();
  loop_.cancel_flush(*this);
  if (socket_) loop_.remove(socket_.get(), *this);
  tls_.reset();
  socket_.reset();
  want_writable_ = false;
  input_.clear();
  input_start_ = 0;
  output_.clear();
  written_ = 0;
  opening_replies_ = 0;
  pings_outstanding_ = 0;
}

}  // namespace fastws::redis::detail
