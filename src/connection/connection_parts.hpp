// The pieces of a Connection that exist only while needed, and the sink its session writes to.
#pragma once

#include <sys/epoll.h>

#include <any>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "connection/connection.hpp"
#include "connection/output_backlog.hpp"
#include "connection/topic_registry.hpp"
#include "fastws/close_code.hpp"
#include "fastws/transport.hpp"
#include "net/tls_stream.hpp"
#include "protocol/http_parser.hpp"

namespace fastws::detail {

// A data send waiting for a streamed message (a Writer's, or one built with send_frame) to
// finish. It holds memory like the backlog: its size() counts in Connection::buffered_ while it
// waits.
struct DeferredSend {
  std::uint64_t stream = 0;  // 0: a whole message; otherwise a piece of that streamed message
  Opcode opcode = Opcode::binary;
  bool fin = true;
  std::vector<std::byte> bytes;
  SharedPayload frame;  // set: an already framed message (broadcast), `bytes` unused
  std::size_t frame_payload_size = 0;
  std::optional<Frame> crafted;  // set: a frame from send_frame, sent as crafted; the rest unused

  std::size_t size() const noexcept {
    if (frame) return frame->size();
    return crafted ? crafted->payload.size() : bytes.size();
  }
};

// Input read but not handled yet, copied aside from the loop's read buffer for a later turn.
// Before the upgrade: request bytes, a head still arriving in pieces (the scan remembers where it
// stopped, so that a peer sending one byte at a time costs linear time), or pipelined requests
// waiting for a later turn (this turn's requests were spent, or the output is over its limit);
// only a head in pieces makes the connection read more into it. After it: frames the session
// left when a turn had inflated its share (SessionConfig::inflate_per_receive); the socket is not
// read again until they are used.
struct Connection::HeldInput {
  std::string bytes;
  std::size_t start = 0;          // the bytes before it are handled
  protocol::HeadScanner scanner;  // HTTP: the scan of the head at `start`
  bool head_incomplete = false;   // HTTP: the bytes from `start` on end inside a head
};

// Bytes the kernel did not take yet. Exists only while the peer is slower than we send.
struct Connection::Backlog {
  OutputBacklog queue;
  // Pongs are not queued behind a backlog: only the latest one waits (ping flood defence).
  std::vector<std::byte> pending_pong;
  bool has_pending_pong = false;
  std::size_t published = 0;     // the size last added to Connection::buffered_
  WriteStallWatch::Entry stall;  // on the loop's watch while the backlog exists

  std::size_t size() const noexcept { return queue.size(); }
};

// Rarely used state, allocated on first use so that a plain idle connection does not pay for it.
struct Connection::Extras {
  explicit Extras(Connection& connection) noexcept : revisit(connection) {}
  std::string subprotocol;
  std::string extensions;
  std::any user_data;
  CloseStatus close_status;  // what on_close will report once the socket is closed
  std::uint64_t active_stream = 0;
  std::vector<DeferredSend> deferred;
  TopicRegistry<Connection>::Subscriptions topics;  // left automatically on close
  std::unique_ptr<net::TlsStream> tls;              // wss: the TLS session over the socket
  std::unique_ptr<TransportSide> transport;         // no socket: bytes through a Transport
  std::unique_ptr<OpeningState> opening;            // the side's, until the connection opens
  std::unique_ptr<HeldInput> held_input;            // only while input read waits to be handled
  std::unique_ptr<Backlog> backlog;                 // only while the kernel refuses bytes
  EndWatch* end_watch = nullptr;                    // told when the connection ends
  bool closed_by_application = false;               // Conn::close or Conn::terminate ended it
  std::size_t output_at_close_timer = 0;  // output_in_flight() when the close timer was armed
  net::Revisit revisit;                   // the connection's place on its loop's revisit list

  // Holds nothing that outlives the opening phase: a client's connection then frees it at open,
  // so that an idle dialed connection costs what an accepted one does.
  bool unused() const noexcept {
    return subprotocol.empty() && extensions.empty() && !user_data.has_value() &&
           close_status.code == close_code::no_status && active_stream == 0 && deferred.empty() &&
           topics.empty() && !tls && !transport && !opening && !held_input && !backlog &&
           output_at_close_timer == 0 && !revisit.pending() && end_watch == nullptr &&
           !closed_by_application;
  }
};

// A Transport and the events it sends the connection (readable(), writable(): epoll's part).
class Connection::TransportSide final : public TransportEvents {
 public:
  TransportSide(Connection& connection, std::unique_ptr<Transport> transport) noexcept
      : connection_(connection), transport_(std::move(transport)) {}
  ~TransportSide() { transport_->close(); }
  TransportSide(const TransportSide&) = delete;
  TransportSide& operator=(const TransportSide&) = delete;

  Transport& transport() const noexcept { return *transport_; }
  void readable() override { connection_.on_io(EPOLLIN); }
  void writable() override { connection_.on_io(EPOLLOUT); }

 private:
  Connection& connection_;
  std::unique_ptr<Transport> transport_;
};

// Where the session's frames go: the connection's output path.
class Connection::OutputSink final : public protocol::FrameSink {
 public:
  explicit OutputSink(Connection& connection) noexcept : connection_(connection) {}
  void write_frame(std::span<const std::byte> header, std::span<const std::byte> payload,
                   const MaskKey* mask) override {
    connection_.write_frame(header, payload, mask);
  }

 private:
  Connection& connection_;
};

// Inline: every read, write and end of turn asks these, and for a plain connection between
// messages (no Extras, so no backlog) each is one pointer test.
inline net::TlsStream* Connection::tls() const noexcept {
  return extras_ ? extras_->tls.get() : nullptr;
}

inline Transport* Connection::transport() const noexcept {
  return extras_ && extras_->transport ? &extras_->transport->transport() : nullptr;
}

inline Connection::HeldInput* Connection::held_input() const noexcept {
  return extras_ ? extras_->held_input.get() : nullptr;
}

inline Connection::Backlog* Connection::backlog() const noexcept {
  return extras_ ? extras_->backlog.get() : nullptr;
}

inline std::size_t Connection::backlog_size() const noexcept {
  const Backlog* backlog = this->backlog();
  return backlog != nullptr ? backlog->size() : 0;
}

// RFC 6455 5.4: the data frames of two messages must not interleave. While a streamed message
// (a Writer's, or one built with send_frame) is open, other data waits; and once anything waits,
// everything after it waits too, so that nothing overtakes what was sent before it. The open
// message always ends: its pieces are never dropped (send_limits.hpp), so what waits never
// waits for ever unless the user keeps the message open.
inline bool Connection::must_wait(std::uint64_t stream) const noexcept {
  if (!extras_) return false;
  // The open message's next piece goes first: what waits, waits for that message to end.
  if (extras_->active_stream != 0) return extras_->active_stream != stream;
  return !extras_->deferred.empty();
}

inline bool Connection::input_waiting() const noexcept {
  const HeldInput* held_input = this->held_input();
  if (held_input == nullptr) return false;
  switch (phase_) {
    case Phase::http:
      return !held_input->head_incomplete;
    case Phase::websocket:
      return true;
    case Phase::draining:
    case Phase::closed:
      return false;  // nothing more is parsed
  }
  return false;
}

inline bool Connection::has_unseen_input() const noexcept {
  if (!extras_) return false;  // held input, TLS and a transport all live there
  const net::TlsStream* secure = tls();
  return input_waiting() || (secure != nullptr && secure->has_buffered_input()) ||
         (!fd_ && transport() != nullptr && transport()->has_input());
}

}  // namespace fastws::detail
