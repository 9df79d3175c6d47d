// Zero bytes compressed for a permessage-deflate message (RFC 7692 7.2.1: a raw deflate stream,
// RFC 1951), without compressing gigabytes: one MiB of zeros is compressed once, ending in a
// full flush, and repeated. A block compressed from a fresh stream refers to nothing before it
// and ends byte-aligned and not final, so copies of it one after another are a valid stream.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <stdexcept>
#include <vector>

namespace fastws::attack {

// A fresh raw deflate stream of `size` zeros (at most 1 MiB), level 9, ended by a full flush.
inline std::vector<std::byte> deflate_zero_block(std::size_t size) {
  z_stream stream{};
  if (deflateInit2(&stream, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::vector<Bytef> zeros(size);
  std::vector<std::byte> out(deflateBound(&stream, static_cast<uLong>(size)) + 16);
  stream.next_in = zeros.data();
  stream.avail_in = static_cast<uInt>(size);
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&stream, Z_FULL_FLUSH);
  out.resize(out.size() - stream.avail_out);
  deflateEnd(&stream);
  if (result != Z_OK || stream.avail_in != 0) throw std::runtime_error("deflate failed");
  return out;
}

// A raw deflate stream that inflates to `size` zero bytes (any size), a few KiB per 16 MiB.
inline std::vector<std::byte> deflated_zeros(std::size_t size) {
  constexpr std::size_t mib = std::size_t{1} << 20;
  const std::vector<std::byte> whole = deflate_zero_block(mib);
  std::vector<std::byte> out;
  for (std::size_t i = 0; i < size / mib; ++i) out.insert(out.end(), whole.begin(), whole.end());
  if (size % mib != 0) {
    const std::vector<std::byte> tail = deflate_zero_block(size % mib);
    out.insert(out.end(), tail.begin(), tail.end());
  }
  return out;
}

}  // namespace fastws::attack
