// Reads back a frame a Session wrote (FrameSink::write_frame) as its peer would, so the session
// tests and the session fuzz targets check the session's own output under the same rules.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "fastws/frame.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/role.hpp"

namespace fastws::test {

// The header of a frame that `writer` wrote, parsed under the opposite role's rules (RFC 6455
// 5.1: a client masks every frame, a server none) with `allowed_rsv_bits` as negotiated
// (FrameHeaderRules). Empty when the header does not parse, is not exactly `header`, declares
// another length than `payload` has, or its mask bit disagrees with whether `mask` was given.
inline std::optional<protocol::FrameHeader> read_back_frame(protocol::Role writer,
                                                            std::uint8_t allowed_rsv_bits,
                                                            std::span<const std::byte> header,
                                                            std::span<const std::byte> payload,
                                                            const MaskKey* mask) {
  const protocol::Role reader =
      writer == protocol::Role::server ? protocol::Role::client : protocol::Role::server;
  const protocol::FrameHeaderRules rules{reader, allowed_rsv_bits, UINT64_MAX};
  protocol::FrameHeaderParser parser;
  std::size_t used = 0;
  const auto status = parser.parse(header.data(), header.size(), used, rules);
  if (status != protocol::FrameHeaderParser::Status::done || used != header.size() ||
      parser.header().payload_length != payload.size() ||
      (mask != nullptr) != parser.header().masked) {
    return std::nullopt;
  }
  return parser.header();
}

}  // namespace fastws::test
