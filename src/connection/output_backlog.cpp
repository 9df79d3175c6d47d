#include "connection/output_backlog.hpp"

#include <algorithm>

namespace fastws::detail {

namespace {

// A copied piece that is being written while more is appended to it is compacted once its
// written part is this large and at least half of it, so it cannot grow without end.
constexpr std::size_t compaction_threshold = 64 * 1024;

}  // namespace

std::span<std::byte> OutputBacklog::append(std::span<const std::byte> bytes) {
  if (bytes.empty()) return {};
  if (pieces_.empty() || pieces_.back().shared) pieces_.emplace_back();
  std::vector<std::byte>& own = pieces_.back().own;
  const std::size_t at = own.size();
  own.insert(own.end(), bytes.begin(), bytes.end());
  size_ += bytes.size();
  return std::span<std::byte>(own).subspan(at);
}

void OutputBacklog::append_shared(const SharedBytes& shared) {
  const std::size_t offset = shared.offset();
  if (!pieces_.empty() && pieces_.back().shared == *shared.owner && pieces_.back().end == offset) {
    // The next bytes of the same buffer (the next frame of a run): the piece grows.
    pieces_.back().end += shared.bytes.size();
  } else if (shared.bytes.size() < min_shared_reference) {
    append(shared.bytes);
    return;
  } else {
    pieces_.push_back(Piece{*shared.owner, {}, offset, offset + shared.bytes.size()});
  }
  size_ += shared.bytes.size();
}

std::size_t OutputBacklog::copied_bytes_held() const noexcept {
  std::size_t held = 0;
  for (const Piece& piece : pieces_) held += piece.own.size();
  return held;
}

std::size_t OutputBacklog::gather(std::span<iovec> out) const noexcept {
  std::size_t used = 0;
  for (const Piece& piece : pieces_) {
    if (used == out.size()) break;
    const std::span<const std::byte> rest = piece.rest();
    // writev does not write through iov_base.
    out[used++] = {const_cast<std::byte*>(rest.data()), rest.size()};
  }
  return used;
}

void OutputBacklog::consume(std::size_t bytes) noexcept {
  size_ -= bytes;
  while (bytes > 0) {
    Piece& front = pieces_.front();
    const std::size_t left = front.rest().size();
    if (bytes < left) {
      front.start += bytes;
      if (!front.shared && front.start >= compaction_threshold &&
          front.start * 2 >= front.own.size()) {
        front.own.erase(front.own.begin(),
                        front.own.begin() + static_cast<std::ptrdiff_t>(front.start));
        front.start = 0;
      }
      return;
    }
    bytes -= left;
    pieces_.pop_front();
  }
}

}  // namespace fastws::detail
