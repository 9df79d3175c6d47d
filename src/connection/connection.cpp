// Connection life cycle: reading, session events, timers, sends on the loop thread, closing.
// The HTTP phase is in connection_http.cpp, the output path in connection_output.cpp.
#include "connection/connection.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "connection/connection_parts.hpp"
#include "connection/prepared_message.hpp"
#include "connection/user_handler.hpp"
#include "net/socket.hpp"
#include "net/socket_io.hpp"

namespace fastws::detail {

// An idle connection costs this object alone: 184 bytes is a 192-byte block of the allocator
// (uWebSockets' idle connection: 272). Rare state goes to Extras, not here.
static_assert(sizeof(Connection) <= 184, "an idle connection grew past its allocator block");

namespace {

// The stream of a fragmented message built with send_frame (Writers count up from 1).
constexpr std::uint64_t crafted_stream = std::numeric_limits<std::uint64_t>::max();

}  // namespace

// Adapts the session's events to the user's callbacks. One object per batch of input, holding
// one handle for all the callbacks of the batch. The handle borrows the loop's reference rather
// than taking one (an atomic increment and decrement per batch: per message in a ping-pong).
// That reference outlives the batch even if a callback ends the connection: finish() hands it
// to a posted task, which runs only after the loop is back from this event (and loops do not
// nest: external_loop.hpp). A handler that keeps the handle copies it, and the copy takes a
// reference of its own.
class Connection::SessionEvents final : public protocol::SessionHandler {
 public:
  explicit SessionEvents(Connection& connection)
      : connection_(connection),
        conn_(borrow(connection)),
        message_handler_(connection.loop_->endpoint().handlers.message) {}
  SessionEvents(const SessionEvents&) = delete;
  SessionEvents& operator=(const SessionEvents&) = delete;
  ~SessionEvents() {
    if (messages_in_ != 0) {
      LoopStats& stats = connection_.loop_->stats();
      LoopStats::bump(stats.messages_in, messages_in_);
      LoopStats::bump(stats.bytes_in, bytes_in_);
    }
    give_back(conn_);
  }

  // A message (with raw_frames: a frame) was completed in this batch.
  bool completed_message() const noexcept { return completed_message_; }

  void on_message(Opcode opcode, std::span<const std::byte> data) override {
    completed_message_ = true;
    count_in(data.size());
    if (closed() || !message_handler_) return;
    call("on_message", [&] { message_handler_(conn_, Message(opcode, data)); });
  }
  void on_fragment(Opcode opcode, std::span<const std::byte> data, bool first, bool last) override {
    if (last) {
      completed_message_ = true;
      count_in(0);
    }
    LoopStats::bump(connection_.loop_->stats().bytes_in, data.size());
    if (closed() || !handlers().fragment) return;
    call("on_fragment", [&] { handlers().fragment(conn_, opcode, data, first, last); });
  }
  void on_ping(std::span<const std::byte> data) override {
    if (closed() || !handlers().ping) return;
    call("on_ping", [&] { handlers().ping(conn_, data); });
  }
  void on_pong(std::span<const std::byte> data) override {
    // The pong timeout is over: the next ping is due ping_interval from now.
    if (connection_.awaiting_pong_) {
      connection_.awaiting_pong_ = false;
      connection_.arm_phase_timer();
    }
    if (closed() || !handlers().pong) return;
    call("on_pong", [&] { handlers().pong(conn_, data); });
  }
  void on_close(std::uint16_t code, std::string_view reason) override {
    connection_.extras().close_status = CloseStatus{code, std::string(reason), {}};
  }
  void on_error(protocol::ProtocolError error) override {
    CloseStatus status{error.close_code, {}, error.reason};
    // The connection is closing already: a throwing on_error changes nothing.
    if (handlers().error) call_user_handler([&] { handlers().error(conn_, status); });
    connection_.extras().close_status = std::move(status);
  }
  void on_frame(const protocol::FrameHeader& header, std::span<const std::byte> payload) override {
    completed_message_ = true;
    if (closed() || !handlers().frame) return;
    Frame frame;
    frame.fin = header.fin;
    frame.rsv1 = header.rsv1;
    frame.rsv2 = header.rsv2;
    frame.rsv3 = header.rsv3;
    frame.opcode = header.opcode;
    frame.payload.assign(payload.begin(), payload.end());
    call("on_frame", [&] { handlers().frame(conn_, frame); });
  }

 private:
  const ConnectionHandlers& handlers() const { return connection_.loop_->endpoint().handlers; }
  template <class Call>
  void call(std::string_view handler, Call&& handler_call) {
    if (auto thrown = call_user_handler(std::forward<Call>(handler_call))) {
      connection_.handler_threw(handler, *thrown);
    }
  }
  // A callback may close the connection (terminate, slow-consumer policy, an exception) while
  // the rest of the input is still being parsed: nothing more reaches the user then.
  bool closed() const { return connection_.phase_ != Phase::websocket; }
  // Counted here and added to the loop's counters once, when the batch ends: a message costs two
  // additions, not a walk to the counters and two loads and stores.
  void count_in(std::size_t bytes) {
    ++messages_in_;
    bytes_in_ += bytes;
  }

  Connection& connection_;
  Conn conn_;
  // Looked up once per batch, not per message.
  const std::function<void(const Conn&, Message)>& message_handler_;
  std::uint64_t messages_in_ = 0;
  std::uint64_t bytes_in_ = 0;
  bool completed_message_ = false;
};

Connection::Connection(LoopContext& loop, net::UniqueFd fd, const PeerAddress& remote,
                       const PeerAddress& local, std::uint64_t id)
    : loop_(&loop),
      id_(id),
      session_(loop.endpoint().session_config),
      remote_(remote),
      fd_(std::move(fd)),
      local_(local) {
  loop.hold();
}

Connection::~Connection() {
  loop_->let_go();
}

Connection::Extras& Connection::extras() {
  if (!extras_) extras_ = std::make_unique<Extras>(*this);
  return *extras_;
}

std::string_view Connection::subprotocol() const noexcept {
  return extras_ ? std::string_view(extras_->subprotocol) : std::string_view();
}
std::string_view Connection::extensions() const noexcept {
  // A server's answer is the session's (interned); a client's, the server's as it came.
  if (extras_ && !extras_->extensions.empty()) return extras_->extensions;
  return session_.deflate_answer();
}
std::any* Connection::user_data() {
  return &extras().user_data;
}
std::any* Connection::user_data_if_set() const noexcept {
  return extras_ ? &extras_->user_data : nullptr;
}

void Connection::start(const net::TlsContext* tls, std::span<const std::byte> initial) {
  loop_->add_connection(*this);
  if (tls != nullptr) {
    extras().tls = net::TlsStream::accept(*tls, fd_.get());
    if (!extras_->tls) {
      finish({close_code::abnormal, {}, "cannot start a TLS session: out of memory"});
      return;
    }
  }
  if (auto error = register_socket(this->tls() != nullptr)) {
    finish({close_code::abnormal, {}, "cannot register the socket: " + error.message()});
    return;
  }
  arm_phase_timer();
  take_initial_input(initial);
}

void Connection::take_initial_input(std::span<const std::byte> initial) {
  // Hand-over: the bytes another server read are processed as if they came from the socket,
  // through the loop's read buffer (the session unmasks in place), a buffer-full at a time.
  auto buffer = loop_->loop().read_buffer();
  while (!initial.empty() && phase_ != Phase::closed) {
    const std::size_t size = std::min(initial.size(), buffer.size());
    std::memcpy(buffer.data(), initial.data(), size);
    initial = initial.subspan(size);
    process_input(buffer.first(size));
  }
  end_turn();
}

void Connection::start_pending() {
  loop_->add_connection(*this);
  arm_phase_timer();
}

void Connection::start_dialed(net::UniqueFd fd, const PeerAddress& remote, const PeerAddress& local,
                              const net::TlsContext* tls, const std::string& host) {
  fd_ = std::move(fd);
  remote_.set(remote);
  local_ = InternedAddress(local);
  if (auto error = register_socket(tls != nullptr)) {
    fail_opening("cannot register the socket: " + error.message());
    return;
  }
  if (tls == nullptr) {
    loop_->endpoint().opening_ready(*this);
    return;
  }
  std::string error;
  extras().tls = net::TlsStream::connect(*tls, fd_.get(), host, error);
  if (!extras_->tls) {
    fail_opening("cannot start a TLS session: " + error);
    return;
  }
  advance_tls_handshake();  // the client speaks first: the ClientHello leaves now
}

void Connection::open_websocket(protocol::Session session, std::string subprotocol,
                                std::string extensions, std::any user_data,
                                const Request* request) {
  session_ = std::move(session);
  phase_ = Phase::websocket;
  opened_ = true;
  openness_.store(Openness::open, std::memory_order_release);
  LoopStats::bump(loop_->stats().connections);
  std::unique_ptr<OpeningState> opening = extras_ ? std::move(extras_->opening) : nullptr;
  if (extras_ && extras_->unused()) extras_.reset();
  if (!subprotocol.empty() || !extensions.empty() || user_data.has_value()) {
    Extras& state = extras();
    state.subprotocol = std::move(subprotocol);
    state.extensions = std::move(extensions);
    state.user_data = std::move(user_data);
  }
  arm_phase_timer();
  const ConnectionHandlers& handlers = loop_->endpoint().handlers;
  if (handlers.open) {
    std::optional<RequestScope> scope;
    if (request != nullptr) scope.emplace(*loop_, *this, *request);
    if (auto thrown = call_user_handler([&] { handlers.open(handle()); })) {
      handler_threw("on_open", *thrown);
    }
  }
  if (opening) opening->opened(handle());
}

void Connection::fail_opening(std::string error) {
  CloseStatus status{close_code::abnormal, {}, std::move(error)};
  const Endpoint& endpoint = loop_->endpoint();
  OpeningState* opening = opening_state();
  if (endpoint.reports_opening_failures && endpoint.handlers.error &&
      (opening == nullptr || opening->report_failure(status))) {
    call_user_handler([&] { endpoint.handlers.error(handle(), status); });
  }
  finish(status);
}

OpeningState* Connection::opening_state() const noexcept {
  return extras_ ? extras_->opening.get() : nullptr;
}

void Connection::set_opening_state(std::unique_ptr<OpeningState> state) {
  extras().opening = std::move(state);
}

void Connection::watch_end(EndWatch& watch) {
  extras().end_watch = &watch;
}

void Connection::on_io(std::uint32_t events) {
  if (net::TlsStream* secure = tls()) [[unlikely]] {
    if (!secure->established()) {
      if (!advance_tls_handshake()) return;
      events |= EPOLLIN;  // the request may have come with the handshake's last flight
    } else if (secure->needs_writable() && (events & EPOLLOUT)) {
      events |= EPOLLIN;  // a read waited for room to write: retry it
    }
  }
  if (events & EPOLLOUT) on_writable();
  if (phase_ == Phase::closed) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable();
}

std::error_code Connection::register_socket(bool secure) {
  net::EventLoop& loop = loop_->loop();
  if (secure) return loop.add(fd_.get(), EPOLLIN | EPOLLRDHUP, *this);
  loop_receives_ = loop.receives_for_streams();
  return loop.add_stream(fd_.get(), EPOLLIN | EPOLLRDHUP, *this);
}

void Connection::on_received(std::span<std::byte> data) {
  // The turn on_readable() would give a read of these bytes; when input waits here already (or
  // behind the output) they join it instead, and end_turn() stops receiving until it is used.
  if (extras_) extras_->revisit.cancel();
  requests_this_turn_ = 0;
  if (phase_ == Phase::closed) return;
  if (input_waiting() || input_waits_for_output()) {
    hold_input(data);
  } else {
    process_input(data);
  }
  end_turn();
}

void Connection::on_receive_end(std::error_code error) {
  finish_after_input_end(error ? error.message()
                               : "the peer closed the connection without a close frame");
}

void Connection::on_readable() {
  if (extras_) extras_->revisit.cancel();  // this is the turn a revisit would have given
  requests_this_turn_ = 0;
  if (phase_ == Phase::websocket && input_waiting()) {
    // Frames held from an earlier turn make this turn alone: the socket is read in a later one.
    if (!input_waits_for_output()) receive_held_frames();
  } else {
    if (input_waiting()) answer_held_requests();
    if (!input_waiting() && !input_waits_for_output()) read_once();
  }
  end_turn();
}

void Connection::read_once() {
  if (phase_ == Phase::closed) return;
  std::span<std::byte> buffer = loop_->loop().read_buffer();
  // Before the upgrade a read takes one small head's worth: what a turn does not answer of it is
  // copied aside until a later turn, so it is kept small.
  constexpr std::size_t http_read_size = 16 * 1024;
  if (phase_ == Phase::http) buffer = buffer.first(std::min(buffer.size(), http_read_size));
  // Level-triggered: bytes this read leaves in the socket make it ready again, and the next
  // iteration comes back to them after the other connections.
  net::IoResult result = read_input(buffer);
  switch (result.status) {
    case net::IoStatus::done:
      process_input(buffer.first(result.bytes));
      return;
    case net::IoStatus::would_block:
      return;
    case net::IoStatus::end_of_file:
      finish_after_input_end("the peer closed the connection without a close frame");
      return;
    case net::IoStatus::failed:
      finish_after_input_end(result.error->message());
      return;
  }
}

void Connection::end_turn() {
  // The common case: nothing held, nothing waiting to be written, registered for input alone.
  // (A backlog lives in the Extras too.)
  if (!extras_ && !write_interest_ && !reading_paused_ && !receiving_held_) return;
  if (phase_ == Phase::closed) return;
  set_interest(input_waits_for_output());
  if (!reading_paused_ && has_unseen_input()) loop_->loop().revisit(extras().revisit);
}

bool Connection::output_over_limit() const noexcept {
  return backlog_size() > loop_->send_limits().max_buffered_bytes;
}

bool Connection::input_waits_for_output() const noexcept {
  // While closing, input is read to its end whatever the output does; a client always reads
  // (Endpoint::pauses_input_behind_output).
  return (phase_ == Phase::http ||
          (phase_ == Phase::websocket && loop_->endpoint().pauses_input_behind_output)) &&
         backlog_size() > loop_->send_limits().input_pause_bytes;
}

std::size_t Connection::bounded_turn_input_bytes() const noexcept {
  constexpr std::size_t no_bound = std::numeric_limits<std::size_t>::max();
  if (phase_ != Phase::websocket || !loop_->endpoint().pauses_input_behind_output) return no_bound;
  // What the turn's answers join: the backlog, and the answer to a message begun in an earlier
  // turn (its bytes were taken in then, its answer comes with this turn's).
  std::size_t waiting = backlog_size();
  if (session_.receiving_message()) waiting += session_.message_memory();
  return loop_->send_limits().turn_input_bytes(waiting);
}

void Connection::finish_after_input_end(std::string error) {
  // While draining we waited for exactly this: the peer's end after our last bytes.
  if (phase_ == Phase::draining) {
    finish(extras_ ? std::move(extras_->close_status) : CloseStatus{});
    return;
  }
  // A write that failed earlier is the better explanation of why the input ended.
  if (extras_ && !extras_->close_status.error.empty()) error = extras_->close_status.error;
  if (phase_ == Phase::http) {
    fail_opening(std::move(error));
    return;
  }
  finish({close_code::abnormal, {}, std::move(error)});
}

void Connection::process_input(std::span<std::byte> input) {
  switch (phase_) {
    case Phase::http: {
      const std::size_t used = loop_->endpoint().opening_input(*this, input);
      if (phase_ == Phase::websocket && used < input.size()) process_input(input.subspan(used));
      return;
    }
    case Phase::websocket: {
      // Frames held from earlier come first: new bytes (a hand-over's) go behind them.
      if (held_input() != nullptr) {
        hold_input(input);
        return;
      }
      // A turn takes in at least the margin: input within it needs no look at what waits.
      const std::size_t most = input.size() <= loop_->send_limits().turn_margin
                                   ? input.size()
                                   : std::min(input.size(), turn_input_bytes());
      const std::size_t used = receive_frames(input.first(most));
      if (phase_ != Phase::websocket) return;
      // The session inflated its share for this turn, or the turn took in what its answers
      // may fill: the rest gets a later turn, after the other connections ready now (end_turn
      // asks for it).
      if (used < input.size()) hold_input(input.subspan(used));
      track_assembly();
      return;
    }
    case Phase::draining:
    case Phase::closed:
      return;  // after a close or a refusal nothing more is parsed
  }
}

std::size_t Connection::receive_frames(std::span<std::byte> input) {
  // Any input counts as life: push the idle / ping deadline (a single store). The timer was
  // armed, or cancelled for a limit of 0, when the connection opened.
  if (!awaiting_pong_ && session_.state() == protocol::Session::State::open) {
    const std::chrono::milliseconds quiet_limit = loop_->endpoint().settings.quiet_limit();
    if (quiet_limit.count() > 0) loop_->arm_connection_timer(*this, quiet_limit);
  }
  SessionEvents events(*this);
  OutputSink sink(*this);
  const std::size_t used = session_.receive(input, events, sink);
  if (session_.state() == protocol::Session::State::closed) {
    // After a completed close handshake the peer sends nothing more: close as soon as our
    // last bytes are out (RFC 6455 7.1.1: the server closes first). After a protocol error
    // the peer may still be sending: linger, so our close frame is not lost to a reset.
    begin_drain(extras_ && extras_->close_status.error.empty() ? Drain::close_when_flushed
                                                               : Drain::linger);
  } else if (events.completed_message() && on_assembly_watch_) {
    // A message in assembly now is a new one: its time (message_timeout) starts now.
    leave_assembly_watch();
  }
  return used;
}

void Connection::receive_held_frames() {
  // Owned here while the session reads them: a callback that ends the connection (finish()
  // drops held input) must not free them.
  const std::size_t most = turn_input_bytes();
  std::unique_ptr<HeldInput> held = take_held_input();
  const TakenInput taken(*this);
  std::span<std::byte> frames = std::as_writable_bytes(std::span(held->bytes)).subspan(held->start);
  held->start += receive_frames(frames.first(std::min(frames.size(), most)));
  if (phase_ != Phase::websocket) return;
  if (held->start < held->bytes.size()) keep_held_input(std::move(held));
  track_assembly();
}

void Connection::hold_input(std::span<const std::byte> input) {
  std::unique_ptr<HeldInput>& held = extras().held_input;
  if (!held) held = std::make_unique<HeldInput>();
  held->bytes.append(reinterpret_cast<const char*>(input.data()), input.size());
}

std::unique_ptr<Connection::HeldInput> Connection::take_held_input() noexcept {
  return extras_ ? std::move(extras_->held_input) : nullptr;
}

void Connection::keep_held_input(std::unique_ptr<HeldInput> held) {
  extras().held_input = std::move(held);
}

void Connection::track_assembly() {
  // Input held for a later turn is part of a message in assembly (the session stops inside a
  // compressed one), and counts with it: a peer must not hold a read's worth on every
  // connection unseen by the budget.
  if (!session_.receiving_message()) {
    leave_assembly_watch();
    return;
  }
  const HeldInput* held_input = this->held_input();
  const std::size_t held = held_input ? held_input->bytes.capacity() : 0;
  on_assembly_watch_ = true;
  loop_->assembly().update(*this, session_.message_memory() + held);
}

void Connection::leave_assembly_watch() noexcept {
  if (!on_assembly_watch_) return;
  on_assembly_watch_ = false;
  loop_->assembly().forget(*this);
}

void Connection::release_session() {
  leave_assembly_watch();
  session_.abandon();
}

void Connection::arm_phase_timer() {
  const ConnectionSettings& settings = loop_->endpoint().settings;
  std::chrono::milliseconds delay{0};
  switch (phase_) {
    case Phase::http:
      delay = opened_http_request_ ? settings.http_keepalive_timeout : settings.handshake_timeout;
      break;
    case Phase::websocket:
      if (session_.state() != protocol::Session::State::open) {
        delay = settings.close_timeout;
      } else if (awaiting_pong_) {
        delay = settings.pong_timeout;
      } else {
        delay = settings.quiet_limit();
      }
      break;
    case Phase::draining:
      delay = settings.close_timeout;
      break;
    case Phase::closed:
      return;
  }
  if (delay.count() > 0) {
    loop_->arm_connection_timer(*this, delay);
  } else {
    loop_->cancel_connection_timer(*this);
  }
}

void Connection::on_timer() {
  const ConnectionSettings& settings = loop_->endpoint().settings;
  switch (phase_) {
    case Phase::http:
      if (OpeningState* opening = opening_state()) opening->timed_out = true;
      fail_opening(!fd_ && !transport()             ? "connect timeout"
                   : opened_http_request_           ? "HTTP keep-alive timeout"
                   : tls() && !tls()->established() ? "TLS handshake timeout"
                                                    : "handshake timeout");
      return;
    case Phase::websocket:
      if (session_.state() != protocol::Session::State::open) {
        if (last_bytes_still_leaving()) return;
        finish({close_code::abnormal, {}, "close handshake timed out"});
      } else if (awaiting_pong_) {
        finish({close_code::abnormal, {}, "no pong within the pong timeout"});
      } else if (settings.ping_interval.count() > 0) {
        send_ping({});
        awaiting_pong_ = true;
        arm_phase_timer();
      } else {
        send_close(close_code::going_away, "idle timeout");
      }
      return;
    case Phase::draining:
      if (last_bytes_still_leaving()) return;
      finish(extras_ ? std::move(extras_->close_status) : CloseStatus{});
      return;
    case Phase::closed:
      return;
  }
}

std::size_t Connection::output_in_flight() const noexcept {
  return backlog_size() + unsent_output();
}

bool Connection::last_bytes_still_leaving() {
  // The close timeout is for the peer's answer to our last bytes, which it cannot give before it
  // has them: while the output ahead of them (our backlog and the kernel's send queue) keeps
  // shrinking — the peer reads, however slowly — the timeout starts again. A peer that takes
  // nothing in a whole timeout is cut.
  // Reaching zero is progress too: the peer has our last bytes now, and gets a whole timeout to
  // answer them.
  const std::size_t left = output_in_flight();
  if (left >= extras().output_at_close_timer) return false;
  extras_->output_at_close_timer = left;
  arm_phase_timer();
  return true;
}

void Connection::begin_drain(Drain how) {
  if (phase_ == Phase::draining || phase_ == Phase::closed) return;
  phase_ = Phase::draining;
  drain_ = how;
  openness_.store(Openness::closed, std::memory_order_release);
  // No input is parsed from now on: a message in assembly will never be complete.
  release_session();
  if (extras_) extras_->held_input.reset();
  arm_phase_timer();
  update_write_interest();  // input is read again, to its end, if it waited for the output
  flush_cork();
  extras().output_at_close_timer = output_in_flight();
  if (backlog_size() == 0) end_output();
  // Otherwise on_writable() ends the output once the backlog is out.
}

void Connection::end_output() {
  // Bytes the loop still sends for us (io_uring) leave first: on_sent() comes back here.
  if (loop_receives_ && loop_->loop().unsent_stream_bytes(fd_.get()) > 0) return;
  // A transport's unsent bytes would be lost with it (a socket's leave after close()): linger.
  if (drain_ == Drain::close_when_flushed && (fd_ || unsent_output() == 0)) {
    finish(extras_ ? std::move(extras_->close_status) : CloseStatus{});
    return;
  }
  // Closing at once could turn unread input into a reset that destroys the bytes we just sent
  // (RFC 7230 6.6 "lingering close"): send FIN and wait for the peer's, up to close_timeout.
  if (net::TlsStream* secure = tls()) secure->close_notify();
  if (Transport* outside = transport()) {
    outside->shutdown_output();
    return;
  }
  ::shutdown(fd_.get(), SHUT_WR);
}

void Connection::finish(CloseStatus status) {
  if (phase_ == Phase::closed) return;
  if (loop_->cork_owner() == this) flush_cork();
  phase_ = Phase::closed;
  openness_.store(Openness::closed, std::memory_order_release);
  loop_->cancel_connection_timer(*this);
  if (fd_) loop_->loop().remove(fd_.get(), *this);  // a client may fail before it has a socket
  fd_.reset();
  loop_->remove_connection(*this);
  release_session();
  if (extras_) {
    release_topic_places(static_cast<std::uint32_t>(extras_->topics.size()));
    loop_->topics().unsubscribe_all(extras_->topics);
    extras_->tls.reset();        // its memory goes now, not when the last handle does
    extras_->transport.reset();  // closes it: no more events
    if (auto opening = std::move(extras_->opening)) opening->failed(status);
  }
  if (extras_) extras_->held_input.reset();
  if (extras_) extras_->revisit.cancel();
  if (extras_ && extras_->backlog) {
    if (backlog_size() > 0) LoopStats::bump(loop_->stats().backpressured, std::uint64_t(-1));
    extras_->backlog.reset();
  }
  Endpoint& endpoint = loop_->endpoint();
  endpoint.open_connections.fetch_sub(1, std::memory_order_relaxed);
  if (opened_) {
    LoopStats::bump(loop_->stats().connections, std::uint64_t(-1));
    // Nothing is left to close if on_close throws.
    if (endpoint.handlers.close) {
      call_user_handler([&] { endpoint.handlers.close(handle(), status); });
    }
  }
  if (EndWatch* watch = extras_ ? std::exchange(extras_->end_watch, nullptr) : nullptr) {
    watch->ended(status, opened_, extras_->closed_by_application);
  }
  // The loop's own reference goes last, after the current callback chain has unwound: a task
  // holds a handle, and dropping the task (run or not) drops the last loop-side reference.
  loop_->loop().post([keep = handle()] {});
  release();
}

void Connection::terminate(std::uint16_t code, std::string error) {
  finish({code, {}, std::move(error)});
}

SendStatus Connection::close_by_application(std::uint16_t code, std::string_view reason) {
  if (phase_ != Phase::closed) extras().closed_by_application = true;
  return send_close(code, reason);
}

void Connection::terminate_by_application() {
  if (phase_ == Phase::closed) return;
  extras().closed_by_application = true;
  terminate(close_code::abnormal, "terminated by the application");
}

void Connection::handler_threw(std::string_view handler, std::string_view what) {
  std::string error = std::string(handler) + " threw: " + std::string(what);
  switch (phase_) {
    case Phase::http:
      refuse(500, "internal server error");
      extras().close_status.error = std::move(error);
      return;
    case Phase::websocket:
      fail_websocket({close_code::internal_error, "internal error", std::move(error)});
      return;
    case Phase::draining:
    case Phase::closed:
      return;
  }
}

void Connection::fail_websocket(CloseStatus status) {
  if (phase_ != Phase::websocket) return;
  const ConnectionHandlers& handlers = loop_->endpoint().handlers;
  if (handlers.error) call_user_handler([&] { handlers.error(handle(), status); });
  send_close(status.code, status.reason);  // unless a close frame went out already
  extras().close_status = std::move(status);
  // No more input is parsed; the peer gets our FIN after the close frame, so it can close.
  begin_drain(Drain::linger);
}

SendStatus Connection::send_close(std::uint16_t code, std::string_view reason) {
  if (phase_ == Phase::http) {
    finish({code, std::string(reason), "closed before the upgrade"});
    return SendStatus::written;
  }
  if (phase_ != Phase::websocket) return SendStatus::closed;
  OutputSink sink(*this);
  if (!session_.send_close(code, reason, sink)) return SendStatus::closed;
  // Closing: from now on sends report closed, from every thread.
  openness_.store(Openness::closed, std::memory_order_release);
  extras().close_status = CloseStatus{code, std::string(reason), {}};
  extras_->output_at_close_timer = output_in_flight();
  arm_phase_timer();  // now the close timeout
  return status_after_send();
}

SendStatus Connection::send_ping(std::span<const std::byte> payload) {
  if (phase_ != Phase::websocket) return SendStatus::closed;
  OutputSink sink(*this);
  if (!session_.send_ping(payload, sink)) {
    return session_.state() == protocol::Session::State::open ? SendStatus::dropped
                                                              : SendStatus::closed;
  }
  return status_after_send();
}

SendStatus Connection::send_frame(const Frame& frame) {
  if (phase_ != Phase::websocket) return SendStatus::closed;
  if (auto refused = apply_backpressure_limit(frame.payload.size(), Admission::message_start)) {
    return *refused;
  }
  OutputSink sink(*this);
  if (!session_.send_raw(frame, sink)) return SendStatus::closed;
  return status_after_send();
}

SendStatus Connection::send_crafted(const Frame& frame) {
  if (phase_ != Phase::websocket || session_.state() != protocol::Session::State::open) {
    return SendStatus::closed;
  }
  const bool continues = frame.opcode == Opcode::continuation;
  if (auto refused = apply_backpressure_limit(
          frame.payload.size(), continues ? Admission::continuation : Admission::message_start)) {
    return *refused;
  }
  // The frames of a fragmented message share one stream; a whole one waits like any message.
  const std::uint64_t stream = continues || !frame.fin ? crafted_stream : 0;
  if (must_wait(stream)) {
    DeferredSend send;
    send.stream = stream;
    send.crafted = frame;
    return defer(std::move(send));
  }
  return write_crafted(frame);
}

SendStatus Connection::send_message_general(Opcode opcode, std::span<const std::byte> payload) {
  if (phase_ != Phase::websocket || session_.state() != protocol::Session::State::open) {
    return SendStatus::closed;
  }
  if (auto refused = apply_backpressure_limit(payload.size(), Admission::message_start)) {
    return *refused;
  }
  if (must_wait(0)) return defer_copy(opcode, payload);
  return write_message(opcode, payload);
}

SendStatus Connection::send_from_handle_general(Opcode opcode, std::span<const std::byte> payload) {
  if (auto refused = send_gate()) return *refused;
  if (opcode != Opcode::text && opcode != Opcode::binary) return SendStatus::invalid;
  return send_message_general(opcode, payload);
}

SendStatus Connection::defer_copy(Opcode opcode, std::span<const std::byte> payload) {
  return defer({0, opcode, true, {payload.begin(), payload.end()}});
}

SendStatus Connection::send_fragment(std::uint64_t stream, Opcode opcode,
                                     std::span<const std::byte> payload, bool fin,
                                     Admission admission) {
  if (phase_ != Phase::websocket || session_.state() != protocol::Session::State::open) {
    return SendStatus::closed;
  }
  if (auto refused = apply_backpressure_limit(payload.size(), admission)) return *refused;
  if (must_wait(stream)) return defer({stream, opcode, fin, {payload.begin(), payload.end()}});
  return write_fragment(stream, opcode, payload, fin);
}

SendStatus Connection::send_prepared(PreparedMessage& message, const SharedBytes& plain) {
  if (phase_ != Phase::websocket || session_.state() != protocol::Session::State::open) {
    return SendStatus::closed;
  }
  // Which bytes this connection can share: see prepared_message.hpp.
  SharedPayload compressed;
  const protocol::DeflateConfig& deflate_config = loop_->endpoint().deflate_config;
  const std::optional<protocol::DeflateParams> deflate = session_.deflate_params();
  if (deflate && session_.compresses_outgoing() &&
      message.payload().size() >= deflate_config.min_compress_size) {
    if (!deflate->server_no_context_takeover)
      return send_message(message.opcode(), message.payload());
    compressed = message.compressed_frame(deflate->server_max_window_bits, deflate_config);
  }
  const SharedBytes frame = compressed ? SharedBytes::whole(compressed) : plain;
  const std::size_t payload_size = message.payload().size();
  if (auto refused = apply_backpressure_limit(frame.bytes.size(), Admission::message_start)) {
    return *refused;
  }
  if (must_wait(0)) {
    const SharedPayload& whole = compressed ? compressed : message.plain_frame();
    return defer({0, Opcode::binary, true, {}, whole, payload_size});
  }
  return write_prepared(frame, payload_size);
}

void Connection::send_prepared_stretch(std::span<const OutgoingSend> sends,
                                       const PreparedRun& frames, std::size_t first) {
  const std::size_t count = sends.size();
  if (count > 1 && phase_ == Phase::websocket &&
      session_.state() == protocol::Session::State::open && !session_.compresses_outgoing() &&
      !must_wait(0)) {
    // Each would pass the limit alone when all of them pass it together.
    const SharedBytes joined = frames.plain_frames(first, count);
    if (within_limit(joined.bytes.size(), Admission::message_start)) {
      write_prepared(joined, frames.payload_bytes(first, count), count);
      return;
    }
  }
  for (std::size_t i = 0; i < count; ++i) {
    send_prepared(*sends[i].prepared, frames.plain_frame(first + i));
  }
}

SendStatus Connection::defer(DeferredSend send) {
  // Until it leaves it is held like the backlog, so it counts against the limit like the backlog.
  buffered_.fetch_add(send.size(), std::memory_order_relaxed);
  extras().deferred.push_back(std::move(send));
  return SendStatus::queued;
}

void Connection::drain_deferred() {
  if (draining_) return;  // the outer call goes on with the list
  draining_ = true;
  Extras& state = extras();
  // Take, in order, the first waiting send that may go now: anything when no streamed message
  // is open, else the next piece of the open one.
  while (!state.deferred.empty() && phase_ == Phase::websocket) {
    auto chosen = state.deferred.begin();
    if (state.active_stream != 0) {
      chosen = std::find_if(
          state.deferred.begin(), state.deferred.end(),
          [&](const DeferredSend& send) { return send.stream == state.active_stream; });
      if (chosen == state.deferred.end()) break;
    }
    DeferredSend send = std::move(*chosen);
    state.deferred.erase(chosen);
    buffered_.fetch_sub(send.size(), std::memory_order_relaxed);
    if (send.crafted) {
      write_crafted(*send.crafted);
    } else if (send.frame) {
      write_prepared(SharedBytes::whole(send.frame), send.frame_payload_size);
    } else if (send.stream == 0) {
      write_message(send.opcode, send.bytes);
    } else {
      write_fragment(send.stream, send.opcode, send.bytes, send.fin);
    }
  }
  draining_ = false;
}

SendStatus Connection::write_message_framed(Opcode opcode, std::span<const std::byte> payload) {
  OutputSink sink(*this);
  if (!session_.send_message(opcode, payload, sink)) return SendStatus::closed;
  LoopStats::bump(loop_->stats().messages_out);
  LoopStats::bump(loop_->stats().bytes_out, payload.size());
  return status_after_send();
}

SendStatus Connection::write_fragment(std::uint64_t stream, Opcode opcode,
                                      std::span<const std::byte> payload, bool fin) {
  extras().active_stream = fin ? 0 : stream;
  OutputSink sink(*this);
  if (!session_.send_fragment(opcode, payload, fin, sink)) return SendStatus::closed;
  LoopStats::bump(loop_->stats().bytes_out, payload.size());
  if (fin) {
    LoopStats::bump(loop_->stats().messages_out);
    drain_deferred();  // what waited for this message may go now
  }
  return status_after_send();
}

SendStatus Connection::write_crafted(const Frame& frame) {
  const bool continues = frame.opcode == Opcode::continuation;
  if (!continues && !frame.fin) extras().active_stream = crafted_stream;
  OutputSink sink(*this);
  if (!session_.send_raw(frame, sink)) return SendStatus::closed;
  LoopStats::bump(loop_->stats().bytes_out, frame.payload.size());
  if (frame.fin) {
    LoopStats::bump(loop_->stats().messages_out);
    if (continues) {
      extras().active_stream = 0;
      drain_deferred();  // what waited for this message may go now
    }
  }
  return status_after_send();
}

SendStatus Connection::write_prepared(const SharedBytes& frames, std::size_t payload_size,
                                      std::size_t messages) {
  // Straight to the output: the frames are complete and unmasked (server role), and the session
  // has no state to update (they were not compressed with this connection's compressor).
  write_shared(frames);
  LoopStats::bump(loop_->stats().messages_out, messages);
  LoopStats::bump(loop_->stats().bytes_out, payload_size);
  return status_after_send();
}

bool Connection::claim_topic_place() noexcept {
  // Any thread, possibly after the server is gone: only the loop context is used here.
  const std::uint32_t most = loop_->max_topics_per_connection();
  std::uint32_t claimed = topic_places_.load(std::memory_order_relaxed);
  do {
    if (claimed >= most) return false;
  } while (!topic_places_.compare_exchange_weak(claimed, claimed + 1, std::memory_order_relaxed));
  return true;
}

bool Connection::subscribe(std::string_view topic) {
  if (phase_ == Phase::closed) return false;
  TopicRegistry<Connection>& topics = loop_->topics();
  Extras& state = extras();
  if (topics.contains(state.topics, topic)) return true;
  if (!claim_topic_place()) return false;
  topics.subscribe(*this, state.topics, topic);
  return true;
}

void Connection::subscribe_with_place(std::string_view topic) {
  // A member already: the place claimed for it goes back.
  if (!loop_->topics().subscribe(*this, extras().topics, topic)) release_topic_places(1);
}

void Connection::unsubscribe(std::string_view topic) {
  if (extras_ && loop_->topics().unsubscribe(extras_->topics, topic)) release_topic_places(1);
}

void Connection::run_outgoing(OutgoingSend& send) {
  unreserve_queued(send.reserved);
  if (phase_ == Phase::closed) return;
  // Sends from other threads were admitted against the buffer limit when they were queued (and
  // told so: "queued"); they are not judged a second time.
  admitted_ = true;
  run_admitted(send);
  admitted_ = false;
}

void Connection::run_admitted(OutgoingSend& send) {
  using Kind = OutgoingSend::Kind;
  switch (send.kind) {
    case Kind::message:
      send_message(send.opcode, send.bytes);
      break;
    case Kind::shared:
      send_message(send.opcode, *send.shared);
      break;
    case Kind::fragment:
      send_fragment(send.stream, send.opcode, send.bytes, send.fin, send.admission);
      break;
    case Kind::frame:
      send_frame(send.frame);
      break;
    case Kind::crafted:
      send_crafted(send.frame);
      break;
    case Kind::ping:
      send_ping(send.bytes);
      break;
    case Kind::close:
      close_by_application(send.close_code,
                           {reinterpret_cast<const char*>(send.bytes.data()), send.bytes.size()});
      break;
    case Kind::subscribe:
      subscribe_with_place({reinterpret_cast<const char*>(send.bytes.data()), send.bytes.size()});
      break;
    case Kind::unsubscribe:
      unsubscribe({reinterpret_cast<const char*>(send.bytes.data()), send.bytes.size()});
      break;
    case Kind::broadcast:
    case Kind::publish:
      break;  // loop-wide: LoopContext::run_mailbox delivers them
    case Kind::terminate:
      if (limit_closed_.load(std::memory_order_relaxed)) {
        terminate(close_code::policy_violation, "slow consumer: send buffer limit reached");
      } else {
        terminate_by_application();
      }
      break;
  }
}

}  // namespace fastws::detail
