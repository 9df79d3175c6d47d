#include "net/tls_record_layer.hpp"

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "net/tls_key_schedule.hpp"

namespace fastws::net {

namespace {

constexpr unsigned char alert = 21;
constexpr unsigned char handshake = 22;
constexpr unsigned char application_data = 23;
// TLS 1.3 handshake message types.
constexpr unsigned char new_session_ticket = 4;
constexpr unsigned char certificate_request = 13;
constexpr unsigned char key_update = 24;
constexpr std::size_t message_header_size = 4;  // type, 24-bit length
// tls_record_category(): 512 + the type of a post-handshake message not taken.
constexpr int refused_message = 512;

constexpr std::size_t header_size = 5;
constexpr std::size_t tag_size = 16;
constexpr std::size_t max_plaintext = 16384;  // 2^14 (RFC 8446 5.1, RFC 5246 6.2.1)
// The largest record body a peer may send (RFC 8446 5.2, RFC 5246 6.2.3).
constexpr std::size_t max_tls13_body = max_plaintext + 256;
constexpr std::size_t max_tls12_body = max_plaintext + 2048;
// Alerts and KeyUpdate answers a peer may make us queue while it does not read: more is abuse.
constexpr std::size_t max_unsent = 2 * (max_plaintext + 64);
// Records in a row that carry no application data (empty ones, warning alerts, KeyUpdates,
// renegotiation requests): each costs a decryption and gives read() nothing to return, so a peer
// sending them as fast as they are opened would keep read() and its thread busy for as long as it
// likes. More is abuse, as OpenSSL judges (MAX_EMPTY_RECORDS, also 32).
constexpr std::uint8_t max_records_without_data = 32;

class RecordCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tls record"; }
  std::string message(int code) const override {
    if (code >= refused_message) {
      const int type = code - refused_message;
      return "TLS record rejected: the peer sent " +
             (type == certificate_request
                  ? std::string("a CertificateRequest (post-handshake authentication, which "
                                "fastws does not offer)")
                  : "the handshake message of type " + std::to_string(type)) +
             " after the handshake";
    }
    const char* alert_name = SSL_alert_desc_string_long(code & 0xFF);
    if (code > 0xFF) return std::string("the peer sent the TLS alert ") + alert_name;
    return std::string("TLS record rejected: ") + alert_name;
  }
};

void put_u16(unsigned char* out, std::size_t value) {
  out[0] = static_cast<unsigned char>(value >> 8);
  out[1] = static_cast<unsigned char>(value);
}

void put_u64(unsigned char* out, std::uint64_t value) {
  for (int at = 7; at >= 0; --at, value >>= 8) out[at] = static_cast<unsigned char>(value);
}

// The scratch a record is sealed in before it goes to the socket: one per thread, nothing stays
// in it between calls.
unsigned char* seal_buffer() {
  thread_local std::unique_ptr<unsigned char[]> buffer;
  if (!buffer) buffer.reset(new unsigned char[header_size + 8 + max_plaintext + 1 + tag_size]);
  return buffer.get();
}

}  // namespace

const std::error_category& tls_record_category() noexcept {
  static const RecordCategory category;
  return category;
}

std::unique_ptr<TlsRecordLayer> TlsRecordLayer::create(const SessionKeys& keys, int fd) {
  std::unique_ptr<TlsRecordLayer> layer(new TlsRecordLayer(keys, fd));
  layer->read_.cipher = EVP_CIPHER_CTX_new();
  layer->write_.cipher = EVP_CIPHER_CTX_new();
  if (layer->read_.cipher == nullptr || layer->write_.cipher == nullptr ||
      EVP_CipherInit_ex(layer->read_.cipher, keys.cipher, nullptr, nullptr, nullptr, 0) != 1 ||
      EVP_CipherInit_ex(layer->write_.cipher, keys.cipher, nullptr, nullptr, nullptr, 1) != 1 ||
      !set_keys(layer->read_, keys.read) || !set_keys(layer->write_, keys.write)) {
    return nullptr;
  }
  return layer;
}

TlsRecordLayer::TlsRecordLayer(const SessionKeys& keys, int fd) noexcept
    : fd_(fd),
      version_(keys.version),
      explicit_nonce_(keys.version == TlsRecordVersion::tls12 && keys.read.iv.size() == 4),
      client_side_(keys.client_side),
      hash_(keys.hash) {}

TlsRecordLayer::~TlsRecordLayer() {
  EVP_CIPHER_CTX_free(read_.cipher);
  EVP_CIPHER_CTX_free(write_.cipher);
  for (Direction* direction : {&read_, &write_}) {
    OPENSSL_cleanse(direction->iv.data(), direction->iv.size());
    if (!direction->secret.empty()) {
      OPENSSL_cleanse(direction->secret.data(), direction->secret.size());
    }
  }
}

bool TlsRecordLayer::set_keys(Direction& direction, const TrafficKeys& keys) {
  if (keys.iv.size() > direction.iv.size()) return false;
  direction.iv.fill(0);
  std::copy(keys.iv.begin(), keys.iv.end(), direction.iv.begin());
  direction.sequence = keys.sequence;
  direction.secret = keys.secret;
  // The cipher and the direction stay; only the key changes.
  return EVP_CipherInit_ex(direction.cipher, nullptr, nullptr, keys.key.data(), nullptr, -1) == 1;
}

void TlsRecordLayer::nonce(const Direction& direction, const unsigned char* explicit_part,
                           unsigned char* out) const noexcept {
  std::copy(direction.iv.begin(), direction.iv.end(), out);
  if (explicit_nonce_) {
    // RFC 5288 3: the salt, then the 8 bytes the record carries.
    std::memcpy(out + 4, explicit_part, 8);
    return;
  }
  // RFC 8446 5.3, RFC 7905 2: the IV with the sequence number mixed into its last 8 bytes.
  unsigned char sequence[8];
  put_u64(sequence, direction.sequence);
  for (int at = 0; at < 8; ++at) out[4 + at] ^= sequence[at];
}

std::size_t TlsRecordLayer::prefix_size() const noexcept {
  return header_size + (explicit_nonce_ ? 8 : 0);
}

std::size_t TlsRecordLayer::seal(unsigned char type, unsigned char* out, std::size_t size) {
  const std::size_t prefix = prefix_size();
  unsigned char* content = out + prefix;
  unsigned char aad[13];
  std::size_t aad_size = 0;
  out[1] = 3;
  out[2] = 3;
  if (version_ == TlsRecordVersion::tls13) {
    // RFC 8446 5.2: the real type after the content, the outer type always application_data,
    // the header is the additional data.
    content[size++] = type;
    out[0] = application_data;
    put_u16(out + 3, size + tag_size);
    std::memcpy(aad, out, header_size);
    aad_size = header_size;
  } else {
    out[0] = type;
    put_u16(out + 3, prefix - header_size + size + tag_size);
    // RFC 5246 6.2.3.3: sequence number, type, version, plaintext length.
    put_u64(aad, write_.sequence);
    aad[8] = type;
    aad[9] = 3;
    aad[10] = 3;
    put_u16(aad + 11, size);
    aad_size = 13;
    // The explicit part of the nonce: the sequence number, unique per key (RFC 5288 3).
    if (explicit_nonce_) put_u64(out + header_size, write_.sequence);
  }
  unsigned char iv[12];
  nonce(write_, out + header_size, iv);
  int produced = 0;
  int finished = 0;
  const bool sealed =
      EVP_CipherInit_ex(write_.cipher, nullptr, nullptr, nullptr, iv, -1) == 1 &&
      EVP_CipherUpdate(write_.cipher, nullptr, &produced, aad, static_cast<int>(aad_size)) == 1 &&
      EVP_CipherUpdate(write_.cipher, content, &produced, content, static_cast<int>(size)) == 1 &&
      EVP_CipherFinal_ex(write_.cipher, content + produced, &finished) == 1 &&
      EVP_CIPHER_CTX_ctrl(write_.cipher, EVP_CTRL_AEAD_GET_TAG, tag_size, content + size) == 1;
  if (!sealed) {
    error_ = {SSL_AD_INTERNAL_ERROR, tls_record_category()};
    return 0;
  }
  ++write_.sequence;
  return prefix + size + tag_size;
}

bool TlsRecordLayer::queue_record(unsigned char type, std::span<const unsigned char> content) {
  if (unsent_.size() + 64 > max_unsent) return false;
  unsigned char record[64];
  std::memcpy(record + prefix_size(), content.data(), content.size());
  const std::size_t size = seal(type, record, content.size());
  if (size == 0) return false;
  unsent_.insert(unsent_.end(), record, record + size);
  return true;
}

bool TlsRecordLayer::flush() {
  while (unsent_sent_ < unsent_.size()) {
    const IoResult result =
        write_some(fd_, std::as_bytes(std::span(unsent_).subspan(unsent_sent_)));
    if (result.status == IoStatus::failed) {
      error_ = *result.error;
      return false;
    }
    if (result.status != IoStatus::done || result.bytes == 0) return false;
    unsent_sent_ += result.bytes;
  }
  std::vector<unsigned char>().swap(unsent_);  // nothing stays allocated while idle
  unsent_sent_ = 0;
  needs_writable_ = false;
  return true;
}

IoResult TlsRecordLayer::fail(unsigned char description, int reason) {
  const unsigned char content[] = {2, description};      // fatal
  if (!error_ && queue_record(alert, content)) flush();  // best effort: the stream ends anyway
  if (!error_) error_ = {reason != 0 ? reason : description, tls_record_category()};
  release_record();
  return {IoStatus::failed, 0, error_};
}

void TlsRecordLayer::release_record() noexcept {
  record_.reset();
  record_size_ = record_read_ = plain_begin_ = plain_end_ = 0;
}

IoResult TlsRecordLayer::read(std::span<std::byte> buffer) {
  if (error_) return {IoStatus::failed, 0, error_};
  // Ciphertext a read queued (a KeyUpdate answer) goes before more is read: OpenSSL's reads
  // would have waited for room to write it too.
  if (!unsent_.empty() && !flush()) {
    if (error_) return {IoStatus::failed, 0, error_};
    needs_writable_ = true;
  }
  std::size_t total = 0;
  while (total < buffer.size()) {
    if (plain_begin_ < plain_end_) {
      const std::size_t count = std::min(plain_end_ - plain_begin_, buffer.size() - total);
      std::memcpy(buffer.data() + total, record_.get() + plain_begin_, count);
      plain_begin_ += count;
      total += count;
      if (plain_begin_ == plain_end_) release_record();
      continue;
    }
    const IoResult result = peer_closed_ ? IoResult{IoStatus::end_of_file} : read_record();
    if (result.status == IoStatus::done) continue;
    // What was read goes first; the end or the error shows again on the next call.
    if (total > 0) break;
    return result;
  }
  return {IoStatus::done, total, {}};
}

IoResult TlsRecordLayer::socket_outcome(const IoResult& result) {
  // A socket error is final (as TlsStream's BIO keeps it): reported now, or by the next call
  // when this one returns bytes read before it.
  if (result.status == IoStatus::failed) error_ = *result.error;
  return result;
}

IoResult TlsRecordLayer::read_record() {
  while (header_read_ < header_size) {
    const IoResult result =
        read_some(fd_, std::as_writable_bytes(std::span(header_).subspan(header_read_)));
    if (result.status != IoStatus::done) return socket_outcome(result);
    header_read_ = static_cast<std::uint8_t>(header_read_ + result.bytes);
  }
  if (!record_) {
    const unsigned char type = header_[0];
    const std::size_t size = static_cast<std::size_t>(header_[3]) << 8 | header_[4];
    const bool tls13 = version_ == TlsRecordVersion::tls13;
    if (header_[1] != 3 || header_[2] != 3) return fail(SSL_AD_PROTOCOL_VERSION);
    if (tls13 ? type != application_data
              : type != application_data && type != alert && type != handshake) {
      return fail(SSL_AD_UNEXPECTED_MESSAGE);  // a ChangeCipherSpec or a plaintext record
    }
    if (size > (tls13 ? max_tls13_body : max_tls12_body)) return fail(SSL_AD_RECORD_OVERFLOW);
    if (size < prefix_size() - header_size + tag_size + (tls13 ? 1 : 0)) {
      return fail(SSL_AD_DECODE_ERROR);
    }
    record_.reset(new (std::nothrow) unsigned char[size]);
    if (!record_) return fail(SSL_AD_INTERNAL_ERROR);
    record_size_ = size;
    record_read_ = 0;
  }
  while (record_read_ < record_size_) {
    const IoResult result = read_some(
        fd_,
        {reinterpret_cast<std::byte*>(record_.get()) + record_read_, record_size_ - record_read_});
    if (result.status != IoStatus::done) return socket_outcome(result);
    record_read_ += result.bytes;
  }
  header_read_ = 0;
  return open_record();
}

IoResult TlsRecordLayer::open_record() {
  const std::size_t front = prefix_size() - header_size;
  unsigned char* content = record_.get() + front;
  std::size_t size = record_size_ - front - tag_size;
  unsigned char aad[13];
  std::size_t aad_size = header_size;
  if (version_ == TlsRecordVersion::tls13) {
    std::memcpy(aad, header_.data(), header_size);
  } else {
    put_u64(aad, read_.sequence);
    aad[8] = header_[0];
    aad[9] = 3;
    aad[10] = 3;
    put_u16(aad + 11, size);
    aad_size = 13;
  }
  unsigned char iv[12];
  nonce(read_, record_.get(), iv);
  int produced = 0;
  int finished = 0;
  const bool authentic =
      EVP_CipherInit_ex(read_.cipher, nullptr, nullptr, nullptr, iv, -1) == 1 &&
      EVP_CIPHER_CTX_ctrl(read_.cipher, EVP_CTRL_AEAD_SET_TAG, tag_size, content + size) == 1 &&
      EVP_CipherUpdate(read_.cipher, nullptr, &produced, aad, static_cast<int>(aad_size)) == 1 &&
      EVP_CipherUpdate(read_.cipher, content, &produced, content, static_cast<int>(size)) == 1 &&
      EVP_CipherFinal_ex(read_.cipher, content + produced, &finished) == 1;
  if (!authentic) return fail(SSL_AD_BAD_RECORD_MAC);
  ++read_.sequence;
  unsigned char type = header_[0];
  if (version_ == TlsRecordVersion::tls13) {
    // RFC 8446 5.4: the real type is the last non-zero byte; zeros after it are padding.
    while (size > 0 && content[size - 1] == 0) --size;
    if (size == 0) return fail(SSL_AD_UNEXPECTED_MESSAGE);
    type = content[--size];
  }
  if (size > max_plaintext) return fail(SSL_AD_RECORD_OVERFLOW);
  // RFC 8446 5.1: no other record between the records of one handshake message.
  if (type != handshake && (message_header_read_ > 0 || ticket_left_ > 0)) {
    return fail(SSL_AD_UNEXPECTED_MESSAGE);
  }
  if (type == application_data && size > 0) {
    records_without_data_ = 0;
  } else if (++records_without_data_ > max_records_without_data) {
    return fail(SSL_AD_UNEXPECTED_MESSAGE);
  }
  const std::span<const unsigned char> plaintext(content, size);
  switch (type) {
    case application_data:
      plain_begin_ = front;
      plain_end_ = front + size;
      if (size == 0) release_record();
      return {IoStatus::done, 0, {}};
    case alert:
      return on_alert(plaintext);
    case handshake:
      return on_handshake(plaintext);
    default:
      return fail(SSL_AD_UNEXPECTED_MESSAGE);
  }
}

IoResult TlsRecordLayer::on_alert(std::span<const unsigned char> message) {
  if (message.size() != 2) return fail(SSL_AD_DECODE_ERROR);
  const unsigned char level = message[0];
  const unsigned char description = message[1];
  release_record();
  if (description == SSL_AD_CLOSE_NOTIFY) {
    peer_closed_ = true;
    return {IoStatus::end_of_file, 0, {}};
  }
  // TLS 1.3 (RFC 8446 6): every alert but close_notify and user_canceled ends the connection;
  // TLS 1.2: warnings do not.
  const bool warning =
      version_ == TlsRecordVersion::tls13 ? description == SSL_AD_USER_CANCELLED : level == 1;
  if (warning) return {IoStatus::done, 0, {}};
  error_ = {256 + description, tls_record_category()};
  return {IoStatus::failed, 0, error_};
}

IoResult TlsRecordLayer::on_handshake(std::span<const unsigned char> messages) {
  if (version_ == TlsRecordVersion::tls12) {
    // After the handshake a TLS 1.2 handshake message asks to renegotiate (a client's
    // ClientHello, a server's HelloRequest): declined, as OpenSSL does with
    // SSL_OP_NO_RENEGOTIATION.
    release_record();
    static constexpr unsigned char refusal[] = {1, SSL_AD_NO_RENEGOTIATION};
    if (!queue_record(alert, refusal)) return fail(SSL_AD_UNEXPECTED_MESSAGE);
    if (!flush() && !error_) needs_writable_ = true;
    return error_ ? IoResult{IoStatus::failed, 0, error_} : IoResult{IoStatus::done, 0, {}};
  }
  // TLS 1.3 post-handshake messages (RFC 8446 4.6): KeyUpdate from either side; from a server,
  // NewSessionTicket too. Tickets are dropped: fastws's own client contexts keep no session
  // cache and no session is ever offered for resumption, so OpenSSL would drop them as well
  // (a client with the application's own SSL_CTX, whose callbacks may want them, stays with
  // OpenSSL: see TlsStream). A CertificateRequest (post-handshake authentication, which no
  // fastws client offers) or anything else ends the stream. Several messages may share a record
  // and a message may span records (5.1): what goes on in the next record is kept in
  // message_header_ and ticket_left_.
  if (messages.empty()) return fail(SSL_AD_UNEXPECTED_MESSAGE);  // forbidden by 5.1
  std::size_t at = 0;
  while (at < messages.size()) {
    if (ticket_left_ > 0) {
      const std::size_t skipped = std::min<std::size_t>(ticket_left_, messages.size() - at);
      ticket_left_ -= static_cast<std::uint32_t>(skipped);
      at += skipped;
      continue;
    }
    while (message_header_read_ < message_header_size && at < messages.size()) {
      message_header_[message_header_read_++] = messages[at++];
    }
    if (message_header_read_ < message_header_size) break;
    const unsigned char type = message_header_[0];
    const std::uint32_t length = static_cast<std::uint32_t>(message_header_[1]) << 16 |
                                 static_cast<std::uint32_t>(message_header_[2]) << 8 |
                                 message_header_[3];
    if (type == new_session_ticket && client_side_) {
      message_header_read_ = 0;
      ticket_left_ = length;
      continue;
    }
    if (type != key_update) return fail(SSL_AD_UNEXPECTED_MESSAGE, refused_message + type);
    if (length != 1) return fail(SSL_AD_DECODE_ERROR);
    if (at == messages.size()) break;  // its one byte comes with the next record
    message_header_read_ = 0;
    // The keys change after this record: a KeyUpdate must end its record (5.1).
    if (messages.size() - at != 1) return fail(SSL_AD_UNEXPECTED_MESSAGE);
    return on_key_update(messages[at]);
  }
  release_record();
  return {IoStatus::done, 0, {}};
}

IoResult TlsRecordLayer::on_key_update(unsigned char request) {
  release_record();
  if (request > 1) return fail(SSL_AD_ILLEGAL_PARAMETER);
  if (!update_keys(read_)) return fail(SSL_AD_INTERNAL_ERROR);
  if (request == 1) {
    // update_requested: our own KeyUpdate (not requesting one), then our keys change.
    static constexpr unsigned char answer[] = {key_update, 0, 0, 1, 0};
    if (!queue_record(handshake, answer)) return fail(SSL_AD_UNEXPECTED_MESSAGE);
    if (!update_keys(write_)) return fail(SSL_AD_INTERNAL_ERROR);
    if (!flush() && !error_) needs_writable_ = true;
    if (error_) return {IoStatus::failed, 0, error_};
  }
  return {IoStatus::done, 0, {}};
}

bool TlsRecordLayer::update_keys(Direction& direction) {
  TrafficKeys next;
  next.secret = direction.secret;
  return tls13_next_secret(hash_, next.secret) &&
         tls13_traffic_keys(
             hash_, next.secret,
             static_cast<std::size_t>(EVP_CIPHER_CTX_get_key_length(direction.cipher)), next) &&
         set_keys(direction, next);
}

IoResult TlsRecordLayer::write(std::span<const iovec> buffers) {
  if (error_) return {IoStatus::failed, 0, error_};
  if (!flush()) {
    if (error_) return {IoStatus::failed, 0, error_};
    return {IoStatus::would_block, 0, {}};
  }
  // The record that left partly carried the caller's first bytes.
  std::size_t total = std::exchange(unreported_, 0);
  std::size_t skip = total;
  std::size_t index = 0;
  std::size_t offset = 0;
  while (index < buffers.size() && skip >= buffers[index].iov_len - offset) {
    skip -= buffers[index].iov_len - offset;
    offset = 0;
    ++index;
  }
  offset += skip;
  unsigned char* record = seal_buffer();
  while (index < buffers.size()) {
    // Gather up to a record's worth of the caller's bytes.
    unsigned char* content = record + prefix_size();
    std::size_t size = 0;
    while (index < buffers.size() && size < max_plaintext) {
      const std::size_t count = std::min(buffers[index].iov_len - offset, max_plaintext - size);
      std::memcpy(content + size,
                  static_cast<const unsigned char*>(buffers[index].iov_base) + offset, count);
      size += count;
      offset += count;
      if (offset == buffers[index].iov_len) {
        ++index;
        offset = 0;
      }
    }
    if (size == 0) continue;  // empty buffers
    const std::size_t sealed = seal(application_data, record, size);
    if (sealed == 0) {
      if (total > 0) break;  // the error answers the next call
      return {IoStatus::failed, 0, error_};
    }
    const IoResult result = write_some(fd_, {reinterpret_cast<const std::byte*>(record), sealed});
    if (result.status == IoStatus::failed) {
      error_ = *result.error;
      if (total > 0) break;  // the error answers the next call
      return result;
    }
    const std::size_t sent = result.status == IoStatus::done ? result.bytes : 0;
    if (sent < sealed) {
      // The record is sealed (its sequence number used): it leaves whole. A short write need
      // not mean a full socket (OpenSSL retries too): the rest is tried at once, and only what
      // the socket refuses waits for the next write.
      unsent_.assign(record + sent, record + sealed);
      if (!flush()) {
        if (error_ && total == 0) return {IoStatus::failed, 0, error_};
        if (!error_) unreported_ = size;
        break;
      }
    }
    total += size;
  }
  if (total == 0 && !unsent_.empty()) return {IoStatus::would_block, 0, {}};
  return {IoStatus::done, total, {}};
}

void TlsRecordLayer::close_notify() {
  if (error_) return;
  static constexpr unsigned char content[] = {1, SSL_AD_CLOSE_NOTIFY};
  if (queue_record(alert, content)) flush();
}

}  // namespace fastws::net
