// Reader and runner for session spec files (tests/spec/*.spec): readable byte-level cases of
// "frames in, events and frames out", shared by the unit tests, the fuzz seed corpora and docs.
//
// Format, one directive per line ('#' starts a comment):
//   case <name>                  starts a case
//   role server|client           the side the session plays (default server)
//   max_message_size <n>         SessionConfig::max_message_size
//   deflate [no_context_takeover] permessage-deflate negotiated (default parameters)
//   stream                       deliver fragments (events are merged back into messages)
//   in <hex bytes | payload ...> raw input bytes
//   frame <opcode> [nofin] [rsv1] [rsv2] [rsv3] [mask=<8 hex>|nomask] [len=<n>] [payload]
//                                a frame built from fields; opcode is a name (text, binary,
//                                continuation, close, ping, pong) or op=<n>; the mask defaults to
//                                on for input to a server; len= overrides the declared length
//   frames <count> <opcode> ...  the same frame <count> times
//   close-frame <code> [payload] a masked/unmasked close frame with a code and reason
//   expect <event>               next event in the trace:
//       message text|binary <payload>   ping <payload>   pong <payload>
//       close <code> [payload]    error <code>    sent <opcode> <payload>    sent close [code]
// Payloads: "quoted text" (with \xNN escapes), hex:<hex>, repeat:<count>:<hex byte>, or
// several of them concatenated; an absent payload is empty.
#pragma once

#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastws/frame.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/mask.hpp"
#include "protocol/session.hpp"
#include "support/frame_reader.hpp"

namespace fastws::spec {

struct SessionCase {
  std::string name;
  int line = 0;
  protocol::SessionConfig config;
  std::optional<protocol::DeflateParams> deflate;
  std::vector<std::byte> input;
  std::vector<std::string> expected;  // canonical event strings
};

// Payloads longer than this are shown as their size and a hash, so traces stay readable.
inline std::string canonical_payload(const std::byte* data, std::size_t size) {
  static const char* digits = "0123456789abcdef";
  if (size <= 64) {
    std::string out;
    for (std::size_t i = 0; i < size; ++i) {
      auto b = static_cast<unsigned>(data[i]);
      out += digits[b >> 4];
      out += digits[b & 15];
    }
    return out;
  }
  std::uint32_t hash = 2166136261u;  // FNV-1a
  for (std::size_t i = 0; i < size; ++i) {
    hash = (hash ^ static_cast<std::uint8_t>(data[i])) * 16777619u;
  }
  std::ostringstream out;
  out << size << "B#" << std::hex << hash;
  return out.str();
}

inline std::string opcode_name(Opcode op) {
  switch (op) {
    case Opcode::continuation:
      return "continuation";
    case Opcode::text:
      return "text";
    case Opcode::binary:
      return "binary";
    case Opcode::close:
      return "close";
    case Opcode::ping:
      return "ping";
    case Opcode::pong:
      return "pong";
  }
  return "op" + std::to_string(static_cast<int>(op));
}

namespace detail {

[[noreturn]] inline void bad(int line, const std::string& what) {
  throw std::runtime_error("spec line " + std::to_string(line) + ": " + what);
}

inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

inline void append_hex(std::vector<std::byte>& out, const std::string& hex, int line) {
  std::string digits;
  for (char c : hex) {
    if (c == ' ' || c == ':') continue;
    if (hex_value(c) < 0) bad(line, "not hex: " + hex);
    digits += c;
  }
  if (digits.size() % 2) bad(line, "odd number of hex digits: " + hex);
  for (std::size_t i = 0; i < digits.size(); i += 2) {
    out.push_back(static_cast<std::byte>(hex_value(digits[i]) * 16 + hex_value(digits[i + 1])));
  }
}

// Splits a line into words; a "quoted string" (with \xNN, \\ and \" escapes) is one word that
// keeps its quotes so payload parsing can tell it apart.
inline std::vector<std::string> words(const std::string& line, int number) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < line.size()) {
    if (line[i] == ' ' || line[i] == '\t') {
      ++i;
    } else if (line[i] == '#') {
      break;
    } else if (line[i] == '"') {
      std::string word = "\"";
      ++i;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\' && i + 1 < line.size()) {
          if (line[i + 1] == 'x' && i + 3 < line.size()) {
            word += static_cast<char>(hex_value(line[i + 2]) * 16 + hex_value(line[i + 3]));
            i += 4;
            continue;
          }
          word += line[i + 1];
          i += 2;
          continue;
        }
        word += line[i++];
      }
      if (i == line.size()) bad(number, "unterminated string");
      ++i;
      out.push_back(word);
    } else {
      std::size_t end = line.find_first_of(" \t", i);
      if (end == std::string::npos) end = line.size();
      out.push_back(line.substr(i, end - i));
      i = end;
    }
  }
  return out;
}

inline bool is_payload_word(const std::string& w) {
  return !w.empty() && (w[0] == '"' || w.rfind("hex:", 0) == 0 || w.rfind("repeat:", 0) == 0);
}

inline void append_payload_word(std::vector<std::byte>& out, const std::string& w, int line) {
  if (w[0] == '"') {
    for (std::size_t i = 1; i < w.size(); ++i) out.push_back(static_cast<std::byte>(w[i]));
  } else if (w.rfind("hex:", 0) == 0) {
    append_hex(out, w.substr(4), line);
  } else {
    auto colon = w.find(':', 7);
    if (colon == std::string::npos) bad(line, "repeat:<count>:<hex byte>");
    auto count = std::stoull(w.substr(7, colon - 7));
    std::vector<std::byte> one;
    append_hex(one, w.substr(colon + 1), line);
    if (one.size() != 1) bad(line, "repeat takes one byte");
    out.insert(out.end(), count, one[0]);
  }
}

inline std::optional<Opcode> parse_opcode(const std::string& w) {
  if (w == "continuation") return Opcode::continuation;
  if (w == "text") return Opcode::text;
  if (w == "binary") return Opcode::binary;
  if (w == "close") return Opcode::close;
  if (w == "ping") return Opcode::ping;
  if (w == "pong") return Opcode::pong;
  if (w.rfind("op=", 0) == 0) return static_cast<Opcode>(std::stoi(w.substr(3), nullptr, 0));
  return std::nullopt;
}

// Builds the bytes of a `frame` directive.
inline void append_frame(SessionCase& c, const std::vector<std::string>& w, std::size_t first,
                         int line) {
  auto opcode = parse_opcode(w.at(first));
  if (!opcode) bad(line, "unknown opcode " + w[first]);
  protocol::FrameHeader header;
  header.opcode = *opcode;
  header.fin = true;
  header.masked = c.config.role == protocol::Role::server;
  header.mask = {std::byte{0x11}, std::byte{0x22}, std::byte{0x33}, std::byte{0x44}};
  std::optional<std::uint64_t> declared;
  std::vector<std::byte> payload;
  for (std::size_t i = first + 1; i < w.size(); ++i) {
    const std::string& word = w[i];
    if (word == "nofin") {
      header.fin = false;
    } else if (word == "rsv1") {
      header.rsv1 = true;
    } else if (word == "rsv2") {
      header.rsv2 = true;
    } else if (word == "rsv3") {
      header.rsv3 = true;
    } else if (word == "nomask") {
      header.masked = false;
    } else if (word.rfind("mask=", 0) == 0) {
      std::vector<std::byte> key;
      append_hex(key, word.substr(5), line);
      if (key.size() != 4) bad(line, "mask takes 4 bytes");
      header.masked = true;
      std::copy(key.begin(), key.end(), header.mask.begin());
    } else if (word.rfind("len=", 0) == 0) {
      declared = std::stoull(word.substr(4));
    } else if (is_payload_word(word)) {
      append_payload_word(payload, word, line);
    } else {
      bad(line, "unknown frame word " + word);
    }
  }
  header.payload_length = declared.value_or(payload.size());
  std::byte bytes[protocol::max_frame_header_size];
  std::size_t size = protocol::write_frame_header(bytes, header);
  c.input.insert(c.input.end(), bytes, bytes + size);
  if (header.masked) protocol::apply_mask(payload.data(), payload.size(), header.mask);
  c.input.insert(c.input.end(), payload.begin(), payload.end());
}

inline std::vector<std::byte> payload_from(const std::vector<std::string>& w, std::size_t first,
                                           int line) {
  std::vector<std::byte> payload;
  for (std::size_t i = first; i < w.size(); ++i) {
    if (!is_payload_word(w[i])) bad(line, "expected a payload, got " + w[i]);
    append_payload_word(payload, w[i], line);
  }
  return payload;
}

inline std::string close_payload_prefix(std::uint16_t code) {
  std::byte b[2] = {static_cast<std::byte>(code >> 8), static_cast<std::byte>(code & 0xFF)};
  return canonical_payload(b, 2);
}

// Turns an `expect` line into the canonical string the runner's trace uses.
inline std::string canonical_expectation(const std::vector<std::string>& w, int line) {
  const std::string& kind = w.at(1);
  if (kind == "message" || kind == "sent") {
    if (kind == "sent" && w.at(2) == "close") {
      if (w.size() == 3) return "sent close";
      return "sent close " + w.at(3);
    }
    auto payload = payload_from(w, 3, line);
    return kind + " " + w.at(2) + " " + canonical_payload(payload.data(), payload.size());
  }
  if (kind == "ping" || kind == "pong") {
    auto payload = payload_from(w, 2, line);
    return kind + " " + canonical_payload(payload.data(), payload.size());
  }
  if (kind == "close") {
    auto payload = payload_from(w, 3, line);
    return "close " + w.at(2) + " " + canonical_payload(payload.data(), payload.size());
  }
  if (kind == "error") return "error " + w.at(2);
  bad(line, "unknown expectation " + kind);
}

}  // namespace detail

inline std::vector<SessionCase> read_session_spec(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw std::runtime_error("cannot open " + path);
  std::vector<SessionCase> cases;
  std::string text;
  int number = 0;
  while (std::getline(file, text)) {
    ++number;
    auto w = detail::words(text, number);
    if (w.empty()) continue;
    if (w[0] == "case") {
      cases.emplace_back();
      cases.back().name = w.at(1);
      cases.back().line = number;
      continue;
    }
    if (cases.empty()) detail::bad(number, "directive before the first case");
    SessionCase& c = cases.back();
    if (w[0] == "role") {
      c.config.role = w.at(1) == "client" ? protocol::Role::client : protocol::Role::server;
    } else if (w[0] == "max_message_size") {
      c.config.max_message_size = std::stoull(w.at(1));
    } else if (w[0] == "deflate") {
      protocol::DeflateParams params;
      if (w.size() > 1 && w[1] == "no_context_takeover") {
        params.server_no_context_takeover = params.client_no_context_takeover = true;
      }
      c.deflate = params;
    } else if (w[0] == "stream") {
      c.config.stream_fragments = true;
    } else if (w[0] == "in") {
      for (std::size_t i = 1; i < w.size(); ++i) {
        if (detail::is_payload_word(w[i])) {
          detail::append_payload_word(c.input, w[i], number);
        } else {
          detail::append_hex(c.input, w[i], number);
        }
      }
    } else if (w[0] == "frame") {
      detail::append_frame(c, w, 1, number);
    } else if (w[0] == "frames") {
      auto count = std::stoul(w.at(1));
      for (unsigned long i = 0; i < count; ++i) detail::append_frame(c, w, 2, number);
    } else if (w[0] == "close-frame") {
      auto code = static_cast<std::uint16_t>(std::stoul(w.at(1)));
      std::vector<std::string> frame_words = {"frame", "close",
                                              "hex:" + detail::close_payload_prefix(code)};
      frame_words.insert(frame_words.end(), w.begin() + 2, w.end());
      detail::append_frame(c, frame_words, 1, number);
    } else if (w[0] == "expect") {
      c.expected.push_back(detail::canonical_expectation(w, number));
    } else {
      detail::bad(number, "unknown directive " + w[0]);
    }
  }
  return cases;
}

// Records events and sent frames as canonical strings. Stream-mode pieces are merged back into
// one message so a trace does not depend on how the input was split.
class TraceRecorder final : public protocol::SessionHandler, public protocol::FrameSink {
 public:
  explicit TraceRecorder(protocol::Role role) : role_(role) {}

  std::vector<std::string> trace;

  void on_message(Opcode op, std::span<const std::byte> data) override {
    trace.push_back("message " + opcode_name(op) + " " +
                    canonical_payload(data.data(), data.size()));
  }
  void on_fragment(Opcode op, std::span<const std::byte> data, bool first, bool last) override {
    if (first) pieces_.clear();
    pieces_.insert(pieces_.end(), data.begin(), data.end());
    if (last) on_message(op, pieces_);
  }
  void on_ping(std::span<const std::byte> data) override {
    trace.push_back("ping " + canonical_payload(data.data(), data.size()));
  }
  void on_pong(std::span<const std::byte> data) override {
    trace.push_back("pong " + canonical_payload(data.data(), data.size()));
  }
  void on_close(std::uint16_t code, std::string_view reason) override {
    trace.push_back(
        "close " + std::to_string(code) + " " +
        canonical_payload(reinterpret_cast<const std::byte*>(reason.data()), reason.size()));
  }
  void on_error(protocol::ProtocolError error) override {
    trace.push_back("error " + std::to_string(error.close_code));
  }
  void write_frame(std::span<const std::byte> header, std::span<const std::byte> payload,
                   const MaskKey* mask) override {
    // Read back as the peer would. Any RSV bit passes here; the session fuzz targets hold the
    // session to RSV1.
    const auto read_back = test::read_back_frame(role_, 0x7, header, payload, mask);
    if (!read_back) {
      trace.push_back("sent malformed frame");
      return;
    }
    const Opcode op = read_back->opcode;
    if (op == Opcode::close) {
      if (payload.empty()) {
        trace.push_back("sent close");
      } else {
        std::uint16_t code = static_cast<std::uint16_t>(static_cast<unsigned>(payload[0]) << 8 |
                                                        static_cast<unsigned>(payload[1]));
        trace.push_back("sent close " + std::to_string(code));
      }
      return;
    }
    trace.push_back("sent " + opcode_name(op) + " " +
                    canonical_payload(payload.data(), payload.size()));
  }

 private:
  protocol::Role role_;
  std::vector<std::byte> pieces_;
};

}  // namespace fastws::spec
