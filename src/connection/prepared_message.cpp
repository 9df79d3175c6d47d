#include "connection/prepared_message.hpp"

#include <algorithm>
#include <vector>

#include "protocol/frame_header.hpp"

namespace fastws::detail {

namespace {

// A whole unmasked server frame: FIN, RSV1 when compressed, the opcode, the payload.
std::shared_ptr<std::vector<std::byte>> whole_frame(Opcode opcode, bool compressed,
                                                    std::span<const std::byte> payload,
                                                    std::size_t& header_size) {
  protocol::FrameHeader header;
  header.fin = true;
  header.rsv1 = compressed;
  header.opcode = opcode;
  header.payload_length = payload.size();
  std::byte head[protocol::max_frame_header_size];
  header_size = protocol::write_frame_header(head, header);
  auto frame = std::make_shared<std::vector<std::byte>>();
  frame->reserve(header_size + payload.size());
  frame->insert(frame->end(), head, head + header_size);
  frame->insert(frame->end(), payload.begin(), payload.end());
  return frame;
}

}  // namespace

PreparedMessage::PreparedMessage(Opcode opcode, std::span<const std::byte> payload)
    : opcode_(opcode), header_size_(0), plain_(whole_frame(opcode, false, payload, header_size_)) {}

std::span<const std::byte> PreparedMessage::payload() const noexcept {
  return std::span<const std::byte>(*plain_).subspan(header_size_);
}

SharedPayload PreparedMessage::compressed_frame(int window_bits,
                                                const protocol::DeflateConfig& config) {
  const auto slot = static_cast<std::size_t>(
      std::clamp(window_bits, min_window_bits, max_window_bits) - min_window_bits);
  std::lock_guard lock(mutex_);
  if (!tried_[slot]) {
    tried_[slot] = true;
    protocol::Deflater deflater(window_bits, /*no_context_takeover=*/true, config.compression_level,
                                config.mem_level);
    std::vector<std::byte> compressed;
    if (deflater.compress(payload(), /*end_of_message=*/true, compressed)) {
      std::size_t header_size = 0;
      compressed_[slot] = whole_frame(opcode_, true, compressed, header_size);
    }
  }
  return compressed_[slot];
}

PreparedRun::PreparedRun(std::span<const OutgoingSend> run) {
  payloads_before_.reserve(run.size() + 1);
  payloads_before_.push_back(0);
  for (const OutgoingSend& send : run) {
    payloads_before_.push_back(payloads_before_.back() + send.prepared->payload().size());
  }
  frames_.reserve(run.size());
  if (run.size() == 1) {
    frames_.push_back(SharedBytes::whole(run.front().prepared->plain_frame()));
    return;
  }
  std::size_t size = 0;
  for (const OutgoingSend& send : run) size += send.prepared->plain_frame()->size();
  auto joined = std::make_shared<std::vector<std::byte>>();
  joined->reserve(size);
  for (const OutgoingSend& send : run) {
    const std::vector<std::byte>& frame = *send.prepared->plain_frame();
    joined->insert(joined->end(), frame.begin(), frame.end());
  }
  joined_ = std::move(joined);
  std::size_t offset = 0;
  for (const OutgoingSend& send : run) {
    const std::size_t frame_size = send.prepared->plain_frame()->size();
    frames_.push_back({&joined_, std::span<const std::byte>(*joined_).subspan(offset, frame_size)});
    offset += frame_size;
  }
}

SharedBytes PreparedRun::plain_frames(std::size_t first, std::size_t count) const noexcept {
  const SharedBytes& from = frames_[first];
  const SharedBytes& to = frames_[first + count - 1];
  return {from.owner, {from.bytes.data(), to.bytes.data() + to.bytes.size()}};
}

}  // namespace fastws::detail
