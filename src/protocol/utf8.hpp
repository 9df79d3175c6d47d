// UTF-8 validation (RFC 3629), incremental across fragments, failing at the first invalid byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace fastws::protocol {

class Utf8Validator {
 public:
  // Validates the next piece of a message. Returns false as soon as a byte makes the text invalid
  // (overlong form, surrogate, code point above U+10FFFF, bad continuation); a sequence may be
  // split across calls. After false, the validator stays failed until reset().
  bool feed(const std::byte* data, std::size_t size) noexcept;
  bool feed(std::span<const std::byte> data) noexcept { return feed(data.data(), data.size()); }

  // True when the text so far ends on a code point boundary (the end of a message must).
  bool at_boundary() const noexcept { return state_ == 0; }
  void reset() noexcept { state_ = 0; }

 private:
  std::uint8_t state_ = 0;  // 0: boundary; otherwise the decoder state (failure is sticky)
};

// Whole-buffer check: valid and complete.
bool is_valid_utf8(const std::byte* data, std::size_t size) noexcept;
inline bool is_valid_utf8(std::string_view text) noexcept {
  return is_valid_utf8(reinterpret_cast<const std::byte*>(text.data()), text.size());
}

}  // namespace fastws::protocol
