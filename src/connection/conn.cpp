// Conn and Writer: thread-safe handles. On the connection's loop thread a call acts at once;
// from any other thread it is checked against the connection's atomics and queued to the loop.
#include "fastws/conn.hpp"

#include <atomic>
#include <utility>

#include "connection/connection.hpp"
#include "connection/loop_context.hpp"
#include "connection/outgoing_send.hpp"

namespace fastws {

namespace {

std::span<const std::byte> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

bool is_data_opcode(Opcode op) {
  return op == Opcode::text || op == Opcode::binary;
}

std::atomic<std::uint64_t> next_stream_id{1};

// Queues `send` to the connection's loop; the common tail of every cross-thread call.
void hand_to_loop(detail::Connection& connection, detail::OutgoingSend send) {
  connection.acquire();
  send.connection = &connection;
  connection.loop().post_send(std::move(send));
}

// Queues a send of data after accounting its size against the buffer limit. Control frames,
// topics and terminate are not judged: they hold no payload to speak of, and a close or a ping
// must get through to a connection whose buffer is full.
SendStatus post(detail::Connection& connection, detail::OutgoingSend send, std::size_t size,
                detail::Admission admission = detail::Admission::message_start) {
  if (!connection.reserve_queued(size, admission)) return SendStatus::dropped;
  send.reserved = size;
  send.admission = admission;
  hand_to_loop(connection, std::move(send));
  return SendStatus::queued;
}

// Queues a copy of a message sent from another thread. Out of line: inlined into Conn::send its
// setup (a large OutgoingSend, an allocation) made every send on the loop thread pay for it.
[[gnu::noinline]] SendStatus post_message_copy(detail::Connection& connection, Opcode op,
                                               std::span<const std::byte> data) {
  detail::OutgoingSend send;
  send.kind = detail::OutgoingSend::Kind::message;
  send.opcode = op;
  send.bytes.assign(data.begin(), data.end());
  return post(connection, std::move(send), data.size());
}

// Queues a subscribe or unsubscribe to the connection's loop. It holds no bytes for the peer,
// so the buffer limit does not judge it.
void post_topic_change(detail::Connection& connection, detail::OutgoingSend::Kind kind,
                       std::string_view topic) {
  detail::OutgoingSend send;
  send.kind = kind;
  send.bytes.assign(bytes_of(topic).begin(), bytes_of(topic).end());
  hand_to_loop(connection, std::move(send));
}

}  // namespace

const char* to_string(SendStatus status) noexcept {
  switch (status) {
    case SendStatus::written:
      return "written";
    case SendStatus::queued:
      return "queued";
    case SendStatus::backpressure:
      return "backpressure";
    case SendStatus::dropped:
      return "dropped";
    case SendStatus::closed:
      return "closed";
    case SendStatus::invalid:
      return "invalid";
  }
  return "unknown";
}

SharedPayload make_shared_payload(std::string_view data) {
  return make_shared_payload(bytes_of(data));
}
SharedPayload make_shared_payload(std::span<const std::byte> data) {
  return std::make_shared<const std::vector<std::byte>>(data.begin(), data.end());
}

Conn::Conn(detail::Connection* connection) noexcept : connection_(connection) {
  if (connection_) connection_->acquire();
}
Conn::Conn(const Conn& other) noexcept : Conn(other.connection_) {}
Conn::Conn(Conn&& other) noexcept : connection_(std::exchange(other.connection_, nullptr)) {}
Conn& Conn::operator=(Conn other) noexcept {
  std::swap(connection_, other.connection_);
  return *this;
}
Conn::~Conn() {
  if (connection_) connection_->release();
}

std::uint64_t Conn::id() const noexcept {
  return connection_ ? connection_->id() : 0;
}

std::string Conn::remote_address() const {
  return connection_ ? connection_->remote().to_string() : std::string();
}

std::string Conn::local_address() const {
  return connection_ ? connection_->local().to_string() : std::string();
}

const Request* Conn::request() const noexcept {
  if (!connection_ || !connection_->loop().in_loop_thread()) return nullptr;
  return connection_->loop().request_of(*connection_);
}

std::string_view Conn::subprotocol() const noexcept {
  return connection_ ? connection_->subprotocol() : std::string_view();
}
std::string_view Conn::extensions() const noexcept {
  return connection_ ? connection_->extensions() : std::string_view();
}

std::any* Conn::user_data_slot() const noexcept {
  return connection_ ? connection_->user_data_if_set() : nullptr;
}
void Conn::set_user_data(std::any value) const {
  if (connection_) *connection_->user_data() = std::move(value);
}

bool Conn::is_open() const noexcept {
  return connection_ && connection_->is_open();
}
std::size_t Conn::buffered_amount() const noexcept {
  return connection_ ? connection_->buffered_amount() : 0;
}

SendStatus Conn::send(std::string_view text) const {
  return send(bytes_of(text), Opcode::text);
}

// Closed handles report closed; after the slow-consumer policy closed a connection, dropped.
std::optional<SendStatus> Conn::refuse_send() const noexcept {
  if (!connection_) return SendStatus::closed;
  return connection_->send_gate();
}

SendStatus Conn::send(std::span<const std::byte> data, Opcode op) const {
  // On the loop thread the connection makes the checks below in the same call as the send.
  if (connection_ && connection_->loop().in_loop_thread()) {
    return connection_->send_from_handle(op, data);
  }
  if (auto refused = refuse_send()) return *refused;
  if (!is_data_opcode(op)) return SendStatus::invalid;
  return post_message_copy(*connection_, op, data);
}

SendStatus Conn::send(const SharedPayload& data, Opcode op) const {
  if (auto refused = refuse_send()) return *refused;
  if (!data || !is_data_opcode(op)) return SendStatus::invalid;
  if (connection_->loop().in_loop_thread()) return connection_->send_message(op, *data);
  detail::OutgoingSend send;
  send.kind = detail::OutgoingSend::Kind::shared;
  send.opcode = op;
  send.shared = data;
  return post(*connection_, std::move(send), data->size());
}

SendStatus Conn::send_frame(const Frame& frame, FrameSequence sequence) const {
  if (auto refused = refuse_send()) return *refused;
  const bool in_sequence =
      sequence == FrameSequence::checked && detail::CraftedSequence::is_data(frame.opcode);
  const bool on_loop = connection_->loop().in_loop_thread();
  if (!in_sequence) {
    if (on_loop) return connection_->send_frame(frame);
    detail::OutgoingSend send;
    send.kind = detail::OutgoingSend::Kind::frame;
    send.frame = frame;
    return post(*connection_, std::move(send), frame.payload.size());
  }
  detail::CraftedSequence& crafted = connection_->crafted_sequence();
  if (!crafted.enter(frame)) return SendStatus::invalid;
  SendStatus status;
  if (on_loop) {
    status = connection_->send_crafted(frame);
  } else {
    detail::OutgoingSend send;
    send.kind = detail::OutgoingSend::Kind::crafted;
    send.frame = frame;
    status = post(*connection_, std::move(send), frame.payload.size(),
                  frame.opcode == Opcode::continuation ? detail::Admission::continuation
                                                       : detail::Admission::message_start);
  }
  // A message refused at its opening frame is not open: its continuations will be refused too.
  if (status == SendStatus::dropped) crafted.undo(frame);
  return status;
}

SendStatus Conn::ping(std::string_view data) const {
  return ping(bytes_of(data));
}

SendStatus Conn::ping(std::span<const std::byte> data) const {
  if (auto refused = refuse_send()) return *refused;
  if (data.size() > 125) return SendStatus::invalid;
  if (connection_->loop().in_loop_thread()) return connection_->send_ping(data);
  detail::OutgoingSend send;
  send.kind = detail::OutgoingSend::Kind::ping;
  send.bytes.assign(data.begin(), data.end());
  hand_to_loop(*connection_, std::move(send));
  return SendStatus::queued;
}

SendStatus Conn::close(std::uint16_t code, std::string_view reason) const {
  if (!connection_) return SendStatus::closed;
  if (auto refused = connection_->close_gate()) return *refused;
  if (connection_->loop().in_loop_thread()) return connection_->close_by_application(code, reason);
  detail::OutgoingSend send;
  send.kind = detail::OutgoingSend::Kind::close;
  send.close_code = code;
  send.bytes.assign(bytes_of(reason).begin(), bytes_of(reason).end());
  hand_to_loop(*connection_, std::move(send));
  return SendStatus::queued;
}

void Conn::terminate() const {
  if (!connection_ || connection_->close_gate()) return;
  if (connection_->loop().in_loop_thread()) {
    connection_->terminate_by_application();
    return;
  }
  detail::OutgoingSend send;
  send.kind = detail::OutgoingSend::Kind::terminate;
  hand_to_loop(*connection_, std::move(send));
}

Writer Conn::writer(Opcode op) const {
  return Writer(*this, op);
}

bool Conn::subscribe(std::string_view topic) const {
  if (!is_open()) return false;
  if (connection_->loop().in_loop_thread()) return connection_->subscribe(topic);
  // The place is claimed now, so that a refusal is reported to this caller; the loop gives it
  // back if the connection turns out to be a member already.
  if (!connection_->claim_topic_place()) return false;
  post_topic_change(*connection_, detail::OutgoingSend::Kind::subscribe, topic);
  return true;
}

void Conn::unsubscribe(std::string_view topic) const {
  if (!connection_) return;
  if (connection_->loop().in_loop_thread()) {
    connection_->unsubscribe(topic);
    return;
  }
  post_topic_change(*connection_, detail::OutgoingSend::Kind::unsubscribe, topic);
}

Writer::Writer(Writer&& other) noexcept
    : conn_(std::move(other.conn_)),
      opcode_(other.opcode_),
      stream_(other.stream_),
      finished_(std::exchange(other.finished_, true)),
      dropped_(other.dropped_) {}

Writer& Writer::operator=(Writer&& other) noexcept {
  if (this != &other) {
    if (!finished_) finish();
    conn_ = std::move(other.conn_);
    opcode_ = other.opcode_;
    stream_ = other.stream_;
    finished_ = std::exchange(other.finished_, true);
    dropped_ = other.dropped_;
  }
  return *this;
}

Writer::~Writer() {
  if (!finished_) finish();
}

SendStatus Writer::write(std::span<const std::byte> data) {
  return write_piece(data, false);
}
SendStatus Writer::write(std::string_view data) {
  return write_piece(bytes_of(data), false);
}
SendStatus Writer::finish(std::span<const std::byte> data) {
  return write_piece(data, true);
}
SendStatus Writer::finish(std::string_view data) {
  return write_piece(bytes_of(data), true);
}

SendStatus Writer::write_piece(std::span<const std::byte> data, bool fin) {
  if (dropped_) return SendStatus::dropped;  // the rest of a message refused at its first piece
  if (finished_) return SendStatus::invalid;
  if (fin) finished_ = true;
  if (auto refused = conn_.refuse_send()) return *refused;
  if (!is_data_opcode(opcode_)) return SendStatus::invalid;
  // The limit judges the message at its first piece; later ones continue what the peer has begun
  // to receive, so they are not dropped on their own (conn.hpp, Writer).
  const bool first = stream_ == 0;
  if (first) stream_ = next_stream_id.fetch_add(1, std::memory_order_relaxed);
  const detail::Admission admission =
      first ? detail::Admission::message_start : detail::Admission::continuation;
  detail::Connection& connection = *conn_.connection_;
  SendStatus status;
  if (connection.loop().in_loop_thread()) {
    status = connection.send_fragment(stream_, opcode_, data, fin, admission);
  } else {
    detail::OutgoingSend send;
    send.kind = detail::OutgoingSend::Kind::fragment;
    send.opcode = opcode_;
    send.fin = fin;
    send.stream = stream_;
    send.bytes.assign(data.begin(), data.end());
    status = post(connection, std::move(send), data.size(), admission);
  }
  if (first && status == SendStatus::dropped) dropped_ = true;
  return status;
}

}  // namespace fastws
