// Shared body of the session fuzz targets (one per role). Input: one settings byte (bit 0:
// permessage-deflate, bit 1: stream mode, bit 2: no context takeover, bits 3-5: message limit
// class, bits 6-7: inflate share per receive() class), one byte seeding the split sizes, then the
// bytes received, fed in pieces as a connection does: what a call leaves (it inflated its share)
// goes in again in front of the next piece.
// Properties checked: no crash or leak (ASan/UBSan), delivered messages never exceed the limit,
// text messages are valid UTF-8, nothing is delivered after a close or an error, every frame the
// session writes parses back under the peer's rules, and the bytes a call leaves are exactly as
// they came, and are used in the end (no call after call without progress).
#pragma once

#include <algorithm>
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
  static const std::size_t shares[] = {protocol::SessionConfig{}.inflate_per_receive, 1, 100, 4096};
  protocol::SessionConfig config;
  config.role = role;
  config.max_message_size = limits[(settings >> 3) & 7];
  config.stream_fragments = (settings & 2) != 0;
  config.inflate_per_receive = shares[settings >> 6];
  std::optional<protocol::DeflateParams> deflate;
  if (settings & 1) {
    protocol::DeflateParams params;
    params.server_no_context_takeover = params.client_no_context_takeover = (settings & 4) != 0;
    deflate = params;
  }
  protocol::Session session(config, deflate);
  CheckingPeer peer(role, config.max_message_size);
  const std::vector<std::byte> received(reinterpret_cast<const std::byte*>(data),
                                        reinterpret_cast<const std::byte*>(data) + size);
  std::vector<std::byte> input = received;  // receive() unmasks in place
  std::size_t used = 0;     // input[0, used) is used up, input[used, arrived) fed and left
  std::size_t arrived = 0;  // input[arrived, size) not fed yet
  std::size_t calls_without_progress = 0;
  while (used < input.size()) {
    if (session.state() == protocol::Session::State::closed) {
      // The rest is ignored, and must deliver nothing (check_open).
      session.receive(std::span(input).subspan(used), peer, peer);
      break;
    }
    split_seed = split_seed * 1103515245u + 12345u;  // split sizes vary with the input
    arrived = std::min(input.size(), arrived + 1 + (split_seed >> 16) % 64);
    const std::span<std::byte> fed = std::span(input).subspan(used, arrived - used);
    const std::size_t taken = session.receive(fed, peer, peer);
    if (taken > fed.size()) std::abort();
    if (session.state() != protocol::Session::State::closed &&
        !std::equal(fed.begin() + static_cast<std::ptrdiff_t>(taken), fed.end(),
                    received.begin() + static_cast<std::ptrdiff_t>(used + taken))) {
      std::abort();  // what the session left is not as it came
    }
    used += taken;
    // A call that stops early has inflated something, so it may use no input only while zlib
    // gives out what it holds of input taken before: a few calls at most.
    calls_without_progress = taken == 0 && !fed.empty() ? calls_without_progress + 1 : 0;
    if (calls_without_progress > 4) std::abort();
  }
  return 0;
}

}  // namespace fastws::fuzz
