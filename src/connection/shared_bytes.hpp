// Bytes inside a buffer that many connections share (a broadcast frame, or a run of them joined):
// whoever keeps them past the call takes a reference to the owner, nobody copies them.
#pragma once

#include <cstddef>
#include <span>

#include "fastws/conn.hpp"

namespace fastws::detail {

struct SharedBytes {
  const SharedPayload* owner = nullptr;
  std::span<const std::byte> bytes;  // inside **owner

  static SharedBytes whole(const SharedPayload& buffer) noexcept { return {&buffer, *buffer}; }
  std::size_t offset() const noexcept {
    return static_cast<std::size_t>(bytes.data() - (*owner)->data());
  }
  // Bytes of the owner from here to its end: how far a run of neighbours could reach.
  std::size_t reach() const noexcept { return (*owner)->size() - offset(); }
};

}  // namespace fastws::detail
