// Shared body of the session fuzz targets (one per role). Input: one settings byte (bit 0:
// permessage-deflate, bit 1: stream mode, bit 2: no context takeover, bits 3-5: message limit
// class), one byte seeding the split sizes, then the bytes received.
// Properties checked: no crash or leak (ASan/UBSan), delivered messages never exceed the limit,
// text messages are valid UTF-8, nothing is delivered after a close or an error, and every frame
// the session writes parses back under the peer's rules.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "protocol/session.hpp"
#include "protocol/utf8.hpp"
#include "support/frame_reader.hpp"

namespace fastws::fuzz {

class CheckingPeer final : public protocol::SessionHandler, public protocol::FrameSink {
 public:
  CheckingPeer(protocol::Role role, std::size_t limit) : role_(role), limit_(limit) {}

  void on_message(Opcode op, std::span<const std::byte> data) override {
    check_open();
    if (data.size() > limit_) std::abort();
    if (op == Opcode::text && !protocol::is_valid_utf8(data.data(), data.size())) std::abort();
  }
  void on_fragment(Opcode op, std::span<const std::byte> data, bool first, bool last) override {
    check_open();
    if (first) {
      streamed_ = 0;
      text_.reset();
    }
    streamed_ += data.size();
    if (streamed_ > limit_) std::abort();
    if (op == Opcode::text && !text_.feed(data)) std::abort();
    if (last && op == Opcode::text && !text_.at_boundary()) std::abort();
  }
  void on_ping(std::span<const std::byte> data) override {
    check_open();
    if (data.size() > 125) std::abort();
  }
  void on_pong(std::span<const std::byte> data) override {
    check_open();
    if (data.size() > 125) std::abort();
  }
  void on_close(std::uint16_t, std::string_view) override {
    check_open();
    finished_ = true;
  }
  void on_error(protocol::ProtocolError error) override {
    check_open();
    if (error.close_code < 1000) std::abort();
    finished_ = true;
  }
  void write_frame(std::span<const std::byte> header, std::span<const std::byte> payload,
                   const MaskKey* mask) override {
    // RSV1 is the only bit an extension (permessage-deflate) may set.
    if (!test::read_back_frame(role_, 0x4, header, payload, mask)) std::abort();
  }

 private:
  void check_open() const {
    if (finished_) std::abort();
  }
  protocol::Role role_;
  std::size_t limit_;
  std::size_t streamed_ = 0;
  protocol::Utf8Validator text_;
  bool finished_ = false;
};

inline int run_session_fuzz(protocol::Role role, const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t settings = data[0];
  std::uint32_t split_seed = data[1] | 1u;
  data += 2;
  size -= 2;
  static const std::size_t limits[] = {16u << 20, 1 << 10, 125, 65536, 1 << 20, 0, 1, 4096};
  protocol::SessionConfig config;
  config.role = role;
  config.max_message_size = limits[(settings >> 3) & 7];
  config.stream_fragments = (settings & 2) != 0;
  std::optional<protocol::DeflateParams> deflate;
  if (settings & 1) {
    protocol::DeflateParams params;
    params.server_no_context_takeover = params.client_no_context_takeover = (settings & 4) != 0;
    deflate = params;
  }
  protocol::Session session(config, deflate);
  CheckingPeer peer(role, config.max_message_size);
  std::vector<std::byte> input(reinterpret_cast<const std::byte*>(data),
                               reinterpret_cast<const std::byte*>(data) + size);
  std::size_t pos = 0;
  while (pos < input.size()) {
    split_seed = split_seed * 1103515245u + 12345u;  // split sizes vary with the input
    std::size_t piece = 1 + (split_seed >> 16) % 64;
    if (piece > input.size() - pos) piece = input.size() - pos;
    session.receive(std::span(input).subspan(pos, piece), peer, peer);
    pos += piece;
  }
  return 0;
}

}  // namespace fastws::fuzz
