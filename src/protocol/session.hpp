// The WebSocket session state machine (RFC 6455 sections 5-7, RFC 7692), for either role.
//
// Sans-I/O: bytes in, events and bytes out. The session never touches a socket, a thread or a
// clock. The owner (a server or client connection, a test, a fuzzer) feeds received bytes with
// receive() and gets events through a SessionHandler; every frame the session wants to send
// (automatic pongs, close replies, the user's messages) goes to a FrameSink.
//
// Not thread-safe: one session belongs to one connection, driven from one thread at a time.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "fastws/frame.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/interned_text.hpp"
#include "protocol/mask_key.hpp"
#include "protocol/permessage_deflate.hpp"
#include "protocol/role.hpp"
#include "protocol/utf8.hpp"

namespace fastws::protocol {

inline constexpr std::size_t default_max_message_size = 16u << 20;

// Settings shared by many sessions (one object per server or client; it must outlive them).
struct SessionConfig {
  Role role = Role::server;
  // Largest message accepted, after decompression; also the largest frame. Larger -> 1009.
  std::size_t max_message_size = default_max_message_size;
  // Deliver data as it arrives (on_fragment) instead of whole messages (on_message).
  bool stream_fragments = false;
  // Answer pings with pongs (RFC 6455 5.5.2) without the user's help.
  bool auto_pong = true;
  // Hand every frame to on_frame and do nothing else with it (no reassembly, no automatic
  // replies). Header rules (masking, reserved bits and opcodes, sizes) are still enforced.
  bool raw_frames = false;
  // Compression settings when permessage-deflate was negotiated (level, memory, min size).
  DeflateConfig deflate;
  // Bytes one receive() call inflates (give or take 16 KiB, one step of zlib's work; at least one
  // step): past them it returns early, the rest of its input unused and unchanged, for the owner
  // to feed again after its other peers, so that one connection cannot hold up the others on its
  // thread however well it compresses (a few KB of deflate inflate to megabytes). 16 KiB is
  // 20-100 us of zlib's work: 50 peers each inflating their share in every turn of a loop
  // delay the others by a few ms (measured by bench/run_attack.sh), while a turn costs a few us.
  std::size_t inflate_per_receive = 16 * 1024;

  // Frames one message may have: fragment floods are refused while a large message in small
  // fragments (4 MiB in 64-byte pieces) still passes; scales with the message limit.
  std::size_t max_fragments_per_message() const noexcept {
    return std::max<std::size_t>(1024, max_message_size / 64);
  }
};

// Receives the frames the session sends. `payload` is unmasked; when `mask` is not null the sink
// must mask the payload with it while copying (copy_masked). Header and payload are separate so
// a sink can send both with one writev without copying the payload.
class FrameSink {
 public:
  virtual void write_frame(std::span<const std::byte> header, std::span<const std::byte> payload,
                           const MaskKey* mask) = 0;

 protected:
  ~FrameSink() = default;
};

// Events of a session. Data spans are valid only during the call.
class SessionHandler {
 public:
  // A whole data message (text already validated as UTF-8, decompressed if it was compressed).
  virtual void on_message(Opcode opcode, std::span<const std::byte> data) = 0;
  // stream_fragments mode: a piece of a message; `first` on the first piece (opcode text or
  // binary), `last` on the final one. Pieces follow the wire, not the sender's fragment sizes.
  virtual void on_fragment(Opcode opcode, std::span<const std::byte> data, bool first, bool last);
  virtual void on_ping(std::span<const std::byte> data);
  virtual void on_pong(std::span<const std::byte> data);
  // The peer's close frame arrived (code 1005 when it carried none). The reply, if one is due,
  // was already written to the sink. Nothing is delivered after this.
  virtual void on_close(std::uint16_t code, std::string_view reason);
  // The peer broke the protocol or a limit: a close frame with error.close_code was written to
  // the sink (unless one was already sent). The owner should flush and close the transport.
  virtual void on_error(ProtocolError error);
  // raw_frames mode: every frame, payload unmasked (not decompressed).
  virtual void on_frame(const FrameHeader& header, std::span<const std::byte> payload);

 protected:
  ~SessionHandler() = default;
};

class Session {
 public:
  enum class State : std::uint8_t {
    open,     // messages flow both ways
    closing,  // we sent a close frame and wait for the peer's
    closed,   // close handshake done, or failed: nothing more is sent or delivered
  };

  // `config` must outlive the session. `deflate` is set when permessage-deflate was negotiated;
  // `deflate_answer` is then the Sec-WebSocket-Extensions value that agreed to it, kept for
  // deflate_answer() interned (InternedText: a server's answers are few, one copy per process,
  // so that a session holds 2 bytes for it).
  explicit Session(const SessionConfig& config, std::optional<DeflateParams> deflate = {},
                   std::string_view deflate_answer = {});
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  // Feeds received bytes, any split. The buffer is modified (payloads are unmasked in place).
  // Returns the number of bytes used; after a close or an error the rest is ignored. Fewer than
  // input.size() while the state is not closed: the call inflated its inflate_per_receive bytes;
  // the rest is as it came and must be fed again, first, in a later call.
  std::size_t receive(std::span<std::byte> input, SessionHandler& handler, FrameSink& sink);

  // Sends a whole message; it is compressed when permessage-deflate is on, `compress` allows it
  // and the message is not shorter than the configured minimum. Returns false once closing.
  bool send_message(Opcode opcode, std::span<const std::byte> payload, FrameSink& sink,
                    bool compress = true);
  // The fast way to send a whole message as it is, for a caller that places the payload right
  // after the frame's head in a buffer of its own: the same frame as send_message()'s, without
  // the frame sink, on the path most messages take. sends_as_is() says whether the message may go
  // this way (the session is open, no streamed message is being sent, a data opcode, and this
  // message is not compressed); if not, send_message(). Inline: most messages pass here, and with
  // permessage-deflate off it makes no call.
  bool sends_as_is(Opcode opcode, std::size_t payload_size) const noexcept {
    return may_send_message(opcode) && !(deflate_on_ && compresses(payload_size));
  }
  // A whole message may begin now (open, no streamed message being sent, a data opcode).
  bool may_send_message(Opcode opcode) const noexcept {
    return state_ == State::open && !sending_fragmented() && !is_control(opcode) &&
           opcode != Opcode::continuation;
  }
  // Whether our frames are masked: a client's are, each with a fresh key (RFC 6455 5.3), which the
  // caller of write_message_head() takes from random_mask_key().
  bool masks_frames() const noexcept { return config_->role == Role::client; }
  // Writes the head of that frame to `out` (at least max_frame_header_size bytes) and returns its
  // size: with `mask` (a client's frame) or without (null). The payload follows it, masked with
  // the same key.
  static std::size_t write_message_head(Opcode opcode, std::size_t payload_size, std::byte* out,
                                        const MaskKey* mask) noexcept {
    out[0] = static_cast<std::byte>(frame_bits::fin_bit | static_cast<std::uint8_t>(opcode));
    return write_frame_length(out, payload_size, mask);
  }
  // Streaming send: the first call gives the message opcode, later ones continue it; `fin` ends
  // the message. Data messages cannot interleave; control frames can go in between.
  bool send_fragment(Opcode opcode, std::span<const std::byte> payload, bool fin, FrameSink& sink,
                     bool compress = true);
  bool send_ping(std::span<const std::byte> payload, FrameSink& sink);
  bool send_pong(std::span<const std::byte> payload, FrameSink& sink);
  // Starts the close handshake (or answers nothing if it is already closing). Code 1005 sends an
  // empty close frame. State becomes closing.
  bool send_close(std::uint16_t code, std::string_view reason, FrameSink& sink);
  // Any frame exactly as crafted (mask added on the client side when the frame has none).
  // Bypasses the state rules except "nothing after close".
  bool send_raw(const Frame& frame, FrameSink& sink);

  State state() const noexcept { return state_; }
  bool deflate_enabled() const noexcept { return deflate_on_; }
  // permessage-deflate is on and our messages may be compressed (not when the peer limited our
  // window to 8 bits, which zlib cannot write).
  bool compresses_outgoing() const noexcept;
  // What permessage-deflate negotiation agreed on; null when it is off.
  std::optional<DeflateParams> deflate_params() const noexcept;
  // The deflate_answer given at construction; empty when permessage-deflate is off.
  std::string_view deflate_answer() const noexcept;
  // True while a streaming send has begun and not finished.
  bool sending_fragmented() const noexcept { return send_opcode_ != Opcode::continuation; }

  // True while a data message has begun arriving and is not complete (with raw_frames: a frame
  // arriving in pieces). An owner may bound how long that takes.
  bool receiving_message() const noexcept {
    // Inline: asked after every read; between messages the first test answers.
    return message_opcode_ != Opcode::continuation || (reassembly_ && reassembly_holds_bytes());
  }
  // The memory held for that message: the capacity of its reassembly buffer (for a compressed
  // message, of the blocks of its decompressed output); 0 between messages, and for a message
  // delivered from the input without a copy. An owner may bound the sum over its sessions.
  std::size_t message_memory() const noexcept;
  // The owner is done with the session (its connection closes): nothing more is delivered or
  // sent (state closed, permessage-deflate off), and what receiving and compressing hold is
  // freed: the message in assembly and zlib's states. Safe from a handler callback; then the
  // memory goes when receive() returns.
  void abandon() noexcept;

 private:
  struct Compression;
  struct Reassembly;

  std::size_t receive_whole_frames(std::span<std::byte> input, SessionHandler& handler,
                                   FrameSink& sink);
  bool handle_header(SessionHandler& handler, FrameSink& sink);
  // These return the bytes of `chunk` used: fewer only when inflating paused.
  std::size_t consume_payload(std::span<std::byte> chunk, SessionHandler& handler, FrameSink& sink);
  std::size_t handle_data_chunk(std::span<std::byte> chunk, bool frame_done,
                                SessionHandler& handler, FrameSink& sink);
  std::size_t handle_compressed_chunk(std::span<const std::byte> chunk, bool ends_message,
                                      SessionHandler& handler, FrameSink& sink);
  // The payload at hand is compressed data and this call inflated what it may.
  void reserve_rest_of_frame(std::vector<std::byte>& message) const;
  bool inflating_spent() const noexcept;
  // A compressed message's last block is full: it goes to the full ones, a new one is begun.
  void set_aside_full_block(Compression& pieces);
  // The compressed message is complete: its blocks in one buffer (the message's).
  std::span<const std::byte> join_inflated_blocks(Compression& pieces);
  bool accept_text(std::span<const std::byte> data, SessionHandler& handler, FrameSink& sink);
  void deliver(std::span<const std::byte> data, bool last, SessionHandler& handler);
  void handle_control(std::span<const std::byte> payload, SessionHandler& handler, FrameSink& sink);
  void finish_message();
  Reassembly& reassembly();
  bool reassembly_holds_bytes() const noexcept;
  // Frees the reassembly buffers once they hold nothing worth keeping.
  void drop_reassembly_if_unused() noexcept;
  void release_memory() noexcept;
  void fail(ProtocolError error, SessionHandler& handler, FrameSink& sink);
  void write(const FrameHeader& header, std::span<const std::byte> payload, FrameSink& sink);
  // The header of a frame to `out`: as given, or for a client masked with a fresh key (`mask`).
  struct MessageHead {
    std::size_t size = 0;
    bool masked = false;
  };
  MessageHead write_head(const FrameHeader& header, std::byte* out, MaskKey& mask) const noexcept;
  // A whole message of this size is compressed (unless its sender says not to).
  bool compresses(std::size_t message_size) const noexcept;
  bool send_data_frame(Opcode opcode, std::span<const std::byte> payload, bool fin, bool compress,
                       bool first, FrameSink& sink);
  // The compressed form of a data frame's payload to `out` (`first` and `fin` as the frame's).
  bool compress_frame(std::span<const std::byte> payload, bool first, bool fin,
                      std::vector<std::byte>& out);
  // The compression state, made on demand for a compressed message (either way).
  Compression& compression();
  // Frees the compression state once it holds nothing of a message (or of a context kept from
  // one): between messages, a connection without context takeover keeps only deflate_.
  void drop_compression_if_unused() noexcept;

  static std::uint8_t pack(const DeflateParams& params) noexcept;

  // Ordered so that no padding falls between them, the flags set once per receive() or once per
  // life in one byte, the agreed deflate parameters in another: every connection holds a
  // session (88 bytes).
  const SessionConfig* config_;
  // permessage-deflate: only while a compressed message is under way, either way (and from the
  // first message on in a direction that keeps its context).
  std::unique_ptr<Compression> compression_;
  std::unique_ptr<Reassembly> reassembly_;  // only while something arrives in pieces
  FrameHeaderParser parser_;
  std::uint64_t payload_remaining_ = 0;
  std::uint64_t message_size_ = 0;       // payload bytes of the current message (after inflate)
  std::uint32_t message_fragments_ = 0;  // frames of the current message
  Utf8Validator utf8_;
  // What permessage-deflate agreed on, in one byte (deflate_on_ tells whether it is on).
  std::uint8_t deflate_packed_ = 0;
  std::uint8_t mask_offset_ = 0;
  bool in_payload_ = false;
  bool message_compressed_ = false;
  bool message_delivered_first_ = false;          // stream mode: the first piece went out
  Opcode message_opcode_ = Opcode::continuation;  // continuation: no message in progress
  Opcode send_opcode_ = Opcode::continuation;     // continuation: no streaming send open
  State state_ = State::open;
  bool in_receive_ : 1 = false;  // receive() is on the stack: abandon() must leave the memory to it
  bool abandoned_ : 1 = false;
  bool deflate_on_ : 1 = false;
  InternedText deflate_answer_;  // empty unless permessage-deflate is on
};
static_assert(sizeof(Session) <= 88, "a session grew: every connection holds one");

}  // namespace fastws::protocol
