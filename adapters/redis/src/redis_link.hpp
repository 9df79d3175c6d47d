// One connection to Redis, kept open on an event loop: resolve (off the loop), dial, TLS,
// authenticate, then commands out and replies in; when it breaks or cannot be made, try again
// after a backoff that doubles up to a limit (with jitter, so that the nodes of a deployment do
// not all come back in the same instant), until close().
//
// The owner decides what to send and what the replies mean. The link handles what every
// connection needs: the opening (AUTH when the URL has credentials, then a PING whose answer
// proves Redis serves us: "-NOAUTH", "-WRONGPASS" and protected mode's "-DENIED" come back as
// errors there), a deadline for the whole opening, and liveness: every ping interval it sends a
// PING, and a link that heard nothing for a whole interval with a PING outstanding is dead (a
// peer that vanished without a FIN would otherwise hold it open for ever). Its own PONGs never
// reach the owner.
//
// Threading: the loop thread only, apart from construction. No call blocks: names are resolved
// on the Resolver's thread, sockets are non-blocking, and TLS runs over them (net::TlsStream).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "net/dialer.hpp"
#include "net/event_loop.hpp"
#include "net/resolver.hpp"
#include "net/timer_wheel.hpp"
#include "net/tls_context.hpp"
#include "net/tls_stream.hpp"
#include "net/unique_fd.hpp"
#include "redis_url.hpp"
#include "resp.hpp"

namespace fastws::redis::detail {

class RedisLink;

// What the link tells its owner (on the loop thread).
class LinkOwner {
 public:
  // The link is authenticated and answered: commands may go out.
  virtual void link_ready(RedisLink& which) = 0;
  // A reply after the opening (the link's own PONGs excepted). The reply's strings are valid
  // during the call only.
  virtual void link_reply(RedisLink& which, const RespReply& reply) = 0;
  // The connection ended, or could not be made; the link tries again after its backoff. What
  // was sent and not answered is lost.
  virtual void link_down(RedisLink& which, std::string_view reason) = 0;

 protected:
  ~LinkOwner() = default;
};

struct LinkSettings {
  std::string name;  // for messages: "publisher", "subscriber"
  RedisUrl url;
  const net::TlsContext* tls = nullptr;  // set for rediss://
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds ping_interval{10000};
  std::chrono::milliseconds reconnect_initial_delay{100};
  std::chrono::milliseconds reconnect_max_delay{5000};
  RespLimits limits;
};

class RedisLink final : private net::IoHandler, private net::FlushHandler, private net::TimerNode {
 public:
  RedisLink(net::EventLoop& loop, net::Resolver& resolver, LinkSettings settings, LinkOwner& owner);
  ~RedisLink() override;
  RedisLink(const RedisLink&) = delete;
  RedisLink& operator=(const RedisLink&) = delete;

  // Starts connecting (and keeps the link up until close()).
  void open();
  // Ends the connection and the retries, without telling the owner.
  void close() noexcept;
  // Ends the connection as if it had broken (the owner hears link_down(reason)); the link
  // connects again after its backoff.
  void drop(std::string reason) { fail(std::move(reason)); }

  bool ready() const noexcept { return phase_ == Phase::ready; }
  const std::string& name() const noexcept { return settings_.name; }

  // Commands for Redis, written at the end of the loop's batch (ready links only). The bytes are
  // taken from `commands`, which is left empty (its buffer may be swapped with the link's).
  void send(std::vector<std::byte>& commands);
  // Bytes given to send() that the socket has not taken yet.
  std::size_t backlog() const noexcept { return output_.size() - written_; }

 private:
  enum class Phase : std::uint8_t { idle, waiting, resolving, dialing, tls, opening, ready };

  void on_io(std::uint32_t events) override;
  void on_flush() override;  // writes the output
  void on_timer() override;  // backoff over, opening deadline, or ping

  void connect();
  void connected(net::UniqueFd socket);
  void advance_tls();
  void start_opening();
  void read_input();
  void handle_replies();
  // A reply while the opening's replies are awaited; false when it failed the link.
  bool opening_reply(const RespReply& reply);
  bool is_pong(const RespReply& reply) const noexcept;
  void write_output();
  void watch(bool writable);
  // Ends the connection and schedules the next attempt; tells the owner when it had been ready
  // or when an attempt failed.
  void fail(std::string reason);
  void teardown() noexcept;

  net::EventLoop& loop_;
  net::Resolver& resolver_;
  const LinkSettings settings_;
  LinkOwner& owner_;
  net::Dialer dialer_;
  // Expires with the link: resolutions answered after it are dropped.
  const std::shared_ptr<const int> lifetime_ = std::make_shared<const int>(0);
  std::minstd_rand jitter_{std::random_device{}()};

  Phase phase_ = Phase::idle;
  std::uint64_t attempt_ = 0;       // identifies the current attempt for late resolver answers
  unsigned failures_in_a_row_ = 0;  // for the backoff
  net::UniqueFd socket_;
  std::unique_ptr<net::TlsStream> tls_;
  bool want_writable_ = false;
  net::Revisit revisit_{*this};  // decrypted bytes OpenSSL holds where epoll cannot see them

  std::vector<std::byte> input_;
  std::size_t input_start_ = 0;  // parsed up to here
  std::vector<std::byte> output_;
  std::size_t written_ = 0;

  std::size_t opening_replies_ = 0;  // the opening's replies still awaited
  std::size_t pings_outstanding_ = 0;
  bool heard_since_tick_ = false;
};

}  // namespace fastws::redis::detail
