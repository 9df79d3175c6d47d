#include "net/compact_address.hpp"

#include <cstring>
#include <string>

namespace fastws::detail {

CompactAddress::~CompactAddress() {
  const std::uint64_t word = word_.load(std::memory_order_relaxed);
  if (on_heap(word)) delete reinterpret_cast<const PeerAddress*>(word);
}

void CompactAddress::set(const PeerAddress& address) {
  std::uint64_t word = 0;
  if (address.family_ == AF_INET) {
    std::uint32_t host = 0;
    std::memcpy(&host, address.address_, sizeof host);
    word = ipv4_tag | (std::uint64_t{host} << 16) | (std::uint64_t{address.port_} << 48);
  } else if (address.family_ == AF_UNIX) {
    word = unix_tag | reinterpret_cast<std::uintptr_t>(address.unix_path());
  } else if (address.family_ != AF_UNSPEC) {
    word = reinterpret_cast<std::uintptr_t>(new PeerAddress(address));
  }
  // Release: a reader that sees a heap word sees the PeerAddress it points to.
  const std::uint64_t old = word_.exchange(word, std::memory_order_acq_rel);
  if (on_heap(old)) delete reinterpret_cast<const PeerAddress*>(old);
}

PeerAddress CompactAddress::get() const {
  const std::uint64_t word = word_.load(std::memory_order_acquire);
  PeerAddress address;
  switch (word & tag_bits) {
    case ipv4_tag: {
      address.family_ = AF_INET;
      const auto host = static_cast<std::uint32_t>(word >> 16);
      std::memcpy(address.address_, &host, sizeof host);
      address.port_ = static_cast<std::uint16_t>(word >> 48);
      return address;
    }
    case unix_tag: {
      address.family_ = AF_UNIX;
      const auto* path = reinterpret_cast<const std::string*>(word & ~tag_bits);
      std::memcpy(address.address_, &path, sizeof path);
      return address;
    }
    default:
      return word == 0 ? address : *reinterpret_cast<const PeerAddress*>(word);
  }
}

}  // namespace fastws::detail
