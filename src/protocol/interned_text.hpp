// A short text kept once per process and named by a 2-byte index, for what many sessions would
// each hold a view (16 bytes) or a copy of although it takes few values: a server's
// permessage-deflate answers (two flags and two window sizes, named or not: a few hundred at
// most, see negotiate_deflate_offer).
#pragma once

#include <cstdint>
#include <string_view>

namespace fastws::protocol {

class InternedText {
 public:
  InternedText() noexcept = default;  // the empty text
  // Any thread: a lock, and a copy of `text` the first time it is seen. Past 65,535 distinct
  // texts (no server's answers) the text is kept empty.
  explicit InternedText(std::string_view text);

  // Any thread. Valid for the life of the process.
  std::string_view get() const;

 private:
  std::uint16_t index_ = 0;  // 0: empty; else the table's entry index_ - 1
};
static_assert(sizeof(InternedText) == 2);

}  // namespace fastws::protocol
