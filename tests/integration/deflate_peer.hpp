// A zlib peer for permessage-deflate tests (RFC 7692): raw deflate with a chosen window, and an
// inflater for what the server sends. Shared by the hostile-input and assembly-budget tests.
#pragma once

#include <gtest/gtest.h>
#include <zlib.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "test_peer.hpp"

namespace fastws::testing {

class Zlib {
 public:
  explicit Zlib(int window_bits = 15) {
    deflateInit2(&deflate_, 9, Z_DEFLATED, -window_bits, 8, Z_DEFAULT_STRATEGY);
    inflateInit2(&inflate_, -15);
  }
  ~Zlib() {
    deflateEnd(&deflate_);
    inflateEnd(&inflate_);
  }
  Zlib(const Zlib&) = delete;
  Zlib& operator=(const Zlib&) = delete;

  // Deflates `in` with `flush` (Z_SYNC_FLUSH or Z_FINISH); with strip_tail, the final
  // 00 00 ff ff of a sync flush is removed (RFC 7692 7.2.1).
  std::vector<std::byte> deflate_piece(std::span<const std::byte> in, int flush, bool strip_tail) {
    std::vector<std::byte> out;
    deflate_.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
    deflate_.avail_in = static_cast<uInt>(in.size());
    std::byte buffer[65536];
    while (true) {
      deflate_.next_out = reinterpret_cast<Bytef*>(buffer);
      deflate_.avail_out = sizeof buffer;
      const int status = ::deflate(&deflate_, flush);
      EXPECT_TRUE(status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR) << status;
      out.insert(out.end(), buffer, buffer + (sizeof buffer - deflate_.avail_out));
      if (flush == Z_FINISH ? status == Z_STREAM_END
                            : (deflate_.avail_in == 0 && deflate_.avail_out != 0)) {
        break;
      }
    }
    if (strip_tail) {
      EXPECT_TRUE(out.size() >= 4 && out[out.size() - 1] == std::byte{0xff} &&
                  out[out.size() - 2] == std::byte{0xff});
      out.resize(out.size() - 4);
    }
    if (flush == Z_FINISH) deflateReset(&deflate_);  // the next message starts a new stream
    return out;
  }
  // A whole message. An empty one is deflate's empty block, 00 (zlib itself writes nothing for a
  // second sync flush without input).
  std::vector<std::byte> compress(std::span<const std::byte> message) {
    if (message.empty()) return {std::byte{0x00}};
    return deflate_piece(message, Z_SYNC_FLUSH, true);
  }
  std::vector<std::byte> compress(std::string_view message) {
    return compress(std::span<const std::byte>(to_bytes(message)));
  }
  void reset_deflate() { deflateReset(&deflate_); }

  // The message a compressed payload from the server carries.
  std::string decompress(std::vector<std::byte> data) {
    for (int byte : {0x00, 0x00, 0xff, 0xff}) data.push_back(static_cast<std::byte>(byte));
    std::string out;
    inflate_.next_in = reinterpret_cast<Bytef*>(data.data());
    inflate_.avail_in = static_cast<uInt>(data.size());
    char buffer[65536];
    while (inflate_.avail_in > 0) {
      inflate_.next_out = reinterpret_cast<Bytef*>(buffer);
      inflate_.avail_out = sizeof buffer;
      const int status = ::inflate(&inflate_, Z_SYNC_FLUSH);
      EXPECT_TRUE(status == Z_OK || status == Z_BUF_ERROR) << status;
      out.append(buffer, sizeof buffer - inflate_.avail_out);
      if (status != Z_OK) break;
    }
    return out;
  }

 private:
  z_stream deflate_{};
  z_stream inflate_{};
};

}  // namespace fastws::testing
