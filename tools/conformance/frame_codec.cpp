#include "conformance/frame_codec.hpp"

#include <cstring>

#include "protocol/frame_header.hpp"
#include "protocol/mask.hpp"

namespace fastws::conformance {

namespace {

const std::byte* bytes_of(std::string_view text) {
  return reinterpret_cast<const std::byte*>(text.data());
}
std::byte* bytes_of(std::string& text) {
  return reinterpret_cast<std::byte*>(text.data());
}

}  // namespace

std::string encode_frame(const FrameSpec& frame, const std::optional<MaskKey>& mask) {
  protocol::FrameHeader header;
  header.fin = frame.fin;
  header.rsv1 = (frame.rsv & 4u) != 0;
  header.rsv2 = (frame.rsv & 2u) != 0;
  header.rsv3 = (frame.rsv & 1u) != 0;
  header.opcode = static_cast<Opcode>(frame.opcode & 0xFu);
  header.masked = mask.has_value();
  if (mask) header.mask = *mask;
  header.payload_length = frame.payload.size();
  std::string wire(protocol::max_frame_header_size + frame.payload.size(), '\0');
  const std::size_t header_size = protocol::write_frame_header(bytes_of(wire), header);
  wire.resize(header_size + frame.payload.size());
  if (mask) {
    protocol::copy_masked(bytes_of(wire) + header_size, bytes_of(frame.payload),
                          frame.payload.size(), *mask);
  } else if (!frame.payload.empty()) {
    std::memcpy(wire.data() + header_size, frame.payload.data(), frame.payload.size());
  }
  return wire;
}

std::string repeat_to_length(std::string_view pattern, std::size_t length) {
  std::string out;
  out.reserve(length);
  while (out.size() < length) out.append(pattern.substr(0, length - out.size()));
  return out;
}

FrameRead read_frame(std::string_view input, std::uint64_t max_payload, RawFrame& out,
                     std::size_t& consumed, std::size_t& wanted) {
  wanted = 0;
  if (input.size() < 2) return FrameRead::need_more;
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(input[i]); };
  const bool masked = (byte(1) & 0x80u) != 0;
  const unsigned short_length = byte(1) & 0x7Fu;
  const std::size_t length_digits = short_length == 126 ? 2 : (short_length == 127 ? 8 : 0);
  const std::size_t header_size = 2 + length_digits + (masked ? 4 : 0);
  if (input.size() < header_size) return FrameRead::need_more;
  std::uint64_t length = short_length;
  if (length_digits != 0) {
    length = 0;
    for (std::size_t i = 0; i < length_digits; ++i) length = (length << 8) | byte(2 + i);
  }
  if (length > max_payload || (length >> 63) != 0) return FrameRead::too_large;
  const std::size_t total = header_size + static_cast<std::size_t>(length);
  if (input.size() < total) {
    wanted = total;
    return FrameRead::need_more;
  }
  out.fin = (byte(0) & 0x80u) != 0;
  out.rsv = (byte(0) >> 4) & 0x7u;
  out.opcode = byte(0) & 0xFu;
  out.masked = masked;
  out.payload.assign(input.substr(header_size, static_cast<std::size_t>(length)));
  if (masked) {
    MaskKey key;
    std::memcpy(key.data(), input.data() + header_size - 4, 4);
    protocol::apply_mask(bytes_of(out.payload), out.payload.size(), key);
  }
  consumed = total;
  return FrameRead::frame;
}

}  // namespace fastws::conformance
