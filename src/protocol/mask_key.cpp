#include "protocol/mask_key.hpp"

#include <openssl/rand.h>

#include <array>
#include <cstring>
#include <random>

namespace fastws::protocol {

namespace {

struct KeyPool {
  // 2,048 keys per refill: RAND_bytes costs about as much per call as 1 KiB of output, so a
  // small pool made it a visible share of a client's CPU under load.
  std::array<std::byte, 8192> bytes{};
  std::size_t next = bytes.size();

  void refill() noexcept {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()),
                   static_cast<int>(bytes.size())) != 1) {
      // OpenSSL's generator failed (it should not): fall back to the OS source rather than
      // sending predictable masks.
      std::random_device device;
      for (std::size_t i = 0; i < bytes.size(); i += sizeof(unsigned)) {
        unsigned value = device();
        std::memcpy(bytes.data() + i, &value, sizeof value);
      }
    }
    next = 0;
  }
};

}  // namespace

MaskKey random_mask_key() noexcept {
  thread_local KeyPool pool;
  if (pool.next + 4 > pool.bytes.size()) pool.refill();
  MaskKey key;
  std::memcpy(key.data(), pool.bytes.data() + pool.next, 4);
  pool.next += 4;
  return key;
}

}  // namespace fastws::protocol
