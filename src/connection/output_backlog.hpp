// The bytes of one connection that the kernel did not take yet, in order. Our own bytes are
// copied in; large shared bytes (broadcast frames, runs of them) are held by reference, so that a
// broadcast waiting for a thousand slow readers is in memory once, not a thousand times.
//
// Threading: the connection's loop thread only.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <deque>
#include <span>
#include <vector>

#include "connection/shared_bytes.hpp"
#include "fastws/conn.hpp"

namespace fastws::detail {

class OutputBacklog {
 public:
  // Shared frames at least this large are referenced; smaller ones are cheaper to copy than to
  // track (a piece costs about 64 bytes).
  static constexpr std::size_t min_shared_reference = 512;

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  // Bytes of copied pieces held in memory, written parts not yet compacted included.
  std::size_t copied_bytes_held() const noexcept;

  // Copies `bytes` to the end; returns where they now are (for masking in place).
  std::span<std::byte> append(std::span<const std::byte> bytes);
  // Appends bytes of a shared buffer, by reference when they are many enough or follow the last
  // referenced bytes in their buffer (then that piece grows: a run costs one piece).
  void append_shared(const SharedBytes& shared);

  // Describes the next bytes to write in up to out.size() buffers; returns how many it used.
  std::size_t gather(std::span<iovec> out) const noexcept;
  // Drops the first `bytes` (written).
  void consume(std::size_t bytes) noexcept;

 private:
  struct Piece {
    SharedPayload shared;  // set: referenced bytes, up to `end`; otherwise `own` holds the bytes
    std::vector<std::byte> own;
    std::size_t start = 0;  // bytes before it are written
    std::size_t end = 0;    // shared only

    std::span<const std::byte> rest() const noexcept {
      if (shared) return std::span<const std::byte>(*shared).subspan(start, end - start);
      return std::span<const std::byte>(own).subspan(start);
    }
  };

  std::deque<Piece> pieces_;
  std::size_t size_ = 0;
};

}  // namespace fastws::detail
