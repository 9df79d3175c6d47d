// Conn: a handle to one WebSocket connection.
//
// Threading contract (the headline promise of fastws):
//  1. Every connection lives on one event loop thread for its whole life; its callbacks run on
//     that thread, one at a time, in wire order.
//  2. Every method of Conn may be called from ANY thread at any time, concurrently, also after
//     the connection closed (then sends report SendStatus::closed; nothing crashes).
//  3. From the loop's own thread (inside a callback) a send goes straight to the connection's
//     output; from another thread it is queued to the loop, which is woken once for many sends.
//  4. Sends from one thread to one connection go out in call order, never interleaved with other
//     frames inside a frame.
//  5. A send never blocks. Its result says what happened (SendStatus).
//  6. No user callback runs while a library lock is held.
//
// Conn is a cheap, copyable, reference-counted handle: keep copies in your own maps as long as
// you like; the connection's memory stays valid until the last handle is gone.
#pragma once

#include <any>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fastws/close_code.hpp"
#include "fastws/frame.hpp"
#include "fastws/request.hpp"

namespace fastws {

namespace detail {
class Connection;
}

// What a send did. Every status but dropped, invalid and closed means the bytes will be written
// unless the connection closes first.
enum class SendStatus : std::uint8_t {
  written,       // handed to the kernel (or to the batch that leaves at the end of this read)
  queued,        // accepted, waiting its turn: sent from another thread (queued to the
                 // connection's loop), or waiting for a streamed message being sent to finish
  backpressure,  // accepted, but the peer is slow: it waits in the connection's buffer
                 // (buffered_amount() > 0); on_drain fires when it empties
  dropped,       // refused by the slow-consumer policy (ServerOptions::max_buffered_bytes), or
                 // a later piece of a streamed message that was refused at its first piece
  closed,        // the connection is closing or closed
  invalid,       // refused because the send itself is not allowed: a data frame that breaks the
                 // message sequence (send_frame), a ping payload over 125 bytes, a control
                 // opcode given to send() or writer(), a write after finish()
};

// The status's name, "written", "queued", ... (for logs).
const char* to_string(SendStatus status) noexcept;

// A received data message. Valid only during the callback (zero copy): copy what you keep.
class Message {
 public:
  // A view of `data` (the library makes them; handy in tests).
  Message(Opcode opcode, std::span<const std::byte> data) noexcept : opcode_(opcode), data_(data) {}
  // Opcode::text or Opcode::binary.
  Opcode opcode() const noexcept { return opcode_; }
  bool is_binary() const noexcept { return opcode_ == Opcode::binary; }
  bool is_text() const noexcept { return opcode_ == Opcode::text; }
  // The payload, whole (fragments reassembled, decompressed).
  std::span<const std::byte> data() const noexcept { return data_; }
  // The payload as characters (valid UTF-8 for text messages: fastws checked it).
  std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(data_.data()), data_.size()};
  }
  // The payload's size in bytes.
  std::size_t size() const noexcept { return data_.size(); }

 private:
  Opcode opcode_;
  std::span<const std::byte> data_;
};

// Bytes shared by many sends without copies (broadcast to many connections, resend).
using SharedPayload = std::shared_ptr<const std::vector<std::byte>>;
SharedPayload make_shared_payload(std::string_view data);
SharedPayload make_shared_payload(std::span<const std::byte> data);

class Writer;

// Whether send_frame holds data frames (text, binary, continuation) to the message sequence of
// RFC 6455 5.4: a text or binary frame with fin=0 opens a fragmented message, continuations
// extend it, the one with fin=1 ends it; messages never interleave.
enum class FrameSequence : std::uint8_t {
  // The default. A frame that would break the sequence is refused (SendStatus::invalid): a text
  // or binary frame while a message you opened with send_frame is open, a continuation while
  // none is. While such a message is open, other messages (send, writers, broadcasts) wait for
  // its last frame, as they wait for a Writer; and it waits for an open Writer's message. Build
  // one fragmented message from one thread at a time. The buffer limit judges the message at its
  // opening frame, like a Writer's (see Writer).
  checked,
  // Sent at once exactly as crafted, wherever it falls, and left out of the sequence kept above:
  // a tool for testing how peers handle broken sequences. Still subject to the buffer limit.
  unchecked,
};

// A handle to one connection: copyable, comparable, usable from any thread, valid after the
// connection closed (sends then report SendStatus::closed). The threading contract is at the
// top of this file.
class Conn {
 public:
  // An empty handle (false in a boolean context).
  Conn() noexcept = default;
  // Handles share the connection (reference counted).
  Conn(const Conn& other) noexcept;
  Conn(Conn&& other) noexcept;
  Conn& operator=(Conn other) noexcept;
  ~Conn();

  // False for a default-constructed handle.
  explicit operator bool() const noexcept { return connection_ != nullptr; }
  // Whether two handles name the same connection.
  friend bool operator==(const Conn& a, const Conn& b) noexcept {
    return a.connection_ == b.connection_;
  }

  // Unique per server for its lifetime, never reused.
  std::uint64_t id() const noexcept;
  // "127.0.0.1:50000", "[::1]:50000", "unix:/path". Over a Unix socket both sides report the
  // socket's path as the remote address (a client's end has no name of its own), and "unix"
  // for an end without a name (a client's local address).
  std::string remote_address() const;
  std::string local_address() const;
  // The upgrade request: only during on_upgrade / on_open on the loop thread, else nullptr.
  // What you need later (path, a header) goes into the user data.
  const Request* request() const noexcept;
  // The negotiated subprotocol (empty if none) and extensions (the header value sent).
  std::string_view subprotocol() const noexcept;
  std::string_view extensions() const noexcept;

  // Typed user data, set during on_upgrade (Upgrade::set_user_data) or on_open. Reading it from
  // any thread is safe once on_open ran; setting it is for the loop thread (open callback).
  template <class T>
  T* user_data() const noexcept {
    return std::any_cast<T>(user_data_slot());
  }
  void set_user_data(std::any value) const;

  // Open: upgraded and not closing (any thread; may change right after).
  bool is_open() const noexcept;
  // Bytes accepted for sending that the kernel has not taken yet (plus sends queued from other
  // threads, and sends waiting for a streamed message). Readable from any thread.
  std::size_t buffered_amount() const noexcept;

  // Sends one message: text, or `data` as binary (or text); a SharedPayload is sent without a
  // copy. Any thread; the status says what became of it (SendStatus).
  SendStatus send(std::string_view text) const;
  SendStatus send(std::span<const std::byte> data, Opcode op = Opcode::binary) const;
  SendStatus send(const SharedPayload& data, Opcode op = Opcode::binary) const;
  // Any frame, exactly as crafted. Control frames (and reserved opcodes) go at once; data
  // frames keep to the message sequence unless `sequence` is unchecked (see FrameSequence).
  SendStatus send_frame(const Frame& frame, FrameSequence sequence = FrameSequence::checked) const;
  // A ping with up to 125 bytes of payload (the pong shows in on_pong).
  SendStatus ping(std::span<const std::byte> data = {}) const;
  SendStatus ping(std::string_view data) const;
  // Starts the close handshake (idempotent: later calls report closed). The socket closes when
  // the peer answers or after close_timeout. What the peer sent before it saw our close still
  // reaches on_message (and on_ping, on_pong, on_frame) until its close arrives. On a client's
  // connection still opening it cancels the dial (no on_close, no on_error).
  SendStatus close(std::uint16_t code = close_code::normal, std::string_view reason = {}) const;
  // Drops the TCP connection at once, without a close handshake (on_close reports 1006); a
  // dial, like close().
  void terminate() const;
  // Streaming send of one message: each write may leave as a fragment; finish() ends it.
  Writer writer(Opcode op = Opcode::binary) const;

  // Topics (the seed's broadcast groups): Server::publish(topic, ...) reaches every subscriber.
  // Any thread; takes effect on the connection's loop, in order with this thread's sends. A
  // closed connection leaves all its topics by itself.
  // subscribe() is false when refused: the connection is closed, or it is in
  // ServerOptions::max_topics_per_connection topics already (subscribes queued from other
  // threads hold their place until the loop runs them, even to a topic it is in). Subscribing
  // to a topic it is in is true and changes nothing. Both cost the same however many topics
  // the connection is in and however many members the topic has.
  bool subscribe(std::string_view topic) const;
  void unsubscribe(std::string_view topic) const;

 private:
  friend class detail::Connection;
  friend class Writer;
  explicit Conn(detail::Connection* connection) noexcept;  // takes a new reference
  std::any* user_data_slot() const noexcept;
  std::optional<SendStatus> refuse_send() const noexcept;

  detail::Connection* connection_ = nullptr;
};

// Streams one message in pieces (RFC 6455 5.4 fragmentation). Thread-safe like Conn, but one
// writer's calls must come from one thread at a time. Other messages sent to the connection while
// a writer is open wait until it finishes (counted in buffered_amount() and against the limit).
// Destroying an unfinished writer finishes the message.
//
// The buffer limit (ServerOptions::max_buffered_bytes) treats a streamed message as one: it is
// sent whole or dropped whole, never with a piece missing. It is judged at its first piece, like
// a whole message; refused there, the message is dropped: that piece and every later one report
// dropped and nothing of it reaches the wire. Once begun it is finished: later pieces are not
// dropped, even past the limit; one that would take the buffer past max_buffered_bytes +
// max_message_size closes the connection instead (on_close 1008; that piece and later sends
// report dropped), since the message could neither be finished within bounds nor cut.
class Writer {
 public:
  // Movable: the message goes on from the new object.
  Writer(Writer&&) noexcept;
  Writer& operator=(Writer&&) noexcept;
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  ~Writer();

  // The next piece of the message.
  SendStatus write(std::span<const std::byte> data);
  SendStatus write(std::string_view data);
  // The last piece (may be empty): ends the message.
  SendStatus finish(std::span<const std::byte> data = {});
  SendStatus finish(std::string_view data);

 private:
  friend class Conn;
  Writer(Conn conn, Opcode op) noexcept : conn_(std::move(conn)), opcode_(op) {}
  SendStatus write_piece(std::span<const std::byte> data, bool fin);

  Conn conn_;
  Opcode opcode_;
  std::uint64_t stream_ = 0;  // which streamed message, so two writers never interleave
  bool finished_ = false;
  bool dropped_ = false;  // refused at its first piece: the whole message is dropped
};

}  // namespace fastws
