#include "protocol/session.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "fastws/close_code.hpp"
#include "protocol/close_payload.hpp"
#include "protocol/mask.hpp"
#include "protocol/mask_key.hpp"

namespace fastws::protocol {

// Default handlers: a user who only wants messages overrides on_message alone.
void SessionHandler::on_fragment(Opcode, std::span<const std::byte>, bool, bool) {}
void SessionHandler::on_ping(std::span<const std::byte>) {}
void SessionHandler::on_pong(std::span<const std::byte>) {}
void SessionHandler::on_close(std::uint16_t, std::string_view) {}
void SessionHandler::on_error(ProtocolError) {}
void SessionHandler::on_frame(const FrameHeader&, std::span<const std::byte>) {}

namespace {

// Compressed payload goes to the inflater in slices of at most this size: a receive() that stops
// early (inflate_per_receive) has unmasked, and masks again, at most one slice it did not use.
constexpr std::size_t inflate_slice = 16 * 1024;

// A compressed message is inflated into blocks of this size: a full one is set aside and the next
// one taken whole, so that no receive() copies what was inflated before. A buffer that doubles
// would copy up to half the message in one call (milliseconds for megabytes, and connections
// whose messages grow in step double in the same turn of the loop). The blocks are joined once,
// when the message is complete. A multiple of the inflater's 16 KiB steps.
constexpr std::size_t inflated_block = 64 * 1024;
// At most this much is reserved for a frame's payload before it arrives (reserve_rest_of_frame).
constexpr std::size_t reserve_ahead_limit = 1024 * 1024;

// One direction of a permessage-deflate agreement, as a session of `role` sees it.
struct DeflateDirection {
  int window_bits;
  bool no_context_takeover;
};
DeflateDirection outgoing(const DeflateParams& agreed, Role role) {
  if (role == Role::server) {
    return {agreed.server_max_window_bits, agreed.server_no_context_takeover};
  }
  return {agreed.client_max_window_bits, agreed.client_no_context_takeover};
}
DeflateDirection incoming(const DeflateParams& agreed, Role role) {
  return outgoing(agreed, role == Role::server ? Role::client : Role::server);
}

Deflater make_deflater(const DeflateParams& agreed, Role role, const DeflateConfig& config) {
  const DeflateDirection ours = outgoing(agreed, role);
  return Deflater(ours.window_bits, ours.no_context_takeover, config.compression_level,
                  config.mem_level);
}

}  // namespace

// What a connection's compressed messages hold while under way (RFC 7692): made for a message's
// first compressed piece, either way, and freed when no message is under way any more
// (drop_compression_if_unused), except in a direction that keeps its context, where zlib's state
// (taken at the first message) must last. Without context takeover zlib's states are the
// thread's (see Deflater), so between messages nothing here is worth keeping: a connection then
// holds the agreed parameters alone, inline in the session.
struct Session::Compression {
  Compression(const DeflateParams& agreed, Role role, const DeflateConfig& config)
      : deflater(make_deflater(agreed, role, config)),
        inflater(incoming(agreed, role).window_bits, incoming(agreed, role).no_context_takeover) {}

  // Nothing of a message (or of a kept context) is held.
  bool unused() const noexcept {
    return !deflater.holds_state() && !inflater.holds_state() && inflated.capacity() == 0 &&
           inflated_blocks.empty();
  }

  Deflater deflater;
  Inflater inflater;
  bool sending_compressed = false;  // the streaming send in progress is compressed
  std::size_t inflate_left = 0;     // what the receive() in progress may still inflate
  // The compressed message being received, inflated: its last block, the thread's buffer lent
  // for the message (empty, without storage, between messages), and its full blocks.
  std::vector<std::byte> inflated;
  std::vector<std::vector<std::byte>> inflated_blocks;
  std::size_t inflated_blocks_capacity = 0;
};

// What arrives in pieces: an uncompressed data message over several frames or reads (or, with
// raw_frames, one frame), and a control frame split across reads. Allocated when the first such
// piece comes, so that an idle session holds one pointer for both.
struct Session::Reassembly {
  std::vector<std::byte> message;  // the message so far
  std::array<std::byte, max_control_payload> control{};
  std::uint8_t control_size = 0;
  bool control_pending = false;  // a control frame's first bytes are in `control`
};

Session::Reassembly& Session::reassembly() {
  if (!reassembly_) reassembly_ = std::make_unique<Reassembly>();
  return *reassembly_;
}

void Session::drop_reassembly_if_unused() noexcept {
  if (reassembly_ && reassembly_->message.capacity() == 0 && !reassembly_->control_pending) {
    reassembly_.reset();
  }
}

Session::Compression& Session::compression() {
  if (!compression_) {
    compression_ =
        std::make_unique<Compression>(*deflate_params(), config_->role, config_->deflate);
    // Made inside receive(), its share is whole: what was inflated before in the call was
    // inflated with a compression state that would still be here.
    compression_->inflate_left = std::max<std::size_t>(config_->inflate_per_receive, 1);
  }
  return *compression_;
}

void Session::drop_compression_if_unused() noexcept {
  // Inside receive() it stays to the end: a handler's send must not free what receive() holds,
  // and the inflate budget of the call is counted in it.
  if (!compression_ || in_receive_ || !compression_->unused()) return;
  if (message_compressed_ || (sending_fragmented() && compression_->sending_compressed)) return;
  compression_.reset();
}

// False when the peer limited our window to 8 bits, which zlib cannot write: every message of
// the connection then goes uncompressed (RFC 7692 allows it message by message).
bool Session::compresses_outgoing() const noexcept {
  return deflate_on_ && outgoing(*deflate_params(), config_->role).window_bits >= 9;
}

bool Session::reassembly_holds_bytes() const noexcept {
  return !reassembly_->message.empty();
}

std::size_t Session::message_memory() const noexcept {
  if (!receiving_message()) return 0;
  std::size_t bytes = reassembly_ ? reassembly_->message.capacity() : 0;
  if (compression_) {
    bytes += compression_->inflated.capacity() + compression_->inflated_blocks_capacity;
  }
  return bytes;
}

Session::Session(const SessionConfig& config, std::optional<DeflateParams> deflate,
                 std::string_view deflate_answer)
    : config_(&config),
      deflate_packed_(deflate ? pack(*deflate) : std::uint8_t{0}),
      deflate_on_(deflate.has_value()),
      deflate_answer_(deflate ? InternedText(deflate_answer) : InternedText()) {}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

// Window bits are 8 to 15 (RFC 7692 7.1.2): three bits each, with the two takeover flags.
std::uint8_t Session::pack(const DeflateParams& params) noexcept {
  return static_cast<std::uint8_t>((params.server_no_context_takeover ? 0x80 : 0) |
                                   (params.client_no_context_takeover ? 0x40 : 0) |
                                   ((params.server_max_window_bits - 8) & 7) << 3 |
                                   ((params.client_max_window_bits - 8) & 7));
}

std::optional<DeflateParams> Session::deflate_params() const noexcept {
  if (!deflate_on_) return std::nullopt;
  return DeflateParams{
      .server_no_context_takeover = (deflate_packed_ & 0x80) != 0,
      .client_no_context_takeover = (deflate_packed_ & 0x40) != 0,
      .server_max_window_bits = static_cast<std::uint8_t>(8 + (deflate_packed_ >> 3 & 7)),
      .client_max_window_bits = static_cast<std::uint8_t>(8 + (deflate_packed_ & 7))};
}

std::string_view Session::deflate_answer() const noexcept {
  return deflate_answer_.get();
}

std::size_t Session::receive(std::span<std::byte> input, SessionHandler& handler, FrameSink& sink) {
  const FrameHeaderRules rules{config_->role, deflate_on_ ? std::uint8_t{0x4} : std::uint8_t{0},
                               config_->max_message_size};
  std::size_t pos = 0;
  const bool fast_path_allowed = !config_->raw_frames && !config_->stream_fragments;
  if (compression_) {
    compression_->inflate_left = std::max<std::size_t>(config_->inflate_per_receive, 1);
  }
  in_receive_ = true;
  while (state_ != State::closed) {
    if (!in_payload_) {
      if (fast_path_allowed && message_opcode_ == Opcode::continuation && parser_.idle()) {
        pos += receive_whole_frames(input.subspan(pos), handler, sink);
        if (state_ == State::closed) break;
      }
      if (pos == input.size()) break;
      std::size_t used = 0;
      auto status = parser_.parse(input.data() + pos, input.size() - pos, used, rules);
      pos += used;
      if (status == FrameHeaderParser::Status::need_more) break;
      if (status == FrameHeaderParser::Status::error) {
        fail(parser_.error(), handler, sink);
        break;
      }
      if (!handle_header(handler, sink)) break;
      // A zero-length payload completes the frame at once, even at the end of the input.
      if (payload_remaining_ != 0) continue;
    } else if (pos == input.size()) {
      break;
    }
    // Enough inflated for one call: the rest waits for the next (an empty frame still ends here).
    if (payload_remaining_ != 0 && inflating_spent()) break;
    auto take =
        static_cast<std::size_t>(std::min<std::uint64_t>(payload_remaining_, input.size() - pos));
    if (message_compressed_ && !is_control(parser_.header().opcode)) {
      take = std::min(take, inflate_slice);
    }
    const std::size_t used = consume_payload(input.subspan(pos, take), handler, sink);
    pos += used;
    if (used < take) break;
  }
  in_receive_ = false;
  if (abandoned_) {
    release_memory();
  } else if (compression_) {
    drop_compression_if_unused();
  }
  return pos;
}

// The common case of small messages, without the incremental parser: whole, unfragmented,
// uncompressed text or binary frames of up to 64 KiB that lie complete in the input, while no
// message is in progress. Anything else (fragments, control frames, reserved bits, 64-bit
// lengths, partial frames, rule violations) stops this loop and goes the general way, which
// reaches the same verdicts; so this path only ever accepts what the general one would.
std::size_t Session::receive_whole_frames(std::span<std::byte> input, SessionHandler& handler,
                                          FrameSink& sink) {
  // Read once: after each handler call the compiler would read them again.
  const bool masked = config_->role == Role::server;
  const std::size_t max_message_size = config_->max_message_size;
  const std::size_t size = input.size();
  std::size_t pos = 0;
  while (state_ != State::closed && size - pos >= 2) {
    const auto byte0 = static_cast<std::uint8_t>(input[pos]);
    const auto byte1 = static_cast<std::uint8_t>(input[pos + 1]);
    if (byte0 != 0x81 && byte0 != 0x82) break;   // FIN, no RSV bit, text or binary
    if (((byte1 & 0x80) != 0) != masked) break;  // mask bit as the role requires (5.1)
    std::size_t length = byte1 & 0x7Fu;
    std::size_t header = 2;
    if (length == 127) break;
    if (length == 126) {
      if (size - pos < 4) break;
      length =
          static_cast<std::size_t>(input[pos + 2]) << 8 | static_cast<std::size_t>(input[pos + 3]);
      if (length < 126) break;  // not the shortest form: the general path refuses it
      header = 4;
    }
    const std::size_t key_at = pos + header;
    if (masked) header += 4;
    if (size - pos < header + length || length > max_message_size) break;
    std::span<std::byte> payload = input.subspan(pos + header, length);
    if (masked) {
      MaskKey key;
      std::memcpy(key.data(), input.data() + key_at, key.size());
      apply_mask(payload.data(), length, key);
    }
    pos += header + length;
    const auto opcode = static_cast<Opcode>(byte0 & 0x0F);
    if (opcode == Opcode::text && !is_valid_utf8(payload.data(), length)) {
      fail({close_code::invalid_payload, "invalid UTF-8 in text message"}, handler, sink);
      break;
    }
    handler.on_message(opcode, payload);
  }
  return pos;
}

void Session::reserve_rest_of_frame(std::vector<std::byte>& message) const {
  // The header told the frame's length: room for all of it at once, not a doubling (and a copy)
  // per piece, which a 64 KiB message arriving in 16 KiB reads paid four times over. Capped, so
  // a header announcing a large frame does not allocate before its bytes arrive.
  const std::size_t rest =
      static_cast<std::size_t>(std::min<std::uint64_t>(payload_remaining_, reserve_ahead_limit));
  if (message.capacity() - message.size() < rest) {
    // Still at least doubling: many small fragments must not reallocate one by one.
    message.reserve(std::max(message.size() + rest, 2 * message.capacity()));
  }
}

bool Session::inflating_spent() const noexcept {
  // Without a compression state nothing was inflated in this call yet (see compression()).
  return message_compressed_ && !is_control(parser_.header().opcode) && compression_ &&
         compression_->inflate_left == 0;
}

bool Session::handle_header(SessionHandler& handler, FrameSink& sink) {
  const FrameHeader& header = parser_.header();
  if (!config_->raw_frames) {
    if (is_control(header.opcode)) {
      if (header.rsv1) {
        fail({close_code::protocol_error, "RSV1 set on a control frame"}, handler, sink);
        return false;
      }
    } else if (header.opcode == Opcode::continuation) {
      if (message_opcode_ == Opcode::continuation) {
        fail({close_code::protocol_error, "continuation frame without a message to continue"},
             handler, sink);
        return false;
      }
      if (header.rsv1) {
        fail({close_code::protocol_error, "RSV1 set on a continuation frame"}, handler, sink);
        return false;
      }
    } else {
      if (message_opcode_ != Opcode::continuation) {
        fail({close_code::protocol_error, "new data frame inside a fragmented message"}, handler,
             sink);
        return false;
      }
      message_opcode_ = header.opcode;
      message_compressed_ = header.rsv1;
      message_size_ = 0;
      message_fragments_ = 0;
      message_delivered_first_ = false;
      utf8_.reset();
    }
    if (!is_control(header.opcode)) {
      // Every frame counts, empty ones too: a flood of empty continuations is refused.
      if (++message_fragments_ > config_->max_fragments_per_message()) {
        fail({close_code::message_too_big, "too many fragments in one message"}, handler, sink);
        return false;
      }
      // Checked on the declared length, before any payload arrives (CVE-2020-27813: the sum
      // over fragments matters, not each fragment alone). Compressed messages are checked on
      // their decompressed size as it is produced.
      if (!message_compressed_ &&
          header.payload_length > config_->max_message_size - message_size_) {
        fail({close_code::message_too_big, "message too big"}, handler, sink);
        return false;
      }
    }
  }
  in_payload_ = true;
  payload_remaining_ = header.payload_length;
  mask_offset_ = 0;
  return true;
}

std::size_t Session::consume_payload(std::span<std::byte> chunk, SessionHandler& handler,
                                     FrameSink& sink) {
  const FrameHeader& header = parser_.header();
  const std::uint8_t mask_start = mask_offset_;
  if (header.masked) {
    mask_offset_ = static_cast<std::uint8_t>(
        apply_mask(chunk.data(), chunk.size(), header.mask, mask_offset_));
  }
  const bool frame_done = chunk.size() == payload_remaining_;
  std::size_t used = chunk.size();

  if (config_->raw_frames) {
    if (frame_done && !(reassembly_ && !reassembly_->message.empty())) {
      if (state_ != State::closed) handler.on_frame(header, chunk);
    } else {
      std::vector<std::byte>& frame = reassembly().message;
      frame.insert(frame.end(), chunk.begin(), chunk.end());
      if (frame_done) {
        if (state_ != State::closed) handler.on_frame(header, frame);
        finish_message();
      }
    }
  } else if (is_control(header.opcode)) {
    if (frame_done && !(reassembly_ && reassembly_->control_pending)) {
      handle_control(chunk, handler, sink);
    } else {
      Reassembly& pieces = reassembly();
      std::memcpy(pieces.control.data() + pieces.control_size, chunk.data(), chunk.size());
      pieces.control_size = static_cast<std::uint8_t>(pieces.control_size + chunk.size());
      pieces.control_pending = true;
      if (frame_done) {
        // Copied out: the handlers may start the next control frame, or free the buffers.
        const std::array<std::byte, max_control_payload> payload = pieces.control;
        const std::size_t size = pieces.control_size;
        pieces.control_size = 0;
        pieces.control_pending = false;
        drop_reassembly_if_unused();
        handle_control({payload.data(), size}, handler, sink);
      }
    }
  } else {
    used = handle_data_chunk(chunk, frame_done, handler, sink);
  }

  if (used < chunk.size()) {
    // Inflating paused: the rest goes back as it came, masked again from its own key byte on.
    if (header.masked) {
      mask_offset_ = static_cast<std::uint8_t>((mask_start + used) % header.mask.size());
      apply_mask(chunk.data() + used, chunk.size() - used, header.mask, mask_offset_);
    }
    payload_remaining_ -= used;
    return used;
  }
  payload_remaining_ -= chunk.size();
  if (frame_done) {
    in_payload_ = false;
    parser_.reset();
  }
  return chunk.size();
}

std::size_t Session::handle_data_chunk(std::span<std::byte> chunk, bool frame_done,
                                       SessionHandler& handler, FrameSink& sink) {
  const FrameHeader& header = parser_.header();
  const bool message_done = frame_done && header.fin;
  if (message_compressed_) return handle_compressed_chunk(chunk, message_done, handler, sink);
  if (message_opcode_ == Opcode::text && !accept_text(chunk, handler, sink)) return chunk.size();
  message_size_ += chunk.size();
  if (message_done && message_opcode_ == Opcode::text && !utf8_.at_boundary()) {
    fail({close_code::invalid_payload, "text message ends inside a UTF-8 sequence"}, handler, sink);
    return chunk.size();
  }
  if (config_->stream_fragments) {
    deliver(chunk, message_done, handler);
  } else if (message_done && !(reassembly_ && !reassembly_->message.empty())) {
    // The common case: the whole message is in the read buffer; hand it over without a copy.
    deliver(chunk, true, handler);
  } else {
    std::vector<std::byte>& message = reassembly().message;
    reserve_rest_of_frame(message);
    message.insert(message.end(), chunk.begin(), chunk.end());
    if (message_done) deliver(message, true, handler);
  }
  if (message_done) finish_message();
  return chunk.size();
}

std::size_t Session::handle_compressed_chunk(std::span<const std::byte> chunk, bool ends_message,
                                             SessionHandler& handler, FrameSink& sink) {
  Compression& pieces = compression();
  // The thread's buffer serves the message; the connection gives it back when the message ends.
  if (pieces.inflated.capacity() == 0) {
    pieces.inflated = take_thread_buffer(ThreadBuffer::inflate_output);
  }
  std::size_t used = 0;
  for (;;) {
    if (!config_->stream_fragments && pieces.inflated.size() >= inflated_block) {
      set_aside_full_block(pieces);
    }
    std::vector<std::byte>& message = pieces.inflated;
    const std::size_t before = message.size();
    const auto budget = static_cast<std::size_t>(config_->max_message_size - message_size_);
    std::size_t consumed = 0;
    const auto status = pieces.inflater.decompress(
        chunk.subspan(used), ends_message, message, budget,
        {.after_output = pieces.inflate_left, .at_capacity = inflated_block}, consumed);
    used += consumed;
    if (status == Inflater::Status::too_big) {
      fail({close_code::message_too_big, "message too big after decompression"}, handler, sink);
      return chunk.size();
    }
    if (status == Inflater::Status::error) {
      fail({close_code::invalid_payload, "invalid compressed data"}, handler, sink);
      return chunk.size();
    }
    // Paused: the message goes on from the bytes not used, in this call or a later one.
    const bool message_done = ends_message && status == Inflater::Status::ok;
    std::span<const std::byte> produced(message.data() + before, message.size() - before);
    message_size_ += produced.size();
    pieces.inflate_left -= std::min(pieces.inflate_left, produced.size());
    if (message_opcode_ == Opcode::text && !accept_text(produced, handler, sink)) {
      return chunk.size();
    }
    if (message_done && message_opcode_ == Opcode::text && !utf8_.at_boundary()) {
      fail({close_code::invalid_payload, "text message ends inside a UTF-8 sequence"}, handler,
           sink);
      return chunk.size();
    }
    if (config_->stream_fragments) {
      deliver(produced, message_done, handler);
      message.clear();
    } else if (message_done) {
      deliver(join_inflated_blocks(pieces), true, handler);
    }
    if (message_done) finish_message();
    // Paused with the turn's share left: the block is full, the next one takes the rest.
    if (status != Inflater::Status::paused || pieces.inflate_left == 0 || state_ == State::closed) {
      return used;
    }
  }
}

void Session::set_aside_full_block(Compression& pieces) {
  std::vector<std::byte>& full = pieces.inflated;
  // Finishing what zlib had taken in may have taken it past the block (rarely): charged exactly.
  if (full.capacity() > full.size()) full.shrink_to_fit();
  pieces.inflated_blocks_capacity += full.capacity();
  pieces.inflated_blocks.push_back(std::move(full));
  full = std::vector<std::byte>();
  // Whole at once, unless the message may not grow that much (one byte more tells it is too big).
  const auto budget = static_cast<std::size_t>(config_->max_message_size - message_size_);
  full.reserve(budget < inflated_block ? budget + 1 : inflated_block);
}

std::span<const std::byte> Session::join_inflated_blocks(Compression& pieces) {
  if (pieces.inflated_blocks.empty()) return pieces.inflated;
  std::vector<std::byte> whole;
  whole.reserve(static_cast<std::size_t>(message_size_));
  for (std::vector<std::byte>& block : pieces.inflated_blocks) {
    whole.insert(whole.end(), block.begin(), block.end());
    std::vector<std::byte>().swap(block);  // freed as it goes: the message and one block at most
  }
  whole.insert(whole.end(), pieces.inflated.begin(), pieces.inflated.end());
  pieces.inflated_blocks.clear();
  pieces.inflated_blocks_capacity = 0;
  pieces.inflated = std::move(whole);
  return pieces.inflated;
}

bool Session::accept_text(std::span<const std::byte> data, SessionHandler& handler,
                          FrameSink& sink) {
  if (utf8_.feed(data)) return true;
  fail({close_code::invalid_payload, "invalid UTF-8 in text message"}, handler, sink);
  return false;
}

void Session::deliver(std::span<const std::byte> data, bool last, SessionHandler& handler) {
  // After we sent a close the peer's data still arrives (it may have been sent before the peer
  // saw our close): it is delivered. Once closed (the peer's close, an error, or abandoned), not.
  if (state_ == State::closed) return;
  if (!config_->stream_fragments) {
    handler.on_message(message_opcode_, data);
    return;
  }
  // Stream mode: empty pieces are skipped, except that every message has a first and a last.
  if (data.empty() && message_delivered_first_ && !last) return;
  handler.on_fragment(message_opcode_, data, !message_delivered_first_, last);
  message_delivered_first_ = true;
}

void Session::handle_control(std::span<const std::byte> payload, SessionHandler& handler,
                             FrameSink& sink) {
  switch (parser_.header().opcode) {
    case Opcode::ping:
      // While closing the ping goes unanswered: the close we sent was our last frame (5.5.1).
      if (state_ == State::closed) return;
      if (config_->auto_pong && state_ == State::open) send_pong(payload, sink);
      handler.on_ping(payload);
      return;
    case Opcode::pong:
      if (state_ != State::closed) handler.on_pong(payload);
      return;
    case Opcode::close: {
      ClosePayload close = parse_close_payload(payload.data(), payload.size());
      if (close.error) {
        fail(close.error, handler, sink);
        return;
      }
      if (state_ == State::open) {
        // Answer once, echoing the code (RFC 6455 5.5.1); an empty close is answered empty.
        send_close(close.code, {}, sink);
      }
      state_ = State::closed;
      handler.on_close(close.code, close.reason);
      return;
    }
    default:
      return;  // the header parser refuses reserved control opcodes
  }
}

void Session::finish_message() {
  message_opcode_ = Opcode::continuation;
  message_compressed_ = false;
  if (compression_ && compression_->inflated.capacity() != 0) {
    give_back_thread_buffer(ThreadBuffer::inflate_output, std::move(compression_->inflated));
  }
  if (!reassembly_) return;
  std::vector<std::byte>().swap(reassembly_->message);
  drop_reassembly_if_unused();
}

void Session::abandon() noexcept {
  state_ = State::closed;
  abandoned_ = true;
  if (!in_receive_) release_memory();
}

void Session::release_memory() noexcept {
  message_opcode_ = Opcode::continuation;
  reassembly_.reset();
  compression_.reset();
  deflate_on_ = false;
  deflate_answer_ = InternedText();
}

void Session::fail(ProtocolError error, SessionHandler& handler, FrameSink& sink) {
  if (state_ == State::open) send_close(error.close_code, error.reason, sink);
  state_ = State::closed;
  handler.on_error(error);
}

Session::MessageHead Session::write_head(const FrameHeader& header, std::byte* out,
                                         MaskKey& mask) const noexcept {
  if (config_->role == Role::server || header.masked) {
    mask = header.mask;
    return {write_frame_header(out, header), header.masked};
  }
  // Client frames are masked with a fresh key each (RFC 6455 5.3).
  out[0] = frame_first_byte(header);
  mask = random_mask_key();
  return {write_frame_length(out, header.payload_length, &mask), true};
}

void Session::write(const FrameHeader& header, std::span<const std::byte> payload,
                    FrameSink& sink) {
  std::array<std::byte, max_frame_header_size> bytes;
  MaskKey mask;
  const MessageHead head = write_head(header, bytes.data(), mask);
  sink.write_frame({bytes.data(), head.size}, payload, head.masked ? &mask : nullptr);
}

bool Session::send_data_frame(Opcode opcode, std::span<const std::byte> payload, bool fin,
                              bool compress, bool first, FrameSink& sink) {
  FrameHeader header;
  header.fin = fin;
  header.opcode = opcode;
  if (compress) {
    // RSV1 marks the first frame of a compressed message (RFC 7692 6).
    header.rsv1 = first;
    // Lent by the thread for this frame: the sink copies the payload (or writes it) at once.
    std::vector<std::byte> out = take_thread_buffer(ThreadBuffer::deflate_output);
    const bool compressed = compress_frame(payload, first, fin, out);
    if (compressed) {
      header.payload_length = out.size();
      write(header, out, sink);
    }
    give_back_thread_buffer(ThreadBuffer::deflate_output, std::move(out));
    return compressed;
  }
  header.payload_length = payload.size();
  write(header, payload, sink);
  return true;
}

bool Session::compress_frame(std::span<const std::byte> payload, bool first, bool fin,
                             std::vector<std::byte>& out) {
  // A whole message without context takeover: a Deflater of the moment, which takes the thread's
  // zlib state and gives it back within the call, so that the connection holds nothing for it.
  const DeflateParams params = *deflate_params();
  if (first && fin && outgoing(params, config_->role).no_context_takeover) {
    return make_deflater(params, config_->role, config_->deflate).compress(payload, true, out);
  }
  // A streamed message holds zlib's state from its first piece to its last, and a context kept
  // lasts: the compression state carries them.
  return compression().deflater.compress(payload, fin, out);
}

bool Session::send_message(Opcode opcode, std::span<const std::byte> payload, FrameSink& sink,
                           bool compress) {
  if (!may_send_message(opcode)) return false;
  const bool use_deflate = compress && compresses(payload.size());
  return send_data_frame(opcode, payload, true, use_deflate, true, sink);
}

bool Session::compresses(std::size_t message_size) const noexcept {
  return compresses_outgoing() && message_size >= config_->deflate.min_compress_size;
}

bool Session::send_fragment(Opcode opcode, std::span<const std::byte> payload, bool fin,
                            FrameSink& sink, bool compress) {
  if (state_ != State::open) return false;
  const bool first = !sending_fragmented();
  if (first) {
    if (opcode != Opcode::text && opcode != Opcode::binary) return false;
    send_opcode_ = opcode;
    // Only a compressed message needs the compression state (kept to its last piece).
    if (compress && compresses_outgoing()) {
      compression().sending_compressed = true;
    } else if (compression_) {
      compression_->sending_compressed = false;
    }
  }
  const bool use_deflate = compression_ && compression_->sending_compressed;
  const bool sent = send_data_frame(first ? opcode : Opcode::continuation, payload, fin,
                                    use_deflate, first, sink);
  if (fin) {
    send_opcode_ = Opcode::continuation;
    drop_compression_if_unused();
  }
  return sent;
}

bool Session::send_ping(std::span<const std::byte> payload, FrameSink& sink) {
  if (state_ != State::open || payload.size() > max_control_payload) return false;
  FrameHeader header;
  header.fin = true;
  header.opcode = Opcode::ping;
  header.payload_length = payload.size();
  write(header, payload, sink);
  return true;
}

bool Session::send_pong(std::span<const std::byte> payload, FrameSink& sink) {
  if (state_ != State::open || payload.size() > max_control_payload) return false;
  FrameHeader header;
  header.fin = true;
  header.opcode = Opcode::pong;
  header.payload_length = payload.size();
  write(header, payload, sink);
  return true;
}

bool Session::send_close(std::uint16_t code, std::string_view reason, FrameSink& sink) {
  if (state_ != State::open) return false;
  std::array<std::byte, max_control_payload> payload;
  std::size_t size = 0;
  if (code != close_code::no_status) size = write_close_payload(payload.data(), code, reason);
  FrameHeader header;
  header.fin = true;
  header.opcode = Opcode::close;
  header.payload_length = size;
  write(header, {payload.data(), size}, sink);
  state_ = State::closing;
  return true;
}

bool Session::send_raw(const Frame& frame, FrameSink& sink) {
  if (state_ == State::closed) return false;
  FrameHeader header;
  header.fin = frame.fin;
  header.rsv1 = frame.rsv1;
  header.rsv2 = frame.rsv2;
  header.rsv3 = frame.rsv3;
  header.opcode = frame.opcode;
  header.payload_length = frame.payload.size();
  if (frame.mask) {
    header.masked = true;
    header.mask = *frame.mask;
  }
  write(header, frame.payload, sink);
  if (frame.opcode == Opcode::close && state_ == State::open) state_ = State::closing;
  return true;
}

}  // namespace fastws::protocol
