#include "protocol/permessage_deflate.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <optional>
#include <string>

#define ZLIB_CONST
#include <zlib.h>

#include "protocol/extension_header.hpp"
#include "protocol/http_parser.hpp"

namespace fastws::protocol {

namespace {

constexpr std::string_view extension_name = "permessage-deflate";
constexpr std::uint8_t max_window_bits = 15;

// zlib's window-bits-8 quirk: deflateInit2 refuses a raw deflate stream with an 8-bit window (and
// with the zlib wrapper it silently uses 9). A peer may still limit our window to 8 (RFC 7692
// 7.1.2): we agree, and then send every message of that connection uncompressed, which the RFC
// allows message by message (Session::compresses_outgoing). We never ask a peer for 8 (the peer
// is most likely zlib too). Decompression is unaffected: the Inflater always uses a 15-bit
// window, which decodes streams of any smaller window.
constexpr std::uint8_t min_compress_window_bits = 9;
constexpr int max_mem_level = 9;  // zlib's MAX_MEM_LEVEL

// The tail every flushed message ends with and that goes unsent (RFC 7692 7.2.1, 7.2.2).
constexpr std::array<std::byte, 4> flush_tail = {std::byte{0x00}, std::byte{0x00}, std::byte{0xFF},
                                                 std::byte{0xFF}};

// z_stream counts bytes in uInt; larger inputs are fed in pieces of this size.
constexpr std::size_t max_zlib_piece = std::size_t{1} << 30;

// Output is produced in steps of this size so a bomb is caught after one step beyond the limit.
constexpr std::size_t inflate_step = 16 * 1024;

// Each step's room is zero-filled (vector::resize) before zlib writes it, so a call starts with a
// step near what its input may give and doubles it while zlib fills it: a 1 KiB message (and the
// 00 00 ff ff tail after it, which gives nothing) no longer pays 16 KiB of memset each, a cost
// per message as large as inflating it. Text deflates 3-10x; up to 8x fits the first step.
constexpr std::size_t min_inflate_step = 512;
constexpr std::size_t first_inflate_step(std::size_t input) {
  return std::clamp(std::bit_ceil(input * 8), min_inflate_step, inflate_step);
}

// A configured window (whichever side's) as one zlib can compress with: 9..15.
std::uint8_t compressible_window(std::uint8_t configured) {
  return std::clamp(configured, min_compress_window_bits, max_window_bits);
}

// RFC 7692 7.1.2.1: a decimal integer 8..15 without leading zeroes ("8" / "9" / "1" %x30-35).
std::optional<std::uint8_t> parse_window_bits(std::string_view value) {
  if (value.size() == 1 && value[0] >= '8' && value[0] <= '9') {
    return static_cast<std::uint8_t>(value[0] - '0');
  }
  if (value.size() == 2 && value[0] == '1' && value[1] >= '0' && value[1] <= '5') {
    return static_cast<std::uint8_t>(10 + (value[1] - '0'));
  }
  return std::nullopt;
}

// The parameters of one permessage-deflate offer or response (RFC 7692 7.1).
struct DeflateElement {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  std::optional<std::uint8_t> server_max_window_bits;
  bool has_client_max_window_bits = false;  // present, with or without a value
  std::optional<std::uint8_t> client_max_window_bits;
};

// Why an element's parameters are unacceptable; reason is null when they are fine.
struct ParamProblem {
  const char* reason = nullptr;
  std::string_view param;
};

enum class DeflateParam : std::uint8_t {
  server_no_context_takeover,
  client_no_context_takeover,
  server_max_window_bits,
  client_max_window_bits,
};

constexpr std::array<std::string_view, 4> param_names = {
    "server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits",
    "client_max_window_bits"};

std::optional<DeflateParam> find_param(std::string_view name) {
  for (std::size_t i = 0; i < param_names.size(); ++i) {
    if (iequals(name, param_names[i])) return static_cast<DeflateParam>(i);
  }
  return std::nullopt;
}

// RFC 7692 7.1: unknown parameters, a parameter given twice, and invalid values make the whole
// element unacceptable. The no_context_takeover parameters take no value (7.1.1);
// server_max_window_bits always has one (7.1.2.1); client_max_window_bits may come without one
// in an offer (7.1.2.2; the response rule is the client's to check).
ParamProblem read_element(std::span<const ExtensionParam> params, DeflateElement& out) {
  unsigned seen = 0;
  for (const ExtensionParam& param : params) {
    const std::optional<DeflateParam> kind = find_param(param.name);
    if (!kind) return {"unknown parameter", param.name};
    const unsigned bit = 1u << static_cast<unsigned>(*kind);
    if ((seen & bit) != 0) return {"duplicate parameter", param.name};
    seen |= bit;
    std::optional<std::uint8_t> bits;
    if (param.has_value && *kind >= DeflateParam::server_max_window_bits) {
      bits = parse_window_bits(param.value);
      if (!bits) return {"window bits value not in 8..15", param.name};
    }
    switch (*kind) {
      case DeflateParam::server_no_context_takeover:
      case DeflateParam::client_no_context_takeover:
        if (param.has_value) return {"parameter takes no value", param.name};
        (*kind == DeflateParam::server_no_context_takeover ? out.server_no_context_takeover
                                                           : out.client_no_context_takeover) = true;
        break;
      case DeflateParam::server_max_window_bits:
        if (!bits) return {"parameter needs a value", param.name};
        out.server_max_window_bits = bits;
        break;
      case DeflateParam::client_max_window_bits:
        out.has_client_max_window_bits = true;
        out.client_max_window_bits = bits;
        break;
    }
  }
  return {};
}

void append_window_bits(std::string& out, std::string_view name, std::uint8_t bits) {
  out.append("; ").append(name).append("=").append(std::to_string(bits));
}

// Server side for one well-formed offer: the parameters we agree to and the response, or nullopt
// when we cannot honour the offer.
std::optional<DeflateParams> answer_offer(const DeflateElement& offer, const DeflateConfig& config,
                                          std::string& response) {
  // RFC 7692 7.1.2.1: the answer may be smaller than the request, never larger.
  const std::uint8_t own_window = compressible_window(config.server_max_window_bits);
  // 8 requested: agreed, and we send uncompressed (see min_compress_window_bits).
  const std::uint8_t server_window =
      std::min(own_window, offer.server_max_window_bits.value_or(max_window_bits));

  DeflateParams params;
  // The shared compressor keeps no context: saying so lets the client drop its window too.
  params.server_no_context_takeover = offer.server_no_context_takeover ||
                                      config.server_no_context_takeover || config.shared_compressor;
  params.client_no_context_takeover =
      offer.client_no_context_takeover || config.client_no_context_takeover;
  params.server_max_window_bits = server_window;
  // Without the parameter the client may use up to 15 bits; with a value it promised at most that.
  params.client_max_window_bits = offer.client_max_window_bits.value_or(max_window_bits);

  response.assign(extension_name);
  // 7.1.1.1: accepting server_no_context_takeover means echoing it; the server may add it unasked.
  if (params.server_no_context_takeover) response.append("; server_no_context_takeover");
  // 7.1.1.2: the server may ask the client to drop its context. A client's offer of it is only
  // a hint: Node's ws keeps its context unless the response names the parameter too, and we
  // reset our inflater after each message (params above), so an offer of it is always echoed.
  if (params.client_no_context_takeover) response.append("; client_no_context_takeover");
  // 7.1.2.1: a requested limit must be answered; our own smaller window may be announced unasked.
  if (offer.server_max_window_bits || server_window < max_window_bits) {
    append_window_bits(response, "server_max_window_bits", server_window);
  }
  // 7.1.2.2: only an offer with client_max_window_bits may get it back, and no larger than
  // offered. We send it only when it lowers what the client would use anyway.
  const std::uint8_t wanted_client_window = compressible_window(config.client_max_window_bits);
  if (offer.has_client_max_window_bits && wanted_client_window < params.client_max_window_bits) {
    params.client_max_window_bits = wanted_client_window;
    append_window_bits(response, "client_max_window_bits", wanted_client_window);
  }
  return params;
}

std::string describe(const ParamProblem& problem) {
  return std::string(problem.reason) + ": " + std::string(problem.param);
}

// Client side: the server's answer against what `offered` put in the offer.
std::optional<DeflateParams> check_answer(const DeflateElement& answer,
                                          const DeflateConfig& offered, std::string& error) {
  if (offered.server_no_context_takeover && !answer.server_no_context_takeover) {
    error = "server_no_context_takeover was requested but not granted";  // RFC 7692 7.1.1.1
    return std::nullopt;
  }
  const std::uint8_t server_window = compressible_window(offered.server_max_window_bits);
  if (server_window < max_window_bits) {  // 7.1.2.1: a requested limit must be answered
    if (!answer.server_max_window_bits) {
      error = "server_max_window_bits was requested but not granted";
      return std::nullopt;
    }
    if (*answer.server_max_window_bits > server_window) {
      error = "server_max_window_bits above what was offered";
      return std::nullopt;
    }
  }
  // We always offer client_max_window_bits, so the server may always answer it: with a value
  // (7.1.2.2) no larger than ours; 8 makes us send uncompressed (see min_compress_window_bits).
  const std::uint8_t client_window = compressible_window(offered.client_max_window_bits);
  if (answer.has_client_max_window_bits) {
    if (!answer.client_max_window_bits) {
      error = "client_max_window_bits without a value in the response";
      return std::nullopt;
    }
    if (*answer.client_max_window_bits > client_window) {
      error = "client_max_window_bits above what was offered";
      return std::nullopt;
    }
  }
  DeflateParams params;
  params.server_no_context_takeover = answer.server_no_context_takeover;
  // 7.1.1.2: offering client_no_context_takeover is our promise whether or not it is echoed.
  params.client_no_context_takeover = answer.client_no_context_takeover ||
                                      offered.client_no_context_takeover ||
                                      offered.shared_compressor;
  params.server_max_window_bits = answer.server_max_window_bits.value_or(max_window_bits);
  params.client_max_window_bits = answer.client_max_window_bits.value_or(client_window);
  return params;
}

}  // namespace

std::optional<DeflateParams> negotiate_deflate_offer(std::string_view extensions_header,
                                                     const DeflateConfig& config,
                                                     std::string& response) {
  response.clear();
  ParsedExtensions parsed;
  if (parse_extension_header(extensions_header, parsed) != ExtensionHeaderError::none) {
    return std::nullopt;
  }
  // RFC 7692 5 and RFC 6455 9.1: offers come in the client's order of preference; take the first
  // we can honour (answer_offer writes `response` only when it accepts).
  for (const Extension& extension : parsed.extensions()) {
    if (!iequals(extension.name, extension_name)) continue;
    DeflateElement offer;
    if (read_element(extension.params, offer).reason != nullptr) continue;
    if (auto params = answer_offer(offer, config, response)) return params;
  }
  return std::nullopt;
}

std::string make_deflate_offer(const DeflateConfig& config) {
  std::string offer(extension_name);
  if (config.server_no_context_takeover) offer.append("; server_no_context_takeover");
  if (config.client_no_context_takeover || config.shared_compressor) {
    offer.append("; client_no_context_takeover");
  }
  const std::uint8_t server_window = compressible_window(config.server_max_window_bits);
  if (server_window < max_window_bits) {
    append_window_bits(offer, "server_max_window_bits", server_window);
  }
  // Offered always, so that the server may limit our window (RFC 7692 7.1.2.2); without a value
  // when we would use the full 15 bits.
  const std::uint8_t client_window = compressible_window(config.client_max_window_bits);
  if (client_window < max_window_bits) {
    append_window_bits(offer, "client_max_window_bits", client_window);
  } else {
    offer.append("; client_max_window_bits");
  }
  return offer;
}

std::optional<DeflateParams> accept_deflate_response(std::string_view extensions_header,
                                                     const DeflateConfig& offered,
                                                     std::string& error) {
  error.clear();
  ParsedExtensions parsed;
  const ExtensionHeaderError syntax = parse_extension_header(extensions_header, parsed);
  if (syntax != ExtensionHeaderError::none) {
    error = std::string("malformed Sec-WebSocket-Extensions: ") + describe(syntax);
    return std::nullopt;
  }
  // We offer permessage-deflate alone, once (RFC 6455 9.1: the server answers from the offer).
  const std::span<const Extension> extensions = parsed.extensions();
  for (const Extension& extension : extensions) {
    if (!iequals(extension.name, extension_name)) {
      error = "extension not offered: " + std::string(extension.name);
      return std::nullopt;
    }
  }
  if (extensions.size() != 1) {
    error = "permessage-deflate accepted more than once";
    return std::nullopt;
  }
  DeflateElement answer;
  const ParamProblem problem = read_element(extensions.front().params, answer);
  if (problem.reason != nullptr) {
    error = describe(problem);
    return std::nullopt;
  }
  return check_answer(answer, offered, error);
}

// ---- Deflater ----

struct Deflater::State {
  z_stream stream{};
  int level = 0;  // what it was set up with: a shared state serves only the same settings
  Deflater::Shape shape;
  ~State() { deflateEnd(&stream); }
};

std::unique_ptr<Deflater::State>& Deflater::thread_idle_state(const Shape& shape) {
  // One slot per shape a stream of the thread may have: windows 9..15, memLevels 1..9.
  thread_local std::array<std::array<std::unique_ptr<State>, max_mem_level>,
                          max_window_bits - min_compress_window_bits + 1>
      idle;
  return idle[static_cast<std::size_t>(shape.window_bits - min_compress_window_bits)]
             [static_cast<std::size_t>(shape.mem_level - 1)];
}

namespace {

// zlib slides its whole hash table (1 << (memLevel + 7) entries) every time the window moves on
// by its size, so a small window with a large table spends its time sliding: with a 9-bit window
// and memLevel 8, zlib moves 64 KiB of hash heads for every 512 bytes of input, and compresses
// JSON at a third of the speed of memLevel 5 for a ratio 1% better (measured with the system
// zlib at level 1). A table of 8 heads per window byte loses nothing measurable, so memLevel is
// held at window_bits - 4: 5 for 9 bits, 6 for 10, 7 for 11; 12 bits and up keep what they ask.
int mem_level_for_window(int window_bits, int mem_level) {
  return std::max(1, std::min(mem_level, window_bits - 4));
}

}  // namespace

Deflater::Deflater(int window_bits, bool no_context_takeover, int level, int mem_level)
    : no_context_takeover_(no_context_takeover),
      window_bits_(window_bits),
      level_(level),
      mem_level_(mem_level_for_window(window_bits, mem_level)) {}

Deflater::~Deflater() = default;

// Without context takeover a whole message is all a stream ever sees, and zlib's cost per
// message is mostly what deflateReset clears: the hash table, 64 KiB at memLevel 8, as many
// instructions as deflating a 1 KiB message. So a whole message gets the smallest stream that finds
// every match the negotiated window would: a window holding the message and zlib's 262-byte
// lookahead (matches reach back window - 262 bytes), and two hash heads per window byte (memLevel
// window_bits - 6; zlib's literal buffer, 1 << (memLevel + 6) symbols, then holds the whole
// message, so the block boundaries stay those of the full stream; only hash collisions differ,
// which cost a match only past zlib's chain limit). A 1 KiB message: window 11,
// memLevel 5, 8 KiB cleared per message instead of 64. Messages too large for a smaller window,
// and messages streamed in pieces (their size unknown), use the negotiated one.
Deflater::Shape Deflater::shape_for(std::optional<std::size_t> whole_message) const noexcept {
  const Shape negotiated{window_bits_, mem_level_};
  if (!no_context_takeover_ || !whole_message || mem_level_ > max_mem_level) return negotiated;
  constexpr std::size_t lookahead = 262;  // zlib's MIN_LOOKAHEAD
  const int fitting = std::max<int>(
      min_compress_window_bits, static_cast<int>(std::bit_width(*whole_message + lookahead - 1)));
  if (fitting >= window_bits_) return negotiated;
  return {fitting, std::clamp(fitting - 6, 1, mem_level_)};
}

// zlib's state (the big part of a connection's compression cost) is taken on first use only,
// and without context takeover it is the thread's (a new one only while that is in use, or set
// up for another level).
bool Deflater::ensure_state(const Shape& shape) {
  if (state_) return true;
  // (A shape zlib refuses, from a memLevel out of range, fails below.)
  const bool shared = no_context_takeover_ && shape.window_bits >= min_compress_window_bits &&
                      shape.window_bits <= max_window_bits && shape.mem_level >= 1 &&
                      shape.mem_level <= max_mem_level;
  if (shared) {
    std::unique_ptr<State>& idle = thread_idle_state(shape);
    if (idle && idle->level == level_) {
      state_ = std::move(idle);
      return true;
    }
  }
  auto state = std::make_unique<State>();
  state->level = level_;
  state->shape = shape;
  // Negative window bits: a raw deflate stream, no zlib header or trailer (RFC 7692 7.2.1).
  if (deflateInit2(&state->stream, level_, Z_DEFLATED, -shape.window_bits, shape.mem_level,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return false;  // ~State's deflateEnd on a stream that failed to init is a harmless no-op
  }
  state_ = std::move(state);
  return true;
}

bool Deflater::compress(std::span<const std::byte> in, bool end_of_message,
                        std::vector<std::byte>& out) {
  // A message's first call with its end is the whole message (later pieces find state_ taken).
  if (!ensure_state(shape_for(end_of_message ? std::optional(in.size()) : std::nullopt))) {
    return false;
  }
  z_stream& stream = state_->stream;
  const std::size_t start = out.size();
  do {
    const std::span<const std::byte> piece = in.first(std::min(in.size(), max_zlib_piece));
    in = in.subspan(piece.size());
    stream.next_in = reinterpret_cast<const Bytef*>(piece.data());
    stream.avail_in = static_cast<uInt>(piece.size());
    const int flush = in.empty() ? Z_SYNC_FLUSH : Z_NO_FLUSH;
    do {
      // deflateBound plus room for the flush marker; more rounds only if zlib needs them.
      const std::size_t used = out.size();
      const std::size_t room = deflateBound(&stream, stream.avail_in) + 16;
      out.resize(used + room);
      stream.next_out = reinterpret_cast<Bytef*>(out.data() + used);
      stream.avail_out = static_cast<uInt>(room);
      // Z_BUF_ERROR only says there was nothing to do (a second flush with no new input).
      const int result = deflate(&stream, flush);
      out.resize(used + room - stream.avail_out);
      if (result != Z_OK && result != Z_BUF_ERROR) return false;
    } while (stream.avail_out == 0);
  } while (!in.empty());
  if (!end_of_message) return true;

  const std::span<const std::byte> produced(out.data() + start, out.size() - start);
  if (produced.size() >= flush_tail.size() &&
      std::equal(flush_tail.begin(), flush_tail.end(), produced.end() - 4)) {
    out.resize(out.size() - flush_tail.size());
  } else if (produced.empty()) {
    // zlib had nothing to write: the stream already stands flushed at a byte boundary (an empty
    // message right after another, with context takeover). The message still needs a block for
    // the receiver's 00 00 ff ff to complete: 00 is an empty stored block's header (BFINAL 0,
    // BTYPE 00) and padding, the same byte zlib produces for an empty message on a fresh stream.
    out.push_back(std::byte{0x00});
  } else {
    return false;  // a sync flush always ends with the tail; anything else is a zlib fault
  }
  if (no_context_takeover_) {
    deflateReset(&stream);
    // Nothing of this message is kept: the state goes back to the thread for the next message of
    // any connection (ensure_state's condition holds, the window being compressible here).
    std::unique_ptr<State>& idle = thread_idle_state(state_->shape);
    if (!idle) {
      idle = std::move(state_);
    } else {
      state_.reset();  // the thread has one already: a second one lent out meanwhile
    }
  }
  return true;
}

// ---- Inflater ----

struct Inflater::State {
  z_stream stream{};
  bool message_has_data = false;   // some payload byte of the current message was fed
  bool stream_ended = false;       // the message's deflate data ended with a BFINAL block
  bool at_block_boundary = false;  // the data so far ends byte-aligned before a block header
  ~State() { inflateEnd(&stream); }
};

Inflater::Inflater(int /*window_bits*/, bool no_context_takeover)
    : no_context_takeover_(no_context_takeover) {}

Inflater::~Inflater() = default;

std::unique_ptr<Inflater::State>& Inflater::thread_idle_state() {
  thread_local std::unique_ptr<State> idle;  // every Inflater uses a 15-bit window
  return idle;
}

bool Inflater::ensure_state() {
  if (state_) return true;
  if (no_context_takeover_ && thread_idle_state()) {
    state_ = std::move(thread_idle_state());
    return true;
  }
  auto state = std::make_unique<State>();
  if (inflateInit2(&state->stream, -max_window_bits) != Z_OK) {
    last_error_ = "zlib could not set up inflate";
    return false;
  }
  state_ = std::move(state);
  return true;
}

Inflater::Status Inflater::decompress(std::span<const std::byte> in, bool end_of_message,
                                      std::vector<std::byte>& out, std::size_t max_output) {
  std::size_t consumed = 0;
  return decompress(in, end_of_message, out, max_output, Pause{}, consumed);
}

Inflater::Status Inflater::decompress(std::span<const std::byte> in, bool end_of_message,
                                      std::vector<std::byte>& out, std::size_t max_output,
                                      const Pause& pause, std::size_t& consumed) {
  consumed = 0;
  if (!ensure_state()) return Status::error;
  const std::size_t start = out.size();
  if (!in.empty()) state_->message_has_data = true;
  Status status = inflate_bytes(in, out, start, max_output, pause, consumed);
  if (status != Status::ok || !end_of_message) return status;
  // RFC 7692 7.2.2: append 00 00 ff ff. An empty payload carries no deflate data at all, so
  // there is no block for the tail to complete: it is an empty message, the stream untouched.
  // Nor is anything missing when the data already ends byte-aligned at a block boundary: a
  // sender that kept the tail, one whose last sync flush wrote nothing (the stream stood flushed),
  // a message ending with a stored block of data (the example of 7.2.3.3). There 00 00 ff ff
  // would begin a stored block (header 00, LEN 0xff00) that swallows the next message's bytes.
  // A compliant message ends inside its empty stored block, before LEN: it gets the tail.
  // (Never paused: the tail completes what the message's bytes began, a block or two at most.)
  // Without context takeover the stream is reset next: the empty block the tail completes gives
  // no data (every block before it ended with the sync flush), so it is not fed at all.
  if (state_->message_has_data && !state_->at_block_boundary && !no_context_takeover_) {
    std::size_t tail_used = 0;
    status = inflate_bytes(flush_tail, out, start, max_output, Pause{}, tail_used);
  }
  if (status == Status::ok) finish_message();
  return status;
}

Inflater::Status Inflater::inflate_bytes(std::span<const std::byte> in, std::vector<std::byte>& out,
                                         std::size_t start, std::size_t max_output,
                                         const Pause& pause, std::size_t& consumed) {
  while (!in.empty()) {
    // After a final block the message's deflate data is over; what follows is not part of it:
    // the 00 of RFC 7692 7.2.3.4 and the tail we append.
    if (state_->stream_ended) {
      consumed += in.size();
      return Status::ok;
    }
    const std::span<const std::byte> piece = in.first(std::min(in.size(), max_zlib_piece));
    in = in.subspan(piece.size());
    z_stream& stream = state_->stream;
    stream.next_in = reinterpret_cast<const Bytef*>(piece.data());
    stream.avail_in = static_cast<uInt>(piece.size());
    const Status status = inflate_piece(out, start, max_output, pause);
    // Only a pause leaves input for later; what follows a final block is used up (ignored).
    consumed += piece.size() - (status == Status::paused ? stream.avail_in : 0);
    // zlib holds nothing of the input it did not take: the caller's buffer may go.
    stream.next_in = nullptr;
    stream.avail_in = 0;
    if (status != Status::ok) return status;
  }
  return Status::ok;
}

// Inflates the stream's pending input in steps of at most inflate_step bytes, checking the budget
// after each step. `out` ends at most max_output + 1 bytes above `start`, and its capacity is
// never raised beyond that (a plain resize could double it past the limit).
Inflater::Status Inflater::inflate_piece(std::vector<std::byte>& out, std::size_t start,
                                         std::size_t max_output, const Pause& pause) {
  z_stream& stream = state_->stream;
  const std::size_t hard_cap =
      max_output >= SIZE_MAX - start - 1 ? SIZE_MAX : start + max_output + 1;
  std::size_t step_size = first_inflate_step(stream.avail_in);
  for (;;) {
    const std::size_t produced = out.size() - start;
    if (produced > max_output) return Status::too_big;
    const std::size_t remaining = max_output - produced;
    std::size_t step = remaining < step_size ? remaining + 1 : step_size;
    const std::size_t used = out.size();
    if (used + step > out.capacity()) {
      if (stream.avail_in == 0) {
        // Only what zlib holds of input it took is left: a few KB, room for exactly that.
        out.reserve(used + step);
      } else {
        const std::size_t most = std::min(hard_cap, pause.at_capacity);
        if (out.capacity() < most) {
          out.reserve(
              std::min(most, std::max(used + step, std::min(out.capacity() * 2, hard_cap))));
        }
        step = std::min(step, out.capacity() - used);
        if (step == 0) return Status::paused;  // full at pause.at_capacity, input left
      }
    }
    out.resize(used + step);
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    stream.avail_out = static_cast<uInt>(step);
    const uInt avail_in = stream.avail_in;
    const int result = inflate(&stream, Z_SYNC_FLUSH);
    out.resize(used + step - stream.avail_out);
    if (stream.avail_out == 0) step_size = std::min(step_size * 2, inflate_step);
    // zlib.h, inflate(): data_type is the count of unused bits in the last input byte, +64 in the
    // final block, +128 when waiting for a block header. Only a call that moved something counts:
    // one that read and wrote nothing drops the 128 of a stream already waiting (zlib leaves TYPE
    // for TYPEDO on entry) without the stream having changed.
    if (stream.avail_in != avail_in || stream.avail_out != step) {
      state_->at_block_boundary = (stream.data_type & 128) != 0 && (stream.data_type & 63) == 0;
    }
    if (result == Z_STREAM_END) {
      state_->stream_ended = true;
      return out.size() - start > max_output ? Status::too_big : Status::ok;
    }
    if (result != Z_OK && result != Z_BUF_ERROR) {
      last_error_ = stream.msg != nullptr ? stream.msg : "invalid compressed data";
      return Status::error;
    }
    // Done when the input is used up and zlib did not fill the space it had (nothing pending).
    if (stream.avail_in == 0 && stream.avail_out != 0) {
      return out.size() - start > max_output ? Status::too_big : Status::ok;
    }
    // Enough for one call, input left: the caller resumes with what zlib did not take.
    if (stream.avail_in != 0 && out.size() - start >= pause.after_output) {
      return out.size() - start > max_output ? Status::too_big : Status::paused;
    }
  }
}

void Inflater::finish_message() {
  z_stream& stream = state_->stream;
  if (no_context_takeover_) {
    inflateReset(&stream);
  } else if (state_->stream_ended) {
    // zlib will not read past a final block, but with context takeover the sender's next message
    // may still refer to this one's data: start a new stream over the same window.
    std::vector<Bytef> window(std::size_t{1} << max_window_bits);
    uInt window_size = 0;
    inflateGetDictionary(&stream, window.data(), &window_size);
    inflateReset(&stream);
    inflateSetDictionary(&stream, window.data(), window_size);
  }
  state_->stream_ended = false;
  state_->message_has_data = false;
  state_->at_block_boundary = false;
  if (no_context_takeover_) {
    // Reset, it serves the next message of any connection of the thread (see Deflater).
    std::unique_ptr<State>& idle = thread_idle_state();
    if (!idle) {
      idle = std::move(state_);
    } else {
      state_.reset();
    }
  }
}

// ---- Buffers lent by the thread ----

namespace {

std::vector<std::byte>& thread_buffer(ThreadBuffer which) {
  thread_local std::array<std::vector<std::byte>, 2> buffers;
  return buffers[static_cast<std::size_t>(which)];
}

}  // namespace

std::vector<std::byte> take_thread_buffer(ThreadBuffer which) noexcept {
  return std::move(thread_buffer(which));  // a moved-from vector is empty, without storage
}

void give_back_thread_buffer(ThreadBuffer which, std::vector<std::byte> buffer) noexcept {
  std::vector<std::byte>& kept = thread_buffer(which);
  if (kept.capacity() != 0 || buffer.capacity() > max_kept_thread_buffer) return;  // freed here
  buffer.clear();
  kept = std::move(buffer);
}

}  // namespace fastws::protocol
