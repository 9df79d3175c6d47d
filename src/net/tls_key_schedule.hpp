// The key derivations of TLS record protection (RFC 5246 6.3, RFC 8446 7.1-7.3) and the AEAD
// ciphers fastws protects records with, for TlsRecordLayer and the keys it starts from.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

struct evp_cipher_st;  // OpenSSL's EVP_CIPHER
struct evp_md_st;      // OpenSSL's EVP_MD

namespace fastws::net {

struct TrafficKeys;

// AES-128-GCM, AES-256-GCM or ChaCha20-Poly1305 for their OpenSSL NIDs (fetched once for the
// process); nullptr for any other cipher.
const evp_cipher_st* aead_cipher(int nid);

// TLS 1.2's PRF(master secret, "key expansion", server random + client random), `out.size()`
// bytes. `randoms` is the server's random followed by the client's.
bool tls12_key_block(const evp_md_st* hash, std::span<const unsigned char> master,
                     std::span<const unsigned char, 64> randoms, std::span<unsigned char> out);

// TLS 1.3: `keys`' key (key_size bytes) and 12-byte IV from a traffic secret.
bool tls13_traffic_keys(const evp_md_st* hash, std::span<const unsigned char> secret,
                        std::size_t key_size, TrafficKeys& keys);

// TLS 1.3 KeyUpdate: the next traffic secret, HKDF-Expand-Label(secret, "traffic upd", "",
// Hash.length).
bool tls13_next_secret(const evp_md_st* hash, std::vector<unsigned char>& secret);

}  // namespace fastws::net
