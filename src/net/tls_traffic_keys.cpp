#include "net/tls_traffic_keys.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <string_view>

#include "net/tls_key_schedule.hpp"

namespace fastws::net {

namespace {

int capture_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::vector<unsigned char> from_hex(std::string_view hex) {
  std::vector<unsigned char> bytes;
  if (hex.size() % 2 != 0) return bytes;
  bytes.reserve(hex.size() / 2);
  for (std::size_t at = 0; at < hex.size(); at += 2) {
    const int high = hex_digit(hex[at]);
    const int low = hex_digit(hex[at + 1]);
    if (high < 0 || low < 0) return {};
    bytes.push_back(static_cast<unsigned char>(high * 16 + low));
  }
  return bytes;
}

void wipe(std::vector<unsigned char>& bytes) {
  if (!bytes.empty()) OPENSSL_cleanse(bytes.data(), bytes.size());
}

// TLS 1.2 (RFC 5246 6.3): the key block of an AEAD suite holds no MAC keys: the client's key,
// the server's key, the client's IV, the server's IV.
bool tls12_keys(SSL* ssl, const SSL_CIPHER* suite, SessionKeys& keys) {
  unsigned char master[SSL_MAX_MASTER_KEY_LENGTH];
  const std::size_t master_size =
      SSL_SESSION_get_master_key(SSL_get_session(ssl), master, sizeof master);
  unsigned char randoms[2 * SSL3_RANDOM_SIZE];  // server's, then client's
  if (master_size == 0 ||
      SSL_get_server_random(ssl, randoms, SSL3_RANDOM_SIZE) != SSL3_RANDOM_SIZE ||
      SSL_get_client_random(ssl, randoms + SSL3_RANDOM_SIZE, SSL3_RANDOM_SIZE) !=
          SSL3_RANDOM_SIZE) {
    return false;
  }
  const std::size_t key_size = static_cast<std::size_t>(EVP_CIPHER_get_key_length(keys.cipher));
  // AES-GCM: a 4-byte salt (RFC 5288 3); ChaCha20-Poly1305: a 12-byte IV (RFC 7905 2).
  const std::size_t iv_size = SSL_CIPHER_get_cipher_nid(suite) == NID_chacha20_poly1305 ? 12 : 4;
  std::vector<unsigned char> block(2 * (key_size + iv_size));
  const bool derived = tls12_key_block(SSL_CIPHER_get_handshake_digest(suite),
                                       {master, master_size}, randoms, block);
  OPENSSL_cleanse(master, sizeof master);
  if (!derived) return false;
  const unsigned char* at = block.data();
  // A server reads what the client writes, a client what the server writes.
  TrafficKeys& client = keys.client_side ? keys.write : keys.read;
  TrafficKeys& server = keys.client_side ? keys.read : keys.write;
  client.key.assign(at, at + key_size);
  server.key.assign(at + key_size, at + 2 * key_size);
  client.iv.assign(at + 2 * key_size, at + 2 * key_size + iv_size);
  server.iv.assign(at + 2 * key_size + iv_size, at + 2 * (key_size + iv_size));
  wipe(block);
  return true;
}

// TLS 1.3 (RFC 8446 7.3): key and IV from each direction's application traffic secret.
bool tls13_keys(const std::array<std::vector<unsigned char>, 2>& secrets, SessionKeys& keys) {
  const std::size_t key_size = static_cast<std::size_t>(EVP_CIPHER_get_key_length(keys.cipher));
  // A server reads what the client writes, a client what the server writes.
  const std::size_t read_slot = keys.client_side ? 1 : 0;
  keys.read.secret = secrets[read_slot];
  keys.write.secret = secrets[1 - read_slot];
  return tls13_traffic_keys(keys.hash, keys.read.secret, key_size, keys.read) &&
         tls13_traffic_keys(keys.hash, keys.write.secret, key_size, keys.write);
}

}  // namespace

TrafficKeys::~TrafficKeys() {
  wipe(key);
  wipe(iv);
  wipe(secret);
}

void HandshakeCapture::attach(SSL* ssl) {
  SSL_set_ex_data(ssl, capture_index(), this);
  SSL_set_msg_callback(ssl, on_message);
  SSL_set_msg_callback_arg(ssl, this);
}

void HandshakeCapture::detach(SSL* ssl) {
  SSL_set_msg_callback(ssl, nullptr);
  SSL_set_msg_callback_arg(ssl, nullptr);
  SSL_set_ex_data(ssl, capture_index(), nullptr);
  wipe(secrets_[0]);
  wipe(secrets_[1]);
}

void HandshakeCapture::report_secrets_of(SSL_CTX* context) {
  SSL_CTX_set_keylog_callback(context, on_key_log);
}

void HandshakeCapture::on_message(int write, int, int content_type, const void* data,
                                  std::size_t size, SSL* ssl, void* self) {
  std::uint64_t& records = static_cast<HandshakeCapture*>(self)->records_[write ? 1 : 0];
  if (content_type == SSL3_RT_HEADER && size > 0) {
    // A ChangeCipherSpec record is the last one under the old keys. (OpenSSL reports no
    // ChangeCipherSpec message for those it reads: their record header is what tells.)
    const bool change = *static_cast<const unsigned char*>(data) == SSL3_RT_CHANGE_CIPHER_SPEC;
    records = change ? 0 : records + 1;
  } else if (content_type == SSL3_RT_HANDSHAKE && size > 0 &&
             *static_cast<const unsigned char*>(data) == SSL3_MT_FINISHED &&
             SSL_version(ssl) == TLS1_3_VERSION) {
    records = 0;
  }
}

void HandshakeCapture::on_key_log(const SSL* ssl, const char* line) {
  auto* capture = static_cast<HandshakeCapture*>(SSL_get_ex_data(ssl, capture_index()));
  if (capture == nullptr) return;
  // "LABEL <client random in hex> <secret in hex>" (the NSS key log format).
  const std::string_view text(line);
  const std::size_t first = text.find(' ');
  const std::size_t second = text.find(' ', first + 1);
  if (first == std::string_view::npos || second == std::string_view::npos) return;
  const std::string_view label = text.substr(0, first);
  std::size_t slot = 0;
  if (label == "SERVER_TRAFFIC_SECRET_0") {
    slot = 1;
  } else if (label != "CLIENT_TRAFFIC_SECRET_0") {
    return;
  }
  wipe(capture->secrets_[slot]);
  capture->secrets_[slot] = from_hex(text.substr(second + 1));
}

bool HandshakeCapture::session_keys(SSL* ssl, SessionKeys& keys) const {
  const SSL_CIPHER* suite = SSL_get_current_cipher(ssl);
  SSL_SESSION* session = SSL_get_session(ssl);
  if (suite == nullptr || session == nullptr || !SSL_CIPHER_is_aead(suite) ||
      SSL_SESSION_get_max_fragment_length(session) != TLSEXT_max_fragment_length_DISABLED) {
    return false;
  }
  keys.cipher = aead_cipher(SSL_CIPHER_get_cipher_nid(suite));
  if (keys.cipher == nullptr) return false;
  keys.client_side = SSL_is_server(ssl) == 0;
  keys.read.sequence = records_[0];
  keys.write.sequence = records_[1];
  switch (SSL_version(ssl)) {
    case TLS1_2_VERSION:
      keys.version = TlsRecordVersion::tls12;
      return tls12_keys(ssl, suite, keys);
    case TLS1_3_VERSION:
      keys.version = TlsRecordVersion::tls13;
      keys.hash = SSL_CIPHER_get_handshake_digest(suite);
      return keys.hash != nullptr && !secrets_[0].empty() && !secrets_[1].empty() &&
             tls13_keys(secrets_, keys);
    default:
      return false;
  }
}

}  // namespace fastws::net
