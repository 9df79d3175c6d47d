#include "connection/cork_buffer.hpp"

namespace fastws::detail {

void CorkBuffer::gather(GatheredOutput& out) const noexcept {
  std::size_t copied = 0;
  for (std::size_t i = 0; i < references_count_; ++i) {
    const Reference& reference = references_[i];
    out.add(bytes().subspan(copied, reference.at - copied), nullptr);
    out.add(std::span<const std::byte>(*reference.owner).subspan(reference.offset, reference.size),
            &reference.owner);
    copied = reference.at;
  }
  out.add(bytes().subspan(copied), nullptr);
}

void CorkBuffer::drop_references() noexcept {
  for (std::size_t i = 0; i < references_count_; ++i) references_[i].owner.reset();
  references_count_ = 0;
}

}  // namespace fastws::detail
