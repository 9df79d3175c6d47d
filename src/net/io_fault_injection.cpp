#include "net/io_fault_injection.hpp"

#include <algorithm>

namespace fastws::net::testing {

std::span<const iovec> first_bytes(std::span<const iovec> buffers, std::size_t max_bytes,
                                   std::span<iovec> storage) noexcept {
  std::size_t count = 0;
  for (const iovec& buffer : buffers) {
    if (max_bytes == 0 || count == storage.size()) break;
    const std::size_t take = std::min(buffer.iov_len, max_bytes);
    storage[count++] = {buffer.iov_base, take};
    max_bytes -= take;
  }
  return storage.first(count);
}

}  // namespace fastws::net::testing
