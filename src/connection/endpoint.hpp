// What a connection needs from the side that opened it, a server or a client: the user's
// callbacks, the limits and timeouts, the session and compression settings, the count of open
// connections, and the opening phase. A connection reaches it through its loop context; it
// knows nothing else of who opened it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "fastws/conn.hpp"
#include "fastws/frame.hpp"
#include "fastws/options.hpp"
#include "net/event_loops.hpp"
#include "protocol/permessage_deflate.hpp"
#include "protocol/session.hpp"

namespace fastws::detail {

// The user's callbacks for open connections. Set before the loops run; read-only after.
struct ConnectionHandlers {
  std::function<void(const Conn&)> open;
  std::function<void(const Conn&, Message)> message;
  std::function<void(const Conn&, Opcode, std::span<const std::byte>, bool, bool)> fragment;
  std::function<void(const Conn&, std::span<const std::byte>)> ping;
  std::function<void(const Conn&, std::span<const std::byte>)> pong;
  std::function<void(const Conn&, const CloseStatus&)> close;
  std::function<void(const Conn&, const CloseStatus&)> error;
  std::function<void(const Conn&, const Frame&)> frame;
  std::function<void(const Conn&)> drain;
};

// Limits and timeouts every connection obeys, copied from the side's public options (a zero
// timeout disables it; see ServerOptions for what each one does).
struct ConnectionSettings {
  std::size_t max_header_size = 0;  // the HTTP head read before the upgrade
  std::size_t max_buffered_bytes = 0;
  std::size_t max_topics_per_connection = 0;  // topics are published by servers only
  // Bytes of messages in assembly over all of the side's connections (AssemblyWatch).
  std::size_t max_assembly_bytes = SIZE_MAX;
  SlowConsumerPolicy slow_consumer = SlowConsumerPolicy::drop;
  std::chrono::milliseconds handshake_timeout{0};
  std::chrono::milliseconds idle_timeout{0};
  std::chrono::milliseconds ping_interval{0};
  std::chrono::milliseconds pong_timeout{0};
  std::chrono::milliseconds close_timeout{0};
  std::chrono::milliseconds write_timeout{0};
  std::chrono::milliseconds http_keepalive_timeout{0};
  std::chrono::milliseconds message_timeout{0};  // a message begun must be finished within it

  // How long an open connection may stay silent before we ping it (or, with no pings, close it
  // as idle); 0: forever.
  std::chrono::milliseconds quiet_limit() const noexcept {
    return ping_interval.count() > 0 ? ping_interval : idle_timeout;
  }
};

class Connection;
class LoopContext;

// Lets go of a side's loop context instead of deleting it: Conn handles of its connections may
// outlive the side (LoopContext::detach()).
struct DetachLoop {
  void operator()(LoopContext* loop) const noexcept;
};
using LoopContextPtr = std::unique_ptr<LoopContext, DetachLoop>;

// What one side keeps about a connection in its opening phase (a client's handshake state).
// The connection tells it how the opening ended.
struct OpeningState {
  virtual ~OpeningState() = default;
  virtual void opened(const Conn&) {}         // after on_open
  virtual void failed(const CloseStatus&) {}  // closed before it opened
  // Before on_error hears that the opening failed: false keeps it quiet (a client that will
  // try again); the error may be added to.
  virtual bool report_failure(CloseStatus&) { return true; }
  bool timed_out = false;  // the handshake timeout ended the opening
};

// Told when a connection ends, opened or not, after the callbacks that report it (a client's
// reconnection follows its connections so).
class EndWatch {
 public:
  // `opened`: on_open ran. `by_application`: Conn::close or Conn::terminate ended it.
  virtual void ended(const CloseStatus& status, bool opened, bool by_application) = 0;

 protected:
  ~EndWatch() = default;
};

// The side that opened a connection: a server (accepted) or a client (dialed). The opening
// phase, before the WebSocket session, is the side's own.
struct Endpoint {
  virtual ~Endpoint() = default;

  // Input in the opening phase; returns the bytes used. Whatever follows an upgrade in the
  // same input is passed to the session.
  virtual std::size_t opening_input(Connection& connection, std::span<std::byte> input) = 0;
  // The transport is ready for the opening (connected, TLS established): a client sends its
  // request now.
  virtual void opening_ready(Connection&) {}
  // The side shuts down on this loop (LoopContext::begin_shutdown): it ends what it keeps there
  // besides connections (a client's reconnections waiting for their time).
  virtual void shutting_down(LoopContext&) {}

  // Makes `count` event loops of the side's own and its context on each (throws
  // std::system_error when a loop cannot be made).
  void make_loops(unsigned count, IoBackend backend);
  // Puts the side on the loops of `host` (a server, which runs them): a context of its own on
  // each, a guest of the host's.
  void share_loops(Endpoint& host);

  ConnectionHandlers handlers;
  // A client hears through on_error why a connection it asked for never opened; a server's
  // failed openings (timeouts, bad requests) are its peers' business.
  bool reports_opening_failures = false;
  // A server stops reading a WebSocket connection whose output nears max_buffered_bytes, and
  // cuts its turns to what their answers may add under it (SendLimits::input_pause_bytes), so
  // that a peer which sends without reading pushes back on itself. A client keeps reading:
  // were both sides to wait for the other to read, two fastws peers sending large messages to
  // each other would deadlock until a write timeout.
  bool pauses_input_behind_output = true;
  ConnectionSettings settings;
  protocol::SessionConfig session_config;  // shared by every connection's session
  protocol::DeflateConfig deflate_config;
  std::atomic<std::uint64_t> open_connections{0};
  std::atomic<std::uint64_t> next_connection_id{1};
  // Bytes of messages in assembly on every loop, against settings.max_assembly_bytes.
  std::atomic<std::size_t> assembly_bytes{0};
  // The loops (the side's own, or the host's it shares) and the side's context on each, in
  // the same order. Contexts are detached, not deleted, when the side goes (DetachLoop).
  std::shared_ptr<net::EventLoops> event_loops;
  std::vector<LoopContextPtr> loops;
};

// The settings both sides' public options (ServerOptions, ClientOptions) name alike; what only
// one side has, the side adds.
template <class Options>
ConnectionSettings common_settings_from(const Options& options) {
  ConnectionSettings settings;
  settings.max_header_size = options.max_header_size;
  settings.max_buffered_bytes = options.max_buffered_bytes;
  settings.slow_consumer = options.slow_consumer;
  settings.handshake_timeout = options.handshake_timeout;
  settings.idle_timeout = options.idle_timeout;
  settings.ping_interval = options.ping_interval;
  settings.pong_timeout = options.pong_timeout;
  settings.close_timeout = options.close_timeout;
  settings.write_timeout = options.write_timeout;
  settings.max_assembly_bytes = options.max_assembly_bytes;
  settings.message_timeout = options.message_timeout;
  return settings;
}

// The protocol core's deflate settings from the public options (either side).
protocol::DeflateConfig deflate_config_from(const CompressionOptions& options);

}  // namespace fastws::detail
