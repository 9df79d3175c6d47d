// The output path of a connection: cork buffer, socket writes, backlog, backpressure.
//
// Bytes go to the loop's cork buffer while this connection owns it; the cork leaves in one
// write when another connection takes it over or at the end of the loop iteration, so all the
// replies one read causes leave together. A large payload is not copied: it leaves with the cork
// in one writev; nor is a shared frame (a broadcast) on a plain socket: the cork references it.
// What the kernel refuses goes to the backlog, written on EPOLLOUT; shared frames by reference.
#include <sys/epoll.h>
#include <sys/uio.h>

#include <array>
#include <cstring>

#include "connection/connection.hpp"
#include "connection/connection_parts.hpp"
#include "connection/user_handler.hpp"
#include "net/socket_io.hpp"
#include "protocol/mask.hpp"

namespace fastws::detail {

namespace {

bool is_pong(std::span<const std::byte> header) {
  return !header.empty() && (static_cast<unsigned>(header[0]) & 0x0F) == 0xA;
}

}  // namespace

void Connection::publish_buffered() noexcept {
  // buffered_ = backlog + queued; only the backlog part changes here. A backlog is published as
  // empty before it goes, so without one there is nothing to change.
  Backlog* backlog = this->backlog();
  if (backlog == nullptr) return;
  const std::size_t now = backlog->size();
  std::size_t& published = backlog->published;
  if (now > published) {
    buffered_.fetch_add(now - published, std::memory_order_relaxed);
  } else {
    buffered_.fetch_sub(published - now, std::memory_order_relaxed);
  }
  published = now;
}

void Connection::write_frame(std::span<const std::byte> header, std::span<const std::byte> payload,
                             const MaskKey* mask) {
  if (phase_ == Phase::closed) return;
  if (backlog_size() > 0) {
    append_to_backlog(header, payload, mask);
    return;
  }
  CorkBuffer* cork = &loop_->cork_for(*this);
  if (header.size() + payload.size() <= cork->room()) {
    // The common case: header and payload join the cork.
    cork->append(header);
    cork->append_payload(payload, mask);
    return;
  }
  if (header.size() > cork->room()) {
    flush_cork();
    if (phase_ == Phase::closed) return;
    if (backlog_size() > 0) {
      append_to_backlog(header, payload, mask);
      return;
    }
    cork = &loop_->cork_for(*this);
  }
  cork->append(header);
  if (mask == nullptr) {
    // Large payload: the corked bytes and the payload leave in one writev, without a copy.
    write_corked(payload, nullptr);
    return;
  }
  // Masked (client) payloads are copied anyway: through the cork, in cork-sized pieces.
  std::size_t offset = 0;
  while (offset < payload.size()) {
    if (cork->room() == 0) {
      flush_cork();
      if (phase_ == Phase::closed) return;
      if (backlog_size() > 0) {
        MaskKey rotated;  // the key as it stands at `offset`
        for (std::size_t i = 0; i < 4; ++i) rotated[i] = (*mask)[(offset + i) % 4];
        append_to_backlog({}, payload.subspan(offset), &rotated);
        return;
      }
      cork = &loop_->cork_for(*this);
    }
    const std::size_t take = std::min(cork->room(), payload.size() - offset);
    protocol::copy_masked(cork->tail(), payload.data() + offset, take, *mask, offset % 4);
    cork->grow(take);
    offset += take;
  }
}

inline bool Connection::takes_quick_way(Opcode opcode, std::size_t payload_size,
                                        MaskKey& key) const noexcept {
  // Open, and a send the general path would put into the cork: not closed by the slow-consumer
  // policy, nothing buffered (so the limit admits it), nothing waiting before it, the cork ours
  // with room. With the session open these also pass the handle's send_gate(). The session's
  // part is Session::sends_as_is() without permessage-deflate (which would make it a call). The
  // key is taken last, once nothing else can refuse the message.
  return phase_ == Phase::websocket && !limit_closed_.load(std::memory_order_relaxed) &&
         buffered_.load(std::memory_order_relaxed) == 0 && !must_wait(0) && backlog_size() == 0 &&
         loop_->cork_owner() == this &&
         protocol::max_frame_header_size + payload_size <= loop_->cork().room() &&
         (opcode == Opcode::text || opcode == Opcode::binary) && !session_.deflate_enabled() &&
         session_.may_send_message(opcode) &&
         (!session_.masks_frames() || protocol::take_pooled_mask_key(key));
}

inline SendStatus Connection::cork_message(Opcode opcode, std::span<const std::byte> payload,
                                           MaskKey key) {
  // Kept in a register: the bytes written below may alias anything, loop_ too.
  LoopContext& loop = *loop_;
  CorkBuffer& cork = loop.cork();
  const bool masked = session_.masks_frames();
  std::byte* const head = cork.tail();
  const std::size_t head_size =
      protocol::Session::write_message_head(opcode, payload.size(), head, masked ? &key : nullptr);
  cork.grow(head_size + payload.size());
  LoopStats& stats = loop.stats();
  LoopStats::bump(stats.messages_out);
  LoopStats::bump(stats.bytes_out, payload.size());
  if (masked) {
    protocol::copy_masked(head + head_size, payload.data(), payload.size(), key);
  } else if (!payload.empty()) {  // an empty span may carry a null pointer: memcpy must not see it
    CorkBuffer::copy_bytes(head + head_size, payload.data(), payload.size());
  }
  return SendStatus::written;
}

SendStatus Connection::cork_message_of_any_size(Opcode opcode, std::span<const std::byte> payload,
                                                MaskKey key) {
  return cork_message(opcode, payload, key);
}

inline SendStatus Connection::send_quickly(Opcode opcode, std::span<const std::byte> payload,
                                           MaskKey key) {
  // 8 to 16 bytes (the small messages of a busy client or server): a 2-byte head and two words
  // of payload, inline. Other sizes out of line, so that this way makes no call of its own and
  // saves no register (the longer heads' byte swaps, hoisted, took six).
  if (payload.size() < 8 || payload.size() > 16) {
    return cork_message_of_any_size(opcode, payload, key);
  }
  return cork_message(opcode, payload, key);
}

SendStatus Connection::send_after_taking_cork(Opcode opcode, std::span<const std::byte> payload,
                                              bool from_handle) {
  // As write_message() would take it, had the send gone the general way.
  if (phase_ == Phase::websocket && backlog_size() == 0) {
    loop_->cork_for(*this);
    MaskKey key{};
    if (takes_quick_way(opcode, payload.size(), key)) return send_quickly(opcode, payload, key);
  }
  return from_handle ? send_from_handle_general(opcode, payload)
                     : send_message_general(opcode, payload);
}

template <bool from_handle>
inline SendStatus Connection::send_whole_message(Opcode opcode,
                                                 std::span<const std::byte> payload) {
  MaskKey key{};
  if (!takes_quick_way(opcode, payload.size(), key)) [[unlikely]] {
    if (loop_->cork_owner() != this) return send_after_taking_cork(opcode, payload, from_handle);
    if constexpr (from_handle) return send_from_handle_general(opcode, payload);
    return send_message_general(opcode, payload);
  }
  return send_quickly(opcode, payload, key);
}

SendStatus Connection::send_message(Opcode opcode, std::span<const std::byte> payload) {
  return send_whole_message<false>(opcode, payload);
}

SendStatus Connection::send_from_handle(Opcode opcode, std::span<const std::byte> payload) {
  return send_whole_message<true>(opcode, payload);
}

SendStatus Connection::write_message(Opcode opcode, std::span<const std::byte> payload) {
  if (phase_ == Phase::closed || backlog_size() > 0) return write_message_framed(opcode, payload);
  loop_->cork_for(*this);
  // What does not fit goes by write_frame(), which flushes or writes large payloads in place.
  if (protocol::max_frame_header_size + payload.size() > loop_->cork().room() ||
      !session_.sends_as_is(opcode, payload.size())) {
    return write_message_framed(opcode, payload);
  }
  return cork_message(opcode, payload,
                      session_.masks_frames() ? protocol::random_mask_key() : MaskKey{});
}

void Connection::append_to_backlog(std::span<const std::byte> header,
                                   std::span<const std::byte> payload, const MaskKey* mask) {
  if (!header.empty() && is_pong(header)) {
    // The peer is not reading: keep only the latest pong instead of queueing one per ping.
    Backlog& backlog = *extras_->backlog;  // called while a backlog exists
    backlog.pending_pong.assign(header.begin(), header.end());
    backlog.pending_pong.insert(backlog.pending_pong.end(), payload.begin(), payload.end());
    backlog.has_pending_pong = true;
    return;
  }
  append_backlog(header);
  if (mask) {
    append_backlog_masked(payload, *mask);
  } else {
    append_backlog(payload);
  }
  publish_buffered();
}

void Connection::write_shared(const SharedBytes& shared) {
  if (phase_ == Phase::closed) return;
  if (backlog_size() > 0) {
    append_backlog_shared(shared);
    publish_buffered();
    return;
  }
  CorkBuffer& cork = loop_->cork_for(*this);
  // A plain socket takes the cork's iovecs in one sendmsg. TLS makes a record of each iovec
  // (and a transport's costs are unknown): there one copy into the cork is cheaper.
  if (fd_ && tls() == nullptr && cork.can_reference(shared)) {
    cork.reference(shared);
    return;
  }
  if (shared.bytes.size() <= cork.room()) {
    cork.append(shared.bytes);
    return;
  }
  // Large: the corked bytes and these leave in one writev; what the kernel refuses stays shared
  // in the backlog.
  write_corked(shared.bytes, shared.owner);
}

void Connection::write_raw(std::span<const std::byte> bytes) {
  write_frame({}, bytes, nullptr);  // as a payload: the header part must fit the cork
}

void Connection::flush_cork() {
  if (loop_->cork_owner() != this) return;
  if (!loop_->cork().empty() && phase_ != Phase::closed) write_corked({}, nullptr);
  loop_->release_cork(*this);
}

void Connection::write_corked(std::span<const std::byte> extra, const SharedPayload* extra_owner) {
  CorkBuffer& cork = loop_->cork();
  if (!cork.has_references()) {
    write_to_socket(cork.bytes(), extra, extra_owner);
  } else {
    GatheredOutput output;
    cork.gather(output);
    output.add(extra, extra_owner);
    write_gathered(output);
  }
  cork.clear();
}

void Connection::write_gathered(const GatheredOutput& output) {
  std::size_t written = 0;
  if (backlog_size() == 0) {
    const std::optional<std::size_t> taken = bytes_taken(write_output(output.iovecs()));
    if (!taken) return;
    written = *taken;
  }
  // What the kernel refused, in order: shared frames by reference, our own bytes copied.
  for (std::size_t i = 0; i < output.count; ++i) {
    const iovec& buffer = output.buffers[i];
    if (written >= buffer.iov_len) {
      written -= buffer.iov_len;
      continue;
    }
    const std::span<const std::byte> rest(static_cast<const std::byte*>(buffer.iov_base) + written,
                                          buffer.iov_len - written);
    written = 0;
    if (const SharedPayload* owner = output.owners[i]) {
      append_backlog_shared({owner, rest});
    } else {
      append_backlog(rest);
    }
  }
  publish_buffered();
}

std::optional<std::size_t> Connection::bytes_taken(const net::IoResult& result) {
  if (result.status == net::IoStatus::done) return result.bytes;
  if (result.status != net::IoStatus::failed) return 0;
  output_failed(*result.error);
  return std::nullopt;
}

void Connection::output_failed(const std::error_code& error) {
  // Reading will see the end and close the connection. If a close handshake was under way,
  // on_close still says that its last bytes were lost.
  CloseStatus& status = extras().close_status;
  if (status.error.empty()) status.error = "write failed: " + error.message();
  ::shutdown(fd_.get(), SHUT_RDWR);
}

void Connection::on_sent() {
  if (backlog() != nullptr) {
    on_writable();  // the room EPOLLOUT would report (nothing once closed)
  } else if (phase_ == Phase::draining) {
    end_output();  // it waited for these bytes
  }
}

void Connection::on_send_failed(std::error_code error) {
  if (phase_ != Phase::closed) output_failed(error);
}

void Connection::write_to_socket(std::span<const std::byte> first,
                                 std::span<const std::byte> second,
                                 const SharedPayload* second_owner) {
  if (backlog_size() > 0) {
    append_backlog(first);
    append_backlog(second);
    publish_buffered();
    return;
  }
  iovec buffers[2] = {{const_cast<std::byte*>(first.data()), first.size()},
                      {const_cast<std::byte*>(second.data()), second.size()}};
  // One buffer (a corked batch, the usual case) must go as one: write_output() writes it with
  // send(), cheaper in the kernel than sendmsg() with an empty second part.
  const std::optional<std::size_t> taken =
      bytes_taken(write_output(std::span<const iovec>(buffers, second.empty() ? 1 : 2)));
  if (!taken) return;
  const std::size_t written = *taken;
  if (written == first.size() + second.size()) return;
  if (written < first.size()) append_backlog(first.subspan(written));
  const std::size_t second_written = written > first.size() ? written - first.size() : 0;
  if (second_owner != nullptr) {
    append_backlog_shared({second_owner, second.subspan(second_written)});
  } else {
    append_backlog(second.subspan(second_written));
  }
  publish_buffered();
}

OutputBacklog& Connection::backlog_for_append() {
  std::unique_ptr<Backlog>& backlog = extras().backlog;
  if (!backlog) {
    backlog = std::make_unique<Backlog>();
    loop_->write_stalls().watch(backlog->stall, *this);
  }
  if (backlog->size() == 0) LoopStats::bump(loop_->stats().backpressured);
  return backlog->queue;
}

void Connection::append_backlog(std::span<const std::byte> bytes) {
  if (bytes.empty()) return;
  backlog_for_append().append(bytes);
  update_write_interest();
}

void Connection::append_backlog_shared(const SharedBytes& shared) {
  if (shared.bytes.empty()) return;
  backlog_for_append().append_shared(shared);
  update_write_interest();
}

void Connection::append_backlog_masked(std::span<const std::byte> bytes, const MaskKey& mask) {
  if (bytes.empty()) return;
  const std::span<std::byte> copy = backlog_for_append().append(bytes);
  protocol::apply_mask(copy.data(), copy.size(), mask);
  update_write_interest();
}

void Connection::on_writable() {
  Backlog* backlog = this->backlog();
  if (backlog == nullptr || phase_ == Phase::closed) return;
  while (backlog->size() > 0) {
    std::array<iovec, 16> buffers;
    const std::size_t count = backlog->queue.gather(buffers);
    net::IoResult result = write_output(std::span(buffers).first(count));
    if (result.status == net::IoStatus::failed) {
      finish({close_code::abnormal, {}, result.error->message()});
      return;
    }
    if (result.status != net::IoStatus::done || result.bytes == 0) break;
    std::size_t offered = 0;
    for (std::size_t i = 0; i < count; ++i) offered += buffers[i].iov_len;
    backlog->queue.consume(result.bytes);
    backlog->stall.note_progress();
    if (result.bytes < offered) break;  // short write: the socket is full again
  }
  if (backlog->size() > 0) {
    publish_buffered();
    return;
  }
  // Drained.
  LoopStats::bump(loop_->stats().backpressured, std::uint64_t(-1));
  std::vector<std::byte> pong;
  if (backlog->has_pending_pong) pong = std::move(backlog->pending_pong);
  publish_buffered();
  extras_->backlog.reset();
  // Nothing else of the Extras in use (a plain connection): an idle connection costs its
  // object alone again.
  if (extras_->unused()) extras_.reset();
  update_write_interest();
  if (!pong.empty()) write_to_socket(pong, {});
  if (phase_ == Phase::draining) {
    if (backlog_size() == 0) end_output();
    return;
  }
  const ConnectionHandlers& handlers = loop_->endpoint().handlers;
  if (backlog_size() == 0 && handlers.drain) {
    if (auto thrown = call_user_handler([&] { handlers.drain(handle()); })) {
      handler_threw("on_drain", *thrown);
    }
  }
}

std::optional<SendStatus> Connection::close_gate() const noexcept {
  if (limit_closed_.load(std::memory_order_relaxed)) return SendStatus::dropped;
  if (openness() == Openness::closed) return SendStatus::closed;
  return std::nullopt;
}

SendStatus Connection::refuse_over_limit(Admission admission) {
  if (limit_closed_.load(std::memory_order_relaxed)) return SendStatus::dropped;
  loop_->stats().dropped_sends.fetch_add(1, std::memory_order_relaxed);
  if (loop_->send_limits().refusal_closes(admission)) {
    limit_closed_.store(true, std::memory_order_relaxed);
    finish({close_code::policy_violation, {}, "slow consumer: send buffer limit reached"});
  }
  return SendStatus::dropped;
}

bool Connection::reserve_queued(std::size_t bytes, Admission admission) noexcept {
  // Any thread, possibly after the server is gone: only the loop context is used here.
  const SendLimits& limits = loop_->send_limits();
  const std::size_t before = buffered_.fetch_add(bytes, std::memory_order_relaxed);
  if (limits.admits(before, bytes, admission)) return true;
  buffered_.fetch_sub(bytes, std::memory_order_relaxed);
  loop_->stats().dropped_sends.fetch_add(1, std::memory_order_relaxed);
  if (limits.refusal_closes(admission) &&
      !limit_closed_.exchange(true, std::memory_order_relaxed)) {
    // The loop closes it; every later send from any thread is dropped.
    acquire();
    OutgoingSend send;
    send.connection = this;
    send.kind = OutgoingSend::Kind::terminate;
    loop_->post_send(std::move(send));
  }
  return false;
}

SendStatus Connection::status_after_send() const noexcept {
  if (phase_ == Phase::closed) return SendStatus::closed;
  return backlog_size() > 0 ? SendStatus::backpressure : SendStatus::written;
}

}  // namespace fastws::detail
