// `fastws_bench echo --deflate`: echo of compressed messages (RFC 7692, permessage-deflate).
//
// With no context takeover either way (handshake.hpp's offer) every message compresses to the
// same bytes, and so does every echo of it. The client's frame is compressed here, once; the
// server's echo depends on its own deflate settings, so it is learned from one probe message on
// a connection of its own: its payload is inflated and compared with what was sent, and its bytes
// become the echo every later one must equal. The load itself then checks bytes as in any other
// echo run.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <zlib.h>

#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "connector.hpp"
#include "echo_message.hpp"
#include "protocol/frame_header.hpp"
#include "socket.hpp"

namespace fastws::bench {

namespace detail {

inline constexpr std::byte deflate_tail[] = {std::byte{0x00}, std::byte{0x00}, std::byte{0xff},
                                             std::byte{0xff}};

// A fresh raw deflate stream (no context taken over), sync-flushed, without its 00 00 ff ff
// tail (RFC 7692 7.2.1).
inline bool deflate_message(std::span<const std::byte> payload, std::vector<std::byte>& out) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return false;
  }
  out.resize(deflateBound(&stream, static_cast<uLong>(payload.size())) + 16);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(payload.data()));
  stream.avail_in = static_cast<uInt>(payload.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const bool flushed = ::deflate(&stream, Z_SYNC_FLUSH) == Z_OK && stream.avail_in == 0;
  out.resize(out.size() - stream.avail_out);
  deflateEnd(&stream);
  if (!flushed || out.size() < 4) return false;
  out.resize(out.size() - 4);
  return true;
}

// Inflates one compressed message (its tail put back) into `out`, at most `limit` bytes.
inline bool inflate_message(std::span<const std::byte> compressed, std::size_t limit,
                            std::vector<std::byte>& out) {
  std::vector<std::byte> input(compressed.begin(), compressed.end());
  input.insert(input.end(), std::begin(deflate_tail), std::end(deflate_tail));
  z_stream stream{};
  if (inflateInit2(&stream, -15) != Z_OK) return false;
  out.resize(limit + 1);
  stream.next_in = reinterpret_cast<Bytef*>(input.data());
  stream.avail_in = static_cast<uInt>(input.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = ::inflate(&stream, Z_SYNC_FLUSH);
  out.resize(out.size() - stream.avail_out);
  inflateEnd(&stream);
  return (status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR) &&
         stream.avail_in == 0 && out.size() <= limit;
}

// Sends `bytes` and reads back one whole frame into `frame`, within `limit`.
inline bool exchange_one_frame(int fd, std::span<const std::byte> bytes,
                               std::vector<std::byte>& frame, std::chrono::seconds limit,
                               std::string& error) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::size_t sent = 0;
  protocol::FrameHeaderParser parser;
  const protocol::FrameHeaderRules rules{.role = protocol::Role::client, .allowed_rsv_bits = 0x4};
  std::size_t header_size = 0;
  std::size_t frame_size = SIZE_MAX;
  frame.clear();
  std::byte buffer[64 * 1024];
  while (frame.size() < frame_size) {
    if (std::chrono::steady_clock::now() >= deadline) {
      error = "no echo of the probe message within " + std::to_string(limit.count()) + " s";
      return false;
    }
    pollfd entry{fd, static_cast<short>(POLLIN | (sent < bytes.size() ? POLLOUT : 0)), 0};
    ::poll(&entry, 1, 100);
    if (sent < bytes.size()) {
      const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<std::size_t>(n);
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        error = errno_text("send (probe)");
        return false;
      }
    }
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      error = n == 0 ? "the server closed the probe connection" : errno_text("recv (probe)");
      return false;
    }
    if (n < 0) continue;
    std::size_t at = 0;
    while (header_size == 0 && at < static_cast<std::size_t>(n)) {
      std::size_t consumed = 0;
      const auto status =
          parser.parse(buffer + at, static_cast<std::size_t>(n) - at, consumed, rules);
      at += consumed;
      if (status == protocol::FrameHeaderParser::Status::error) {
        error = "the server's echo of the probe is not a valid frame";
        return false;
      }
      if (status == protocol::FrameHeaderParser::Status::done) {
        header_size = frame.size() + at;
        frame_size = header_size + static_cast<std::size_t>(parser.header().payload_length);
      }
    }
    frame.insert(frame.end(), buffer, buffer + n);
  }
  if (frame.size() > frame_size) {
    error = "the server sent more than one frame for one probe message";
    return false;
  }
  return true;
}

}  // namespace detail

// One message and its echo, compressed, for PipelinedBuffers.
struct CompressedEcho {
  std::vector<std::byte> out;    // the client's masked, compressed frame
  std::vector<std::byte> echo;   // the server's frame, as learned from the probe
  bool echo_compressed = false;  // the server compressed it (it may leave a message as it is)
};

// Builds the compressed frame of `payload` (a binary message), sends it to `target` on a probe
// connection, and checks the server's echo: one final binary frame whose payload, inflated when
// RSV1 says it is compressed, equals `payload`.
inline bool learn_compressed_echo(const Target& target, std::span<const std::byte> payload,
                                  const MaskKey& mask_key, CompressedEcho& result,
                                  std::string& error) {
  std::vector<std::byte> compressed;
  if (!detail::deflate_message(payload, compressed)) {
    error = "cannot compress the message (zlib)";
    return false;
  }
  result.out.clear();
  append_frame(result.out, compressed, Opcode::binary, &mask_key, true);
  std::vector<Fd> probe;
  if (!open_connections(target, 1, 1, probe, error)) {
    error = "probe: " + error;
    return false;
  }
  if (!detail::exchange_one_frame(probe[0].get(), result.out, result.echo, std::chrono::seconds(5),
                                  error)) {
    return false;
  }
  protocol::FrameHeaderParser parser;
  std::size_t header_size = 0;
  parser.parse(result.echo.data(), result.echo.size(), header_size,
               {.role = protocol::Role::client, .allowed_rsv_bits = 0x4});
  const protocol::FrameHeader& header = parser.header();
  const std::span<const std::byte> body = std::span(result.echo).subspan(header_size);
  std::vector<std::byte> inflated(body.begin(), body.end());
  if (!header.fin || header.opcode != Opcode::binary) {
    error = "the echo of the probe is not one final binary frame";
    return false;
  }
  result.echo_compressed = header.rsv1;
  if (header.rsv1 && !detail::inflate_message(body, payload.size(), inflated)) {
    error = "the echo of the probe does not inflate";
    return false;
  }
  if (!std::equal(inflated.begin(), inflated.end(), payload.begin(), payload.end())) {
    error = "the echo of the probe differs from the message sent";
    return false;
  }
  return true;
}

}  // namespace fastws::bench
