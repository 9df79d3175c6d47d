#include "protocol/mask_key.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <span>

namespace fastws::protocol {

namespace {

// Keys come from an AES-128-CTR keystream, keyed (key and starting counter) from OpenSSL's
// CSPRNG, itself seeded by the kernel. A pipelining client sends millions of frames per second:
// drawing every 8 KiB from RAND_bytes (its DRBG costs about 7 instructions per byte) was 5% of
// such a client's instructions; the keystream, with AES-NI, is about one. CTR output is as
// unpredictable as AES is strong, and a 128-bit counter never repeats in practice.
class Keystream {
 public:
  Keystream() = default;
  Keystream(const Keystream&) = delete;
  Keystream& operator=(const Keystream&) = delete;
  ~Keystream() { EVP_CIPHER_CTX_free(context_); }

  void fill(std::span<std::byte> out) noexcept {
    // A forked child has a copy of its parent's state: it must not send the parent's keys.
    if ((context_ == nullptr || keyed_in_ != getpid()) && !rekey()) return fill_from_kernel(out);
    static const std::array<unsigned char, 8192> zeros{};
    for (std::size_t done = 0; done < out.size();) {
      const int size = static_cast<int>(std::min(zeros.size(), out.size() - done));
      int written = 0;
      if (EVP_EncryptUpdate(context_, reinterpret_cast<unsigned char*>(out.data() + done), &written,
                            zeros.data(), size) != 1 ||
          written != size) {
        return fill_from_kernel(out);
      }
      done += static_cast<std::size_t>(size);
    }
  }

 private:
  bool rekey() noexcept {
    std::array<unsigned char, 32> seed;  // AES-128 key, then the initial counter block
    if (RAND_bytes(seed.data(), static_cast<int>(seed.size())) != 1) return false;
    if (context_ == nullptr) context_ = EVP_CIPHER_CTX_new();
    const bool keyed =
        context_ != nullptr && EVP_EncryptInit_ex(context_, EVP_aes_128_ctr(), nullptr, seed.data(),
                                                  seed.data() + 16) == 1;
    OPENSSL_cleanse(seed.data(), seed.size());
    if (keyed) keyed_in_ = getpid();
    return keyed;
  }

  // OpenSSL failed (it should not): the kernel's generator directly, slower but as strong.
  // Sending predictable masks would be worse than stopping, so if that fails too, stop.
  void fill_from_kernel(std::span<std::byte> out) noexcept {
    keyed_in_ = -1;  // try OpenSSL again next time
    for (std::size_t filled = 0; filled < out.size();) {
      const ssize_t got = getrandom(out.data() + filled, out.size() - filled, 0);
      if (got < 0 && errno != EINTR) std::abort();
      if (got > 0) filled += static_cast<std::size_t>(got);
    }
  }

  EVP_CIPHER_CTX* context_ = nullptr;
  pid_t keyed_in_ = -1;  // the process the keystream was keyed in
};

// What every thread's `pool` points at before its first refill: no key left.
constinit mask_keys::Pool spent_pool{{}, sizeof(spent_pool.bytes)};

// A forked child starts with a copy of the forking thread's keys: it must not send what its
// parent will send. The child (where only that thread runs) drops them; its keystream, keyed in
// the parent, is keyed afresh at the refill that follows (Keystream::fill checks the process).
void drop_keys_in_child() noexcept {
  mask_keys::pool = &spent_pool;
}

}  // namespace

namespace mask_keys {

[[gnu::tls_model("initial-exec")]] thread_local constinit Pool* pool = &spent_pool;

void refill() noexcept {
  static const bool fork_handler_installed =
      pthread_atfork(nullptr, nullptr, drop_keys_in_child) == 0;
  (void)fork_handler_installed;  // without it (out of memory), keys repeat only after a fork
  thread_local Keystream keystream;
  thread_local Pool own;
  keystream.fill(own.bytes);
  own.next = 0;
  pool = &own;
}

}  // namespace mask_keys

}  // namespace fastws::protocol
