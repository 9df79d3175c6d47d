#include "net/tls_key_schedule.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>

#include <algorithm>
#include <string_view>

#include "net/tls_traffic_keys.hpp"

namespace fastws::net {

namespace {

// Fetched once and never freed, like the other process-wide OpenSSL objects fastws keeps.
EVP_KDF* kdf(const char* name) {
  return EVP_KDF_fetch(nullptr, name, nullptr);
}

bool derive(EVP_KDF* algorithm, const OSSL_PARAM* params, std::span<unsigned char> out) {
  if (algorithm == nullptr) return false;
  EVP_KDF_CTX* context = EVP_KDF_CTX_new(algorithm);
  if (context == nullptr) return false;
  const bool derived = EVP_KDF_derive(context, out.data(), out.size(), params) == 1;
  EVP_KDF_CTX_free(context);
  return derived;
}

char* digest_name(const EVP_MD* hash) {
  return const_cast<char*>(EVP_MD_get0_name(hash));
}

// HKDF-Expand-Label(secret, label, "", out.size()) (RFC 8446 7.1).
bool expand_label(const EVP_MD* hash, std::span<const unsigned char> secret, std::string_view label,
                  std::span<unsigned char> out) {
  static EVP_KDF* const hkdf = kdf(OSSL_KDF_NAME_HKDF);
  static constexpr std::string_view prefix = "tls13 ";
  unsigned char info[2 + 1 + 255 + 1];
  std::size_t size = 0;
  info[size++] = static_cast<unsigned char>(out.size() >> 8);
  info[size++] = static_cast<unsigned char>(out.size());
  info[size++] = static_cast<unsigned char>(prefix.size() + label.size());
  for (const char c : prefix) info[size++] = static_cast<unsigned char>(c);
  for (const char c : label) info[size++] = static_cast<unsigned char>(c);
  info[size++] = 0;  // no context
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest_name(hash), 0),
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                        const_cast<unsigned char*>(secret.data()), secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, size),
      OSSL_PARAM_construct_end()};
  return derive(hkdf, params, out);
}

}  // namespace

const EVP_CIPHER* aead_cipher(int nid) {
  static EVP_CIPHER* const aes128 = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
  static EVP_CIPHER* const aes256 = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  static EVP_CIPHER* const chacha = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  switch (nid) {
    case NID_aes_128_gcm:
      return aes128;
    case NID_aes_256_gcm:
      return aes256;
    case NID_chacha20_poly1305:
      return chacha;
    default:
      return nullptr;
  }
}

bool tls12_key_block(const EVP_MD* hash, std::span<const unsigned char> master,
                     std::span<const unsigned char, 64> randoms, std::span<unsigned char> out) {
  static EVP_KDF* const prf = kdf(OSSL_KDF_NAME_TLS1_PRF);
  static constexpr std::string_view label = "key expansion";
  unsigned char seed[label.size() + 64];
  std::copy(label.begin(), label.end(), seed);
  std::copy(randoms.begin(), randoms.end(), seed + label.size());
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest_name(hash), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET,
                                        const_cast<unsigned char*>(master.data()), master.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed, sizeof seed),
      OSSL_PARAM_construct_end()};
  return derive(prf, params, out);
}

bool tls13_traffic_keys(const EVP_MD* hash, std::span<const unsigned char> secret,
                        std::size_t key_size, TrafficKeys& keys) {
  keys.key.resize(key_size);
  keys.iv.resize(12);
  return expand_label(hash, secret, "key", keys.key) && expand_label(hash, secret, "iv", keys.iv);
}

bool tls13_next_secret(const EVP_MD* hash, std::vector<unsigned char>& secret) {
  std::vector<unsigned char> next(secret.size());
  if (!expand_label(hash, secret, "traffic upd", next)) return false;
  OPENSSL_cleanse(secret.data(), secret.size());
  secret.swap(next);
  return true;
}

}  // namespace fastws::net
