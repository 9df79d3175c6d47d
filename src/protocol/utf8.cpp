// UTF-8 validation as a shift-based DFA with an ASCII fast path.
//
// Valid UTF-8 is the byte grammar of RFC 3629 section 4: besides the lead and continuation
// structure, it refuses overlong forms (E0 80..9F, F0 80..8F, C0, C1), surrogates (ED A0..BF) and
// code points above U+10FFFF (F4 90..BF, F5..FF). Each of these is decided by the second byte at
// the latest, so the automaton below rejects at the first byte that no valid text can contain,
// which is what RFC 6455 section 8.1 asks of an endpoint ("fail fast").
#include "protocol/utf8.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace fastws::protocol {

namespace {

// The states are bit offsets (multiples of 6) into a 64-bit row per input byte: the row holds,
// for every state, the 6-bit offset of the next state. One step is then a shift of the row by the
// current state, which keeps the per-byte dependency chain to a single shift.
enum State : std::uint32_t {
  accept = 0,     // on a code point boundary (must be 0: see Utf8Validator::at_boundary)
  reject = 6,     // sticky: every row maps it to itself
  need_1 = 12,    // one more continuation byte 80..BF
  need_2 = 18,    // two more, any continuation
  need_3 = 24,    // three more, any continuation
  after_e0 = 30,  // next must be A0..BF (80..9F would be an overlong 3-byte form)
  after_ed = 36,  // next must be 80..9F (A0..BF would encode a surrogate U+D800..U+DFFF)
  after_f0 = 42,  // next must be 90..BF (80..8F would be an overlong 4-byte form)
  after_f4 = 48,  // next must be 80..8F (90..BF would be above U+10FFFF)
};

constexpr unsigned state_bits_mask = 63;

constexpr bool in(unsigned byte, unsigned low, unsigned high) {
  return byte >= low && byte <= high;
}

constexpr State after_lead(unsigned byte) {
  if (byte <= 0x7F) return accept;
  if (in(byte, 0xC2, 0xDF)) return need_1;
  if (byte == 0xE0) return after_e0;
  if (byte == 0xED) return after_ed;
  if (in(byte, 0xE1, 0xEF)) return need_2;
  if (byte == 0xF0) return after_f0;
  if (byte == 0xF4) return after_f4;
  if (in(byte, 0xF1, 0xF3)) return need_3;
  return reject;  // 80..BF without a lead, C0, C1 (always overlong), F5..FF (above U+10FFFF)
}

constexpr State next_state(State state, unsigned byte) {
  const bool continuation = in(byte, 0x80, 0xBF);
  switch (state) {
    case accept:
      return after_lead(byte);
    case need_1:
      return continuation ? accept : reject;
    case need_2:
      return continuation ? need_1 : reject;
    case need_3:
      return continuation ? need_2 : reject;
    case after_e0:
      return in(byte, 0xA0, 0xBF) ? need_1 : reject;
    case after_ed:
      return in(byte, 0x80, 0x9F) ? need_1 : reject;
    case after_f0:
      return in(byte, 0x90, 0xBF) ? need_2 : reject;
    case after_f4:
      return in(byte, 0x80, 0x8F) ? need_2 : reject;
    case reject:
      break;
  }
  return reject;
}

constexpr std::array<std::uint64_t, 256> make_rows() {
  constexpr std::array<State, 9> states = {accept,   reject,   need_1,   need_2,  need_3,
                                           after_e0, after_ed, after_f0, after_f4};
  std::array<std::uint64_t, 256> rows{};
  for (unsigned byte = 0; byte < 256; ++byte) {
    for (State state : states) {
      rows[byte] |= std::uint64_t{next_state(state, byte)} << state;
    }
  }
  return rows;
}

constexpr std::array<std::uint64_t, 256> rows = make_rows();

// Runs the automaton over [bytes, bytes + size). The state carries the next state in its low 6
// bits and leftovers above them: masking the shift count (free on x86, whose shifts ignore the
// high count bits) is all that is needed between steps.
std::uint64_t run_dfa(std::uint64_t state, const unsigned char* bytes, std::size_t size) noexcept {
  for (std::size_t i = 0; i < size; ++i) state = rows[bytes[i]] >> (state & state_bits_mask);
  return state & state_bits_mask;
}

constexpr bool is_continuation(unsigned char byte) {
  return (byte & 0xC0) == 0x80;
}

// Same result as run_dfa, but as two independent halves whose steps interleave, so that the CPU
// overlaps the two chains of dependent shifts (about 1.4x faster on multi-byte text). The second
// half starts at a lead or ASCII byte; more than 3 continuation bytes in a row are invalid anyway,
// so looking that far for one is enough.
std::uint64_t run_dfa_split(std::uint64_t state, const unsigned char* bytes,
                            std::size_t size) noexcept {
  std::size_t middle = size / 2;
  for (int skipped = 0; skipped < 3 && middle < size && is_continuation(bytes[middle]); ++skipped) {
    ++middle;
  }
  if (middle == size) return run_dfa(state, bytes, size);
  const unsigned char* second = bytes + middle;
  const std::size_t second_size = size - middle;
  const std::size_t both = std::min(middle, second_size);
  std::uint64_t second_state = accept;
  for (std::size_t i = 0; i < both; ++i) {
    state = rows[bytes[i]] >> (state & state_bits_mask);
    second_state = rows[second[i]] >> (second_state & state_bits_mask);
  }
  state = run_dfa(state, bytes + both, middle - both);
  second_state = run_dfa(second_state, second + both, second_size - both);
  // The text is valid up to the end only if the first half ends between code points: then the
  // second half, started there, has the answer. Otherwise the byte at `middle` is invalid.
  if (state != accept) return reject;
  return second_state;
}

constexpr std::size_t ascii_block = 16;

// Returns the offset of the first non-ASCII byte of [bytes, bytes + size), or, when there is none
// among the whole 16-byte blocks, the offset where fewer than 16 bytes remain (the automaton
// takes that tail).
std::size_t ascii_prefix(const unsigned char* bytes, std::size_t size) noexcept {
  std::size_t i = 0;
#if defined(__SSE2__)
  auto load = [bytes](std::size_t at) {
    __m128i block;
    std::memcpy(&block, bytes + at, sizeof block);
    return block;
  };
  // Four blocks per test while the text is all ASCII; the 16-byte loop below then locates the
  // non-ASCII byte.
  for (; size - i >= 4 * ascii_block; i += 4 * ascii_block) {
    const __m128i any =
        _mm_or_si128(_mm_or_si128(load(i), load(i + 16)), _mm_or_si128(load(i + 32), load(i + 48)));
    if (_mm_movemask_epi8(any) != 0) break;
  }
  for (; size - i >= ascii_block; i += ascii_block) {
    const int high_bits = _mm_movemask_epi8(load(i));
    if (high_bits != 0) {
      return i + static_cast<std::size_t>(std::countr_zero(static_cast<unsigned>(high_bits)));
    }
  }
#else
  constexpr std::uint64_t high_bit_of_each_byte = 0x8080808080808080;
  auto first_high_byte = [](std::uint64_t high_bits) {
    const int bit = std::endian::native == std::endian::little ? std::countr_zero(high_bits)
                                                               : std::countl_zero(high_bits);
    return static_cast<std::size_t>(bit / 8);
  };
  for (; size - i >= ascii_block; i += ascii_block) {
    std::uint64_t words[2];
    std::memcpy(words, bytes + i, sizeof words);
    if (((words[0] | words[1]) & high_bit_of_each_byte) == 0) continue;
    const std::uint64_t first = words[0] & high_bit_of_each_byte;
    if (first != 0) return i + first_high_byte(first);
    return i + 8 + first_high_byte(words[1] & high_bit_of_each_byte);
  }
#endif
  return i;
}

// How many bytes the automaton takes after leaving the fast path before looking for ASCII again:
// long enough to cover a few multi-byte code points, short enough to return soon to ASCII runs.
constexpr std::size_t dfa_run = 64;

}  // namespace

bool Utf8Validator::feed(const std::byte* data, std::size_t size) noexcept {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data);
  std::uint64_t state = state_;
  std::size_t i = 0;
  while (i < size && state != reject) {
    // ASCII bytes leave the boundary state unchanged, so whole blocks of them can be skipped; in
    // the middle of a sequence the next byte must go through the automaton.
    if (state == accept) {
      i += ascii_prefix(bytes + i, size - i);
      if (i == size) break;
    }
    const std::size_t run = std::min(size - i, dfa_run);
    state = run_dfa_split(state, bytes + i, run);
    i += run;
  }
  state_ = static_cast<std::uint8_t>(state);  // a state is below 64 (state_bits_mask)
  return state != reject;
}

bool is_valid_utf8(const std::byte* data, std::size_t size) noexcept {
  Utf8Validator validator;
  return validator.feed(data, size) && validator.at_boundary();
}

}  // namespace fastws::protocol
