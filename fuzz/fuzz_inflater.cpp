// libFuzzer target: the permessage-deflate Inflater on arbitrary input, and a Deflater/Inflater
// round trip. Input: a settings byte (no_context_takeover, split seed), two bytes for the message
// budget, then the payload.
//  1. The payload is fed in pseudo-random pieces, each possibly ending a message, with what is
//     left of the message budget: a call never grows `out` beyond that budget plus one byte, nor
//     its capacity beyond that (no bomb is ever materialised), and a message never exceeds the
//     budget. After too_big or error the connection would close: a fresh Inflater goes on.
//     A second Inflater gets the same pieces as a session with a bounded share does: pausing
//     after a random share of output or with its buffer full at a random bound, the rest fed
//     again. It must agree with the first on every verdict and every byte, and a pause must leave
//     input, follow a whole share or a full buffer, and never grow the buffer past its bound.
//  2. The payload compressed in pieces (twice, so the second message may refer to the first)
//     inflates back to itself, exactly within a budget of its own size.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "protocol/permessage_deflate.hpp"

namespace {

using fastws::protocol::Deflater;
using fastws::protocol::Inflater;
using Bytes = std::vector<std::byte>;

void require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz_inflater: %s\n", what);
  std::abort();
}

// A tiny generator for split points, so that a crash reproduces from its input alone.
class Splitter {
 public:
  explicit Splitter(std::uint8_t seed) : state_(seed * 2654435761u + 1) {}
  std::uint32_t next() {
    state_ = state_ * 1103515245u + 12345u;
    return state_ >> 16;
  }
  std::size_t piece_size() {
    const std::uint32_t bits = next();
    return (bits & 3) == 0 ? (bits >> 2) % 4096 : (bits >> 2) % 64;
  }

 private:
  std::uint32_t state_;
};

// `piece` inflated as a session with a bounded share does: each call pausing after `share` bytes
// of output or when its buffer is full at `block` bytes of capacity, fed the input the last one
// left, each buffer's bytes appended to `out`.
Inflater::Status decompress_in_shares(Inflater& inflater, std::span<const std::byte> piece,
                                      bool end_of_message, Bytes& out, std::size_t budget,
                                      std::size_t share, std::size_t block) {
  Bytes buffer;
  for (;;) {
    std::size_t consumed = 0;
    const auto status =
        inflater.decompress(piece, end_of_message, buffer, budget,
                            {.after_output = share, .at_capacity = block}, consumed);
    require(consumed <= piece.size(), "consumed more than it was given");
    out.insert(out.end(), buffer.begin(), buffer.end());
    if (status != Inflater::Status::paused) return status;
    require(consumed < piece.size(), "paused with no input left");
    require(buffer.size() >= share || buffer.size() == block, "paused before its share");
    require(buffer.capacity() <= block, "the buffer grew past its bound while input was left");
    require(buffer.size() <= budget, "paused beyond the budget");
    budget -= buffer.size();
    buffer.clear();  // its capacity stays: room again
    piece = piece.subspan(consumed);
  }
}

void inflate_arbitrary(std::span<const std::byte> payload, bool no_context_takeover,
                       std::size_t max_message, Splitter& split) {
  auto inflater = std::make_unique<Inflater>(15, no_context_takeover);
  auto in_shares = std::make_unique<Inflater>(15, no_context_takeover);
  Bytes out, out_in_shares;
  std::size_t message_size = 0;
  while (!payload.empty()) {
    const std::size_t size = std::min(split.piece_size(), payload.size());
    const std::span<const std::byte> piece = payload.first(size);
    payload = payload.subspan(size);
    const bool end_of_message = payload.empty() || (split.next() & 3) == 0;
    const std::size_t before = out.size();
    const std::size_t capacity_before = out.capacity();
    const std::size_t budget = max_message - message_size;
    const auto status = inflater->decompress(piece, end_of_message, out, budget);
    const std::size_t share = 1 + split.next() % 20000;
    const std::size_t block = 1 + split.next() % 70000;
    const auto status_in_shares = decompress_in_shares(*in_shares, piece, end_of_message,
                                                       out_in_shares, budget, share, block);
    require(status_in_shares == status, "pausing changed the verdict");
    require(status != Inflater::Status::ok || out_in_shares == out, "pausing changed the output");
    require(out.size() - before <= budget + 1, "output grew beyond the budget plus one byte");
    require(out.capacity() <= std::max(capacity_before, before + budget + 1),
            "capacity grew beyond the budget");
    message_size += out.size() - before;
    if (status != Inflater::Status::ok) {
      require(status == Inflater::Status::too_big || *inflater->last_error() != '\0',
              "an error without a reason");
      inflater = std::make_unique<Inflater>(15, no_context_takeover);
      in_shares = std::make_unique<Inflater>(15, no_context_takeover);
    } else {
      require(message_size <= max_message, "a message passed beyond the budget");
      if (!end_of_message) continue;
    }
    out.clear();
    out_in_shares.clear();
    message_size = 0;
  }
}

void round_trip(std::span<const std::byte> payload, std::uint8_t settings, Splitter& split) {
  const bool no_context_takeover = (settings & 1) != 0;
  const int window_bits = 9 + (settings >> 1) % 7;
  const int level = static_cast<int>(split.next() % 11) - 1;
  const int mem_level = 1 + static_cast<int>(split.next() % 9);
  Deflater deflater(window_bits, no_context_takeover, level, mem_level);
  Inflater inflater(window_bits, no_context_takeover);
  for (int message = 0; message < 2; ++message) {
    Bytes compressed;
    std::span<const std::byte> rest = payload;
    do {
      const std::size_t size = std::min(split.piece_size(), rest.size());
      const std::span<const std::byte> piece = rest.first(size);
      rest = rest.subspan(size);
      require(deflater.compress(piece, rest.empty(), compressed), "compress failed");
    } while (!rest.empty());
    Bytes restored;
    const auto status = inflater.decompress(compressed, true, restored, payload.size());
    require(status == Inflater::Status::ok, "our own compressed message did not inflate");
    require(std::equal(restored.begin(), restored.end(), payload.begin(), payload.end()),
            "the round trip changed the message");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::uint8_t settings = data[0];
  // Up to 1 MiB, in 16-byte steps: small budgets are common, so the limit is hit often.
  const std::size_t max_message = ((std::size_t{data[1]} << 8) | data[2]) * 16;
  const std::span<const std::byte> payload(reinterpret_cast<const std::byte*>(data + 3), size - 3);
  Splitter split(settings);
  inflate_arbitrary(payload, (settings & 1) != 0, max_message, split);
  round_trip(payload, settings, split);
  return 0;
}
