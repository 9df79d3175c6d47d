// One server-side connection: the glue between a socket on an event loop and the sans-I/O
// protocol core. It starts as an HTTP connection (plain requests, or the upgrade handshake) and
// becomes a WebSocket connection.
//
// Memory: an idle open WebSocket connection is this object alone (no read buffer: reads go to
// the loop's buffer; no timer allocation: the TimerEntry is embedded; output buffers, reassembly
// and compression state exist only while in use).
//
// Threading: everything except the atomics and the reference count belongs to the loop thread.
// Conn handles (any thread) read the atomics and hand work to the loop through its mailbox.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "connection/crafted_sequence.hpp"
#include "connection/endpoint.hpp"
#include "connection/loop_context.hpp"
#include "connection/send_limits.hpp"
#include "connection/shared_bytes.hpp"
#include "fastws/close_code.hpp"
#include "fastws/conn.hpp"
#include "net/compact_address.hpp"
#include "net/event_loop.hpp"
#include "net/interned_address.hpp"
#include "net/peer_address.hpp"
#include "net/socket_io.hpp"
#include "net/timer_wheel.hpp"
#include "net/unique_fd.hpp"
#include "protocol/session.hpp"

namespace fastws {
class Transport;
}  // namespace fastws

namespace fastws::net {
class TlsContext;
class TlsStream;
}  // namespace fastws::net

namespace fastws::protocol {
class HeadScanner;
}  // namespace fastws::protocol

namespace fastws::detail {

struct DeferredSend;
struct GatheredOutput;
class OutputBacklog;
class PreparedMessage;
class PreparedRun;

class Connection final : public net::TimedStreamHandler {
 public:
  enum class Phase : std::uint8_t {
    http,       // reading request heads (plain HTTP or the upgrade)
    websocket,  // upgraded: frames flow
    draining,   // the last bytes (close frame, rejection) are leaving; then the socket closes
    closed,     // socket closed; only handles keep the object alive
  };

  Connection(LoopContext& loop, net::UniqueFd fd, const PeerAddress& remote,
             const PeerAddress& local, std::uint64_t id);
  ~Connection();

  // Reference counting for Conn handles (any thread). The loop holds one reference while the
  // socket is open.
  void acquire() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // Starts serving: registers the socket and arms the handshake timeout. With `tls` the
  // connection begins with a TLS handshake. `initial` holds request bytes already read by
  // someone else (hand-over).
  void start(const net::TlsContext* tls, std::span<const std::byte> initial = {});
  // Starts serving bytes that come from and go to `transport` instead of a socket (the
  // connection has no fd): as start(), with the transport's events in place of epoll's.
  void start_on(std::unique_ptr<Transport> transport, std::span<const std::byte> initial = {});
  // Starts serving over a TLS session established elsewhere (a TLS hand-over).
  void start(std::unique_ptr<net::TlsStream> established, std::span<const std::byte> initial);

  // --- any thread ---
  Conn handle() noexcept { return Conn(this); }
  static Connection& of(const Conn& conn) noexcept { return *conn.connection_; }
  std::uint64_t id() const noexcept { return id_; }
  bool is_open() const noexcept { return openness() == Openness::open; }
  // Not open yet (the opening phase), open, or closing and closed: what Conn handles see.
  enum class Openness : std::uint8_t { opening, open, closed };
  Openness openness() const noexcept { return openness_.load(std::memory_order_acquire); }
  std::size_t buffered_amount() const noexcept { return buffered_.load(std::memory_order_relaxed); }
  PeerAddress remote() const { return remote_.get(); }
  PeerAddress local() const { return local_.get(); }
  LoopContext& loop() const noexcept { return *loop_; }
  // Accounts bytes queued from another thread against the backpressure limit; false when the
  // limit refuses them (the policy was applied).
  bool reserve_queued(std::size_t bytes, Admission admission) noexcept;
  // What a send would report before doing anything: closed, dropped (after the slow-consumer
  // policy closed the connection) or nothing (go ahead).
  std::optional<SendStatus> send_gate() const noexcept {
    if (limit_closed_.load(std::memory_order_relaxed)) return SendStatus::dropped;
    if (!is_open()) return SendStatus::closed;
    return std::nullopt;
  }
  // The same for Conn::close and Conn::terminate, which also end a connection still opening
  // (a client cancelling its dial).
  std::optional<SendStatus> close_gate() const noexcept;
  void unreserve_queued(std::size_t bytes) noexcept {
    buffered_.fetch_sub(bytes, std::memory_order_relaxed);
  }
  // Takes one of the connection's places in topics (max_topics_per_connection) for a subscribe;
  // false when all are taken. Places are held by the topics it is in and by subscribes queued
  // from other threads, so that the caller of a queued subscribe learns of a refusal at once.
  bool claim_topic_place() noexcept;
  void release_topic_places(std::uint32_t count) noexcept {
    topic_places_.fetch_sub(count, std::memory_order_relaxed);
  }
  // The sequence of the data frames sent with send_frame, checked at each call.
  CraftedSequence& crafted_sequence() noexcept { return crafted_sequence_; }

  // --- loop thread ---
  SendStatus send_message(Opcode opcode, std::span<const std::byte> payload);
  // Conn::send on the loop thread: what the handle checks first (send_gate(), a data opcode),
  // then send_message(), in one call.
  SendStatus send_from_handle(Opcode opcode, std::span<const std::byte> payload);
  SendStatus send_fragment(std::uint64_t stream, Opcode opcode, std::span<const std::byte> payload,
                           bool fin, Admission admission);
  // A frame at once, as crafted (control frames, FrameSequence::unchecked).
  SendStatus send_frame(const Frame& frame);
  // A data frame of a message built with send_frame, its sequence already checked: it waits its
  // turn like a message (a continuation, like a Writer's next piece).
  SendStatus send_crafted(const Frame& frame);
  // A message framed once for many connections (broadcast, publish): the bytes are shared.
  // `plain` holds its uncompressed frame (message.plain_frame(), or its place in a PreparedRun).
  SendStatus send_prepared(PreparedMessage& message, const SharedBytes& plain);
  // Messages first to first + sends.size() - 1 of `frames`' run, none of them this connection's
  // own: as one piece of the joined frames when each alone would leave plain and whole (open,
  // nothing waiting, no compression, all of them under the limit), else one by one. A broadcast
  // to many connections then costs each of them one cork reference per run, not per message.
  void send_prepared_stretch(std::span<const OutgoingSend> sends, const PreparedRun& frames,
                             std::size_t first);
  // False when refused: the connection is closed, or at max_topics_per_connection.
  bool subscribe(std::string_view topic);
  // A subscribe queued from another thread, which claimed its place when it was queued.
  void subscribe_with_place(std::string_view topic);
  void unsubscribe(std::string_view topic);
  SendStatus send_ping(std::span<const std::byte> payload);
  SendStatus send_close(std::uint16_t code, std::string_view reason);
  void terminate(std::uint16_t code, std::string error);
  // Conn::close and Conn::terminate: the application ends the connection (EndWatch is told so).
  SendStatus close_by_application(std::uint16_t code, std::string_view reason);
  void terminate_by_application();
  // The user's `handler` threw `what` (user_handler.hpp): before the upgrade the request gets a
  // 500; after it the peer gets close 1011 and on_error / on_close get the reason. Nothing more
  // of the connection's input reaches the user.
  void handler_threw(std::string_view handler, std::string_view what);
  // The server ends a WebSocket connection for a reason of its own (a handler threw, a
  // server-wide limit): on_error gets `status`, the peer a close frame with its code and reason
  // (unless one went out already), on_close reports it. No more input is parsed.
  void fail_websocket(CloseStatus status);
  void run_outgoing(OutgoingSend& send);
  void run_admitted(OutgoingSend& send);

  // Writes the loop's cork buffer out if it holds this connection's bytes.
  void flush_cork();
  // Bytes on their way to the peer: our backlog and what the kernel holds unacknowledged.
  std::size_t output_in_flight() const noexcept;

  // --- the opening phase (loop thread), driven by the side that opened the connection ---
  // The server's HTTP phase (server/http_phase.cpp): returns the number of bytes used; bytes it
  // does not answer now stay in held input (Extras), unless the connection left the HTTP phase (an
  // upgrade: the rest is WebSocket input; a refusal: the rest is dropped).
  std::size_t process_http(std::span<std::byte> input);
  // A connection whose socket comes later (a client resolving and dialing): on the loop's list,
  // with the handshake timeout running.
  void start_pending();
  // A dialed socket: from now on the connection reads and writes it. With `tls` a client TLS
  // session to `host` starts first; the endpoint's opening_ready() follows when the transport
  // is ready.
  void start_dialed(net::UniqueFd fd, const PeerAddress& remote, const PeerAddress& local,
                    const net::TlsContext* tls, const std::string& host);
  // Bytes before the upgrade (requests, responses): they leave before any frame.
  void write_raw(std::span<const std::byte> bytes);
  // The opening succeeded: the session takes over and on_open runs (with `request` visible
  // through Conn::request() during it, when given).
  void open_websocket(protocol::Session session, std::string subprotocol, std::string extensions,
                      std::any user_data, const Request* request);
  // The opening failed: the socket closes; on_error gets close code 1006 and `error` when the
  // endpoint reports opening failures (a client). on_close does not run, since on_open did not.
  void fail_opening(std::string error);
  // The side's state for the opening phase, dropped when the connection opens or closes.
  OpeningState* opening_state() const noexcept;
  void set_opening_state(std::unique_ptr<OpeningState> state);
  // Told when the connection ends (it must live until then).
  void watch_end(EndWatch& watch);

  std::string_view subprotocol() const noexcept;
  std::string_view extensions() const noexcept;
  std::any* user_data();                        // loop thread: creates the slot
  std::any* user_data_if_set() const noexcept;  // any thread, after on_open
  Phase phase() const noexcept { return phase_; }

 private:
  class SessionEvents;
  class OutputSink;
  class TransportSide;
  struct Extras;
  struct Backlog;
  struct HeldInput;

  // A handle without a reference of its own, for callbacks during which the loop's reference
  // surely lasts (SessionEvents); give_back() empties it before it is destroyed.
  static Conn borrow(Connection& connection) noexcept {
    Conn borrowed;
    borrowed.connection_ = &connection;
    return borrowed;
  }
  static void give_back(Conn& borrowed) noexcept { borrowed.connection_ = nullptr; }

  // How far answering requests got: `used` bytes; the rest ends inside a head, or waits.
  struct AnswerProgress {
    std::size_t used = 0;
    bool head_incomplete = false;
  };

  void on_io(std::uint32_t events) override;
  // io_uring: bytes the loop received for a plain socket (add_stream), and the end of its input.
  void on_received(std::span<std::byte> data) override;
  void on_receive_end(std::error_code error) override;
  // io_uring: the loop sent every byte it took for us (more can be written), or the send failed.
  void on_sent() override;
  void on_send_failed(std::error_code error) override;
  void on_timer() override;
  // Registers the socket: a plain one as a stream (the loop may receive for it), TLS for
  // readiness (OpenSSL reads the socket itself).
  std::error_code register_socket(bool secure);

  // One turn of input (on_readable, or a revisit): requests held from earlier reads, then one
  // read, and at most http_requests_per_turn requests answered; after the upgrade, one read or
  // the frames held from one, inflating at most SessionConfig::inflate_per_receive. So one busy
  // connection cannot hold up the others on its loop; input left over gets a later turn.
  void on_readable();
  void read_once();
  // After a turn: input that epoll cannot see (requests or frames held for a later turn, bytes
  // inside TLS) asks for a revisit; while input_waits_for_output() nothing is read.
  void end_turn();
  bool has_unseen_input() const noexcept;
  // The backlog is over max_buffered_bytes: no pipelined request is answered until it is written
  // out.
  bool output_over_limit() const noexcept;
  // The peer does not take what we send: nothing more of its input is read until the backlog is
  // back under SendLimits::input_pause_bytes, a turn's answers below the limit.
  bool input_waits_for_output() const noexcept;
  // The most of the input a turn takes in (SendLimits::turn_input_bytes): a server's WebSocket
  // input is cut to what its answers may add under the limit; otherwise no bound. Inline for the
  // common case: nothing waits (no Extras, so no backlog; no message begun) and a whole read's
  // answers fit under the limit.
  std::size_t turn_input_bytes() const noexcept {
    if (!extras_ && loop_->send_limits().whole_read_fits && !session_.receiving_message()) {
      return std::numeric_limits<std::size_t>::max();
    }
    return bounded_turn_input_bytes();
  }
  std::size_t bounded_turn_input_bytes() const noexcept;
  void on_writable();
  // The transport: the socket itself, or TLS over it (connection_tls.cpp), or a Transport
  // object when the connection has no socket (connection_transport.cpp).
  net::TlsStream* tls() const noexcept;
  Transport* transport() const noexcept;
  net::IoResult read_transport(std::span<std::byte> buffer);
  net::IoResult write_transport(std::span<const iovec> buffers);
  // Bytes a transport took that have not left yet (the kernel's part, for a socket).
  std::size_t unsent_output() const noexcept;
  // Processes bytes read by someone else as if they came from the socket, then ends the turn.
  void take_initial_input(std::span<const std::byte> initial);
  net::IoResult read_input(std::span<std::byte> buffer);
  net::IoResult write_output(std::span<const iovec> buffers);
  // False when the handshake is not done (yet, or ever: the connection is then finished).
  bool advance_tls_handshake();
  // EPOLLOUT while bytes wait in the backlog or TLS waits for room to write. Reading, paused at
  // the end of a turn while input_waits_for_output(), resumes here once it no longer does.
  void update_write_interest();
  // Registers EPOLLOUT as the output needs it, and EPOLLIN (with EPOLLRDHUP) unless `paused`;
  // input held while paused gets a revisit when reading resumes. Pausing waits for the end of a
  // turn rather than following every append to the backlog: a send costs no extra system call.
  void set_interest(bool paused);
  void finish_after_input_end(std::string error);
  void process_input(std::span<std::byte> input);
  // Frames to the session; returns the bytes it used (fewer: it inflated its share for the turn).
  // The caller holds the rest and then calls track_assembly().
  std::size_t receive_frames(std::span<std::byte> input);
  // The frames held from an earlier turn: what the session uses of them now.
  void receive_held_frames();
  // Copies input aside for a later turn, behind what is held already.
  void hold_input(std::span<const std::byte> input);
  // Input read that waits to be handled (in Extras: a connection holding input also waits for
  // a revisit, which lives there), or null.
  HeldInput* held_input() const noexcept;
  // Takes the held input out (null when none): owned by the caller while the session or the
  // HTTP phase works on it, so that a callback ending the connection cannot free it.
  std::unique_ptr<HeldInput> take_held_input() noexcept;
  // While held input is read outside the connection (answer_held_requests,
  // receive_held_frames), what it does (a reply that fills the backlog changes the socket's
  // interest) must not restart an io_uring receive: the input still waits, and a multishot
  // receive restarted then brings a burst of bytes that must be held too, turn after turn.
  class TakenInput {
   public:
    explicit TakenInput(Connection& connection) noexcept : connection_(connection) {
      connection_.input_taken_ = true;
    }
    ~TakenInput() { connection_.input_taken_ = false; }
    TakenInput(const TakenInput&) = delete;
    TakenInput& operator=(const TakenInput&) = delete;

   private:
    Connection& connection_;
  };
  void keep_held_input(std::unique_ptr<HeldInput> held);
  // Held input ready for a turn: whole requests, or frames (not a head still arriving).
  bool input_waiting() const noexcept;
  // After a turn: a message left in assembly is on the loop's AssemblyWatch, a finished one off.
  void track_assembly();
  void leave_assembly_watch() noexcept;
  // Closing: the message in assembly, the session's buffers and zlib's states go now, not when
  // the last handle does.
  void release_session();
  AnswerProgress answer_requests(std::string_view data, protocol::HeadScanner& scanner);
  void answer_held_requests();
  std::size_t handle_request_head(std::string_view head);
  void upgrade(const Request& request);
  void serve_http(const Request& request);
  void refuse(int status, std::string_view reason);
  void send_refusal(std::string_view response);

  // Output (connection_output.cpp). `header` is a frame header (at most 14 bytes: it must fit the
  // cork); `payload` may be of any size. Pre-framed bytes go as a payload with no header.
  void write_frame(std::span<const std::byte> header, std::span<const std::byte> payload,
                   const MaskKey* mask);
  void append_to_backlog(std::span<const std::byte> header, std::span<const std::byte> payload,
                         const MaskKey* mask);
  // Frames shared with other connections: referenced, not copied, where that is cheaper.
  void write_shared(const SharedBytes& shared);
  // The cork (this connection owns it) and then `extra` leave in one write; the cork is cleared.
  void write_corked(std::span<const std::byte> extra, const SharedPayload* extra_owner);
  void write_gathered(const GatheredOutput& output);
  // `second_owner`, when set, owns `second`: what the kernel refuses of it is referenced.
  void write_to_socket(std::span<const std::byte> first, std::span<const std::byte> second,
                       const SharedPayload* second_owner = nullptr);
  // The bytes a write took (0 when it would block); none when it failed (the socket is shut).
  std::optional<std::size_t> bytes_taken(const net::IoResult& result);
  // A write failed: the peer is gone. Writing stops; reading sees the end and closes.
  void output_failed(const std::error_code& error);
  OutputBacklog& backlog_for_append();
  void append_backlog(std::span<const std::byte> bytes);
  void append_backlog_shared(const SharedBytes& shared);
  void append_backlog_masked(std::span<const std::byte> bytes, const MaskKey& mask);
  // Bytes the kernel refused, waiting (in Extras), or null.
  Backlog* backlog() const noexcept;
  std::size_t backlog_size() const noexcept;
  void publish_buffered() noexcept;
  // Nothing when the send may go; else what it reports (the policy was applied). Inline: every
  // send passes here, and almost every one goes.
  bool within_limit(std::size_t bytes, Admission admission) const noexcept {
    return !limit_closed_.load(std::memory_order_relaxed) &&
           (admitted_ || loop_->send_limits().admits(buffered_.load(std::memory_order_relaxed),
                                                     bytes, admission));
  }
  std::optional<SendStatus> apply_backpressure_limit(std::size_t bytes, Admission admission) {
    if (within_limit(bytes, admission)) return std::nullopt;
    return refuse_over_limit(admission);
  }
  SendStatus refuse_over_limit(Admission admission);
  SendStatus status_after_send() const noexcept;
  bool must_wait(std::uint64_t stream) const noexcept;
  SendStatus defer(DeferredSend send);
  void drain_deferred();
  // The way of most messages (connection_output.cpp): the connection open with nothing waiting,
  // owning the cork with room for the frame, the session sending it as it is without
  // permessage-deflate, a mask key at hand for a client. True when the message may go that way
  // (a client's key taken into `key`); the caller then writes it with cork_message(). Inline and
  // call-free, so that send_message() and send_from_handle() take it without saving a register,
  // and leave the rest whole to the general path: send_message_general(), send_gate() first
  // for a handle.
  bool takes_quick_way(Opcode opcode, std::size_t payload_size, MaskKey& key) const noexcept;
  [[gnu::noinline]] SendStatus send_message_general(Opcode opcode,
                                                    std::span<const std::byte> payload);
  [[gnu::noinline]] SendStatus send_from_handle_general(Opcode opcode,
                                                        std::span<const std::byte> payload);
  // The frame of a whole message into the cork, which this connection owns and which has room for
  // it: the head, then the payload, masked with `key` when the session masks its frames.
  SendStatus cork_message(Opcode opcode, std::span<const std::byte> payload, MaskKey key);
  [[gnu::noinline]] SendStatus cork_message_of_any_size(Opcode opcode,
                                                        std::span<const std::byte> payload,
                                                        MaskKey key);
  // The quick way once this connection has taken the cork from another (the first send of a
  // batch): most often the only thing that kept a send off it. The rest goes to the general path
  // (send_from_handle_general() when `from_handle`, else send_message_general()).
  [[gnu::noinline]] SendStatus send_after_taking_cork(Opcode opcode,
                                                      std::span<const std::byte> payload,
                                                      bool from_handle);
  // cork_message() on the quick way: inline for the usual small payloads.
  SendStatus send_quickly(Opcode opcode, std::span<const std::byte> payload, MaskKey key);
  // The body of send_message() and send_from_handle(), inline in each and call-free on the quick
  // way. They differ only in the general path they fall back on: send_from_handle_general() when
  // `from_handle`, chosen at compile time so that the quick way gains no branch.
  template <bool from_handle>
  SendStatus send_whole_message(Opcode opcode, std::span<const std::byte> payload);
  // A whole message (connection_output.cpp). One the session lets go as it is goes straight into
  // the cork when it fits with nothing waiting in the backlog (no frame sink, no header copy):
  // most messages. The others take the session's general path, write_message_framed().
  SendStatus write_message(Opcode opcode, std::span<const std::byte> payload);
  // The paths few messages take, out of line so that the common one carries none of their setup:
  // a message that waits (a copy of it), and one framed by the session (compressed, too large
  // for the cork, or behind a backlog).
  [[gnu::noinline]] SendStatus defer_copy(Opcode opcode, std::span<const std::byte> payload);
  [[gnu::noinline]] SendStatus write_message_framed(Opcode opcode,
                                                    std::span<const std::byte> payload);
  SendStatus write_fragment(std::uint64_t stream, Opcode opcode, std::span<const std::byte> payload,
                            bool fin);
  SendStatus write_prepared(const SharedBytes& frames, std::size_t payload_size,
                            std::size_t messages = 1);
  SendStatus write_crafted(const Frame& frame);

  void arm_phase_timer();
  // Close timeouts: true (and the timer armed again) while the output ahead of our last bytes
  // is still draining.
  bool last_bytes_still_leaving();
  // How a connection whose last bytes are leaving ends.
  enum class Drain : std::uint8_t {
    linger,              // send FIN, wait for the peer's (or close_timeout), then close
    close_when_flushed,  // close as soon as the output is out
  };
  void begin_drain(Drain how = Drain::linger);
  void end_output();
  void finish(CloseStatus status);
  Extras& extras();

  // Ordered by size so that no padding falls between them: this object is all an idle
  // connection costs (bench/run_idle_memory.sh).
  LoopContext* loop_;
  std::uint64_t id_;
  std::atomic<std::size_t> buffered_{0};  // backlog + bytes queued by other threads
  protocol::Session session_;
  std::unique_ptr<Extras> extras_;  // rarely used state, a backlog's too
  CompactAddress remote_;
  net::UniqueFd fd_;
  InternedAddress local_;
  std::atomic<std::uint32_t> refs_{1};
  std::atomic<std::uint32_t> topic_places_{0};  // claimed: see claim_topic_place()
  std::atomic<Openness> openness_{Openness::opening};
  std::atomic<bool> limit_closed_{false};  // closed by the slow-consumer policy: drop sends
  CraftedSequence crafted_sequence_;
  Phase phase_ = Phase::http;
  Drain drain_ = Drain::linger;
  std::uint8_t requests_this_turn_ = 0;  // plain-HTTP requests answered in this input turn
  // Loop thread only, so two bytes of bits serve them all.
  bool opened_ : 1 = false;               // on_open ran: on_close is owed
  bool admitted_ : 1 = false;             // running a send another thread queued (already admitted)
  bool draining_ : 1 = false;             // drain_deferred() is running
  bool write_interest_ : 1 = false;       // EPOLLOUT registered
  bool reading_paused_ : 1 = false;       // EPOLLIN not registered: input_waits_for_output()
  bool loop_receives_ : 1 = false;        // io_uring receives and sends for this socket
  bool receiving_held_ : 1 = false;       // ... and stopped while input waits here
  bool opened_http_request_ : 1 = false;  // served a plain HTTP request: keep-alive timing applies
  bool awaiting_pong_ : 1 = false;
  // Held input taken out to be read (TakenInput): it still waits here.
  bool input_taken_ : 1 = false;
  // A message was left in assembly after a read: the loop's AssemblyWatch may hold an entry for
  // it (it may have dropped it when it closed the connection for the budget).
  bool on_assembly_watch_ : 1 = false;
};

}  // namespace fastws::detail
