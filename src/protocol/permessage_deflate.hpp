// permessage-deflate (RFC 7692): negotiation and the per-connection compressor/decompressor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/role.hpp"

namespace fastws::protocol {

// What one side is willing to do; the defaults are RFC 7692's own.
struct DeflateConfig {
  bool server_no_context_takeover = false;  // ask for / accept it
  bool client_no_context_takeover = false;
  // 8..15, the largest window we allow. Our own compressor's window (the server's on a server,
  // the client's on a client) is at least 9, and we never ask a peer for 8: zlib cannot
  // compress with an 8-bit window, so 8 means 9 there.
  std::uint8_t server_max_window_bits = 15;
  std::uint8_t client_max_window_bits = 15;
  int compression_level = 6;           // zlib level 1..9 (or -1 default)
  int mem_level = 8;                   // zlib memLevel 1..9; lower costs less memory per connection
  std::size_t min_compress_size = 64;  // messages shorter than this go uncompressed
  // Our own messages are compressed each on its own (the thread's shared deflate stream, see
  // Deflater): a server answers with server_no_context_takeover, a client offers
  // client_no_context_takeover.
  bool shared_compressor = false;
};

// The parameters both sides agreed on for one connection.
struct DeflateParams {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  std::uint8_t server_max_window_bits = 15;
  std::uint8_t client_max_window_bits = 15;

  bool operator==(const DeflateParams&) const = default;
};

// Server side: picks the first acceptable permessage-deflate offer in a Sec-WebSocket-Extensions
// value (several headers joined with ", "), falling back offer by offer. Offers with unknown,
// duplicate or invalid parameters are declined. One asking for server_max_window_bits=8 is agreed
// to, and the server then sends uncompressed (zlib cannot compress with an 8-bit window). A
// malformed header declines everything. Returns the agreed
// parameters and sets `response` to the extension value to send back, or nullopt (decline: no
// extension, `response` empty). Linear in the header's length.
std::optional<DeflateParams> negotiate_deflate_offer(std::string_view extensions_header,
                                                     const DeflateConfig& config,
                                                     std::string& response);

// Client side: the Sec-WebSocket-Extensions offer for `config`.
std::string make_deflate_offer(const DeflateConfig& config);

// Client side: checks the server's answer against what was offered. On success returns the
// agreed parameters; on failure returns nullopt and sets `error` (e.g. "server_max_window_bits
// above what was offered"). client_max_window_bits=8 is agreed to, and the client then sends
// uncompressed (zlib cannot compress with an 8-bit window).
std::optional<DeflateParams> accept_deflate_response(std::string_view extensions_header,
                                                     const DeflateConfig& offered,
                                                     std::string& error);

// Compresses whole messages, or a message in pieces, for one connection.
//
// Memory: nothing but this object until the first compress(); then zlib's deflate state, which
// is about (1 << (window_bits + 2)) + (1 << (mem_level + 9)) bytes plus ~6 KiB: 262 KiB for
// window 15 and memLevel 8 (the defaults), 198 KiB with memLevel 7, 135 KiB with memLevel 1
// (measured by bench_deflate).
// Shared stream: with no_context_takeover nothing is carried from one message to the next, so
// the state is the calling thread's: taken when a message begins, reset and given back when it
// ends. A connection holds one only while it streams a message in pieces; all the connections
// of a loop (one thread) compress with one stream, whatever their number. A state in use by one
// connection is never seen by another (a second user of the thread gets a state of its own,
// and of two given back the thread keeps one), so this holds for any caller on any thread, as
// long as one Deflater is used by one thread at a time. A whole message (one compress() call)
// takes a stream sized for it, the smallest window that holds it and a hash table to match
// (the table is what each reset clears: 8 KiB for a 1 KiB message instead of 64), which finds
// the matches the negotiated window would (the same bytes, in the tests); the thread keeps one
// idle state per size used.
// Thread safety: none; one connection's loop thread uses it.
class Deflater {
 public:
  // window_bits 9..15 (as negotiated for our sending direction): zlib cannot write a raw deflate
  // stream with an 8-bit window, so a session agreed on 8 never compresses (see
  // permessage_deflate.cpp); with 8 every compress() fails. no_context_takeover resets the
  // dictionary after every message (and shares the stream, see above). mem_level is zlib's
  // memLevel, held at window_bits - 4 for windows under 12 bits (a larger hash table makes a small
  // window slow, see permessage_deflate.cpp).
  Deflater(int window_bits, bool no_context_takeover, int level, int mem_level);
  ~Deflater();
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  // Appends the compressed form of `in` to `out`. Every call is flushed (Z_SYNC_FLUSH), so each
  // fragment of a streamed message carries all of its data. With end_of_message the trailing
  // 00 00 ff ff is removed (RFC 7692 7.2.1); an empty message gives the single byte 00.
  // Returns false on a zlib failure.
  bool compress(std::span<const std::byte> in, bool end_of_message, std::vector<std::byte>& out);

  // A zlib state is this object's: a message streamed in pieces is under way, or (with context
  // takeover) a message went out. Otherwise the object is settings alone, free to drop.
  bool holds_state() const noexcept { return state_ != nullptr; }

 private:
  struct State;
  // The zlib window and memLevel of a stream.
  struct Shape {
    int window_bits = 15;
    int mem_level = 8;
  };
  // What a message needs: a whole one of a known size, without context takeover, may get a
  // smaller stream than the negotiated one (see permessage_deflate.cpp).
  Shape shape_for(std::optional<std::size_t> whole_message) const noexcept;
  bool ensure_state(const Shape& shape);
  // The calling thread's idle shared state of that shape, null when there is none.
  static std::unique_ptr<State>& thread_idle_state(const Shape& shape);

  std::unique_ptr<State> state_;  // null until the first compress() (shared: between messages)
  bool no_context_takeover_;
  int window_bits_;
  int level_;
  int mem_level_;
};

// Decompresses messages for one connection, never producing more than it is allowed to.
//
// Memory: nothing but this object until the first decompress(); then zlib's inflate state
// (~7 KiB) and its 32 KiB window. With no_context_takeover the state is the calling thread's,
// shared the way Deflater's is: held by a connection only while a message of its is inflated
// over several calls (it arrives in pieces, or inflating paused).
// Thread safety: none; one connection's loop thread uses it.
class Inflater {
 public:
  enum class Status : std::uint8_t { ok, paused, too_big, error };

  // Where a call may stop early, so that its caller bounds the work of each call (a few KB of a
  // deflate bomb inflate to megabytes) and the buffer it fills.
  struct Pause {
    std::size_t after_output = SIZE_MAX;  // once the output grew by this much (give or take 16 KiB)
    std::size_t at_capacity = SIZE_MAX;   // when `out` is full at this capacity
  };

  // Always inflates with a 15-bit window, whatever `window_bits` says: a larger window decodes
  // any stream written with a smaller one, and it spares us a peer that uses a window of 9 when
  // 8 was agreed (as zlib does). no_context_takeover: the peer resets its dictionary after
  // every message, so we reset ours too.
  Inflater(int window_bits, bool no_context_takeover);
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Appends the decompressed form of `in` to `out`, working in bounded chunks: if the output
  // would grow by more than `max_output` bytes, stops and returns too_big (nothing near the
  // bomb's full size is ever allocated: `out` grows by at most max_output + 1 bytes, and its
  // capacity is never raised past that). With end_of_message, the 00 00 ff ff tail is fed too.
  // A message that ends with a final (BFINAL) block instead is accepted (RFC 7692 7.2.3.4), and
  // an empty payload is an empty message. Returns error for data zlib rejects (the session
  // closes with 1007); last_error() then holds zlib's reason.
  Status decompress(std::span<const std::byte> in, bool end_of_message, std::vector<std::byte>& out,
                    std::size_t max_output);
  // The same, stopping early while input is left: once the output grew by pause.after_output
  // bytes (give or take 16 KiB, one step of zlib's work), or when `out` is full at
  // pause.at_capacity (its capacity is never raised past that while input is left; finishing
  // what zlib took in, and the message's end, may take a few KB more). Returns paused then, with
  // `consumed` (always set) short of in.size(): the rest is not part of zlib's state and must
  // come first in the next call (end_of_message is not acted on when paused).
  Status decompress(std::span<const std::byte> in, bool end_of_message, std::vector<std::byte>& out,
                    std::size_t max_output, const Pause& pause, std::size_t& consumed);

  const char* last_error() const noexcept { return last_error_; }
  // A zlib state is this object's: a message is being inflated over several calls, or (with
  // context takeover) a message came in. Otherwise the object is settings alone, free to drop.
  bool holds_state() const noexcept { return state_ != nullptr; }

 private:
  struct State;
  bool ensure_state();
  // The calling thread's idle shared state, null when there is none.
  static std::unique_ptr<State>& thread_idle_state();
  Status inflate_bytes(std::span<const std::byte> in, std::vector<std::byte>& out,
                       std::size_t start, std::size_t max_output, const Pause& pause,
                       std::size_t& consumed);
  Status inflate_piece(std::vector<std::byte>& out, std::size_t start, std::size_t max_output,
                       const Pause& pause);
  void finish_message();

  std::unique_ptr<State> state_;  // null until the first decompress() (shared: between messages)
  bool no_context_takeover_;
  const char* last_error_ = "";
};

// Output buffers of the calling thread, lent for one message at a time, so that a connection
// between messages holds none: the compressed form of a message being sent (the sink copies it),
// and a compressed message being inflated. Lent out, a buffer is the borrower's alone: another
// borrower on the thread meanwhile gets an empty one, and of two given back one is kept. Buffers
// above max_kept_thread_buffer bytes are freed when given back.
enum class ThreadBuffer : std::uint8_t { deflate_output, inflate_output };
inline constexpr std::size_t max_kept_thread_buffer = 64 * 1024;
// The thread's buffer, empty (its capacity kept), or a new empty vector when it is lent out.
std::vector<std::byte> take_thread_buffer(ThreadBuffer which) noexcept;
void give_back_thread_buffer(ThreadBuffer which, std::vector<std::byte> buffer) noexcept;

}  // namespace fastws::protocol
