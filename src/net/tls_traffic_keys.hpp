// The keys that protect an established TLS 1.2 or 1.3 session's records, taken from OpenSSL at
// the end of a handshake (a server's or a client's) so that fastws can protect the records itself
// and free the SSL object (TlsRecordLayer).
//
// OpenSSL 3.0 has no call that returns a session's record keys or sequence numbers. What it does
// report is enough: TLS 1.3 traffic secrets through the context's key-log callback (the context
// must have been made by TlsContext::from_files or TlsContext::client, which install it), the TLS
// 1.2 master secret and randoms through SSL_SESSION_get_master_key / SSL_get_*_random, and every
// record header and handshake message through the session's message callback, from which
// HandshakeCapture counts the records each direction has protected with its current keys.
//
// Threading: the connection's loop thread only.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

struct ssl_st;         // OpenSSL's SSL
struct ssl_ctx_st;     // OpenSSL's SSL_CTX
struct evp_cipher_st;  // OpenSSL's EVP_CIPHER
struct evp_md_st;      // OpenSSL's EVP_MD

namespace fastws::net {

enum class TlsRecordVersion : std::uint8_t { tls12, tls13 };

// One direction's record protection.
struct TrafficKeys {
  std::vector<unsigned char> key;
  // TLS 1.3 and ChaCha20-Poly1305: the 12-byte IV the sequence number is mixed into; TLS 1.2
  // AES-GCM: the 4-byte salt (the rest of the nonce travels in each record).
  std::vector<unsigned char> iv;
  std::uint64_t sequence = 0;
  // TLS 1.3: the traffic secret, from which a KeyUpdate derives the next keys.
  std::vector<unsigned char> secret;
  ~TrafficKeys();  // wipes the key material
};

struct SessionKeys {
  TlsRecordVersion version = TlsRecordVersion::tls13;
  // The session is a client's: it reads what the server writes, and in TLS 1.3 the server may
  // send it NewSessionTicket messages after the handshake.
  bool client_side = false;
  const evp_cipher_st* cipher = nullptr;  // AES-128/256-GCM or ChaCha20-Poly1305
  const evp_md_st* hash = nullptr;        // TLS 1.3: the suite's HKDF hash
  TrafficKeys read;
  TrafficKeys write;
};

// What OpenSSL reports about one session (a server's or a client's) during its handshake.
class HandshakeCapture {
 public:
  // Makes the capture report `ssl`'s secrets and records to `this` (which must outlive the
  // handshake or be detached first).
  void attach(ssl_st* ssl);
  void detach(ssl_st* ssl);
  // The established session's keys, or false when fastws cannot protect its records: another
  // version or suite (CBC, CCM), a negotiated maximum fragment length, or a secret that did not
  // come (a context without fastws's key-log callback).
  bool session_keys(ssl_st* ssl, SessionKeys& keys) const;

  // Installs on `context` the key-log callback that hands secrets to the attached capture.
  static void report_secrets_of(ssl_ctx_st* context);

 private:
  static void on_message(int write, int version, int content_type, const void* data,
                         std::size_t size, ssl_st* ssl, void* self);
  static void on_key_log(const ssl_st* ssl, const char* line);

  // Records protected with the current keys, counted from the message callback's record
  // headers: the count restarts after a ChangeCipherSpec record (TLS 1.2, whose Finished is the
  // first record under the new keys) and, in TLS 1.3, after the Finished message (the
  // application keys start with the next record).
  std::array<std::uint64_t, 2> records_{};             // [0] read, [1] written
  std::array<std::vector<unsigned char>, 2> secrets_;  // TLS 1.3 [0] client's, [1] server's
};

}  // namespace fastws::net
