// The records of an established TLS 1.2 or 1.3 session, protected by fastws itself once the
// handshake is over, so that the session's SSL object can be freed: OpenSSL keeps about 14 KB per
// session after the handshake (the SSL object is 8 KB by itself, then the handshake's leftovers:
// key shares, transcript hash, the client's cipher list, the SSL_SESSION, a copy of the
// certificate settings), where these records need two cipher contexts, their IVs and two
// sequence numbers (about 2.6 KB). Kernel TLS does the same where the kernel offers it.
//
// AEAD suites only (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305), either side: a session with
// anything else stays with OpenSSL (TlsStream decides). After the handshake a session only sees
// application data, alerts and, in TLS 1.3, KeyUpdate (answered when the peer asks) and, on the
// client side, the server's NewSessionTicket messages, which are dropped (see on_handshake); a
// TLS 1.2 renegotiation (a client's ClientHello, a server's HelloRequest) gets the warning alert
// no_renegotiation, as OpenSSL answers with SSL_OP_NO_RENEGOTIATION. Anything else is answered
// with a fatal alert and fails the stream, as are more than 32 records in a row without
// application data (as OpenSSL limits them).
//
// It behaves as TlsStream does over OpenSSL (same contract, see tls_stream.hpp): one record at a
// time from the socket (the rest stays in the kernel, so a level-triggered socket stays
// readable); partial writes report the application bytes of the records that left, and a record
// the socket took only part of is finished by the next write, which must start with the bytes not
// yet reported written. Nothing is buffered while idle: a record's buffer lives while the record
// is read and its plaintext not all delivered, unsent ciphertext while the socket is full.
//
// Threading: the connection's loop thread only.
#pragma once

#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <system_error>
#include <vector>

#include "net/socket_io.hpp"
#include "net/tls_traffic_keys.hpp"

struct evp_cipher_ctx_st;  // OpenSSL's EVP_CIPHER_CTX

namespace fastws::net {

class TlsRecordLayer {
 public:
  // Records over `fd` (not owned) with `keys`. Empty when OpenSSL cannot make the cipher
  // contexts (out of memory).
  static std::unique_ptr<TlsRecordLayer> create(const SessionKeys& keys, int fd);
  ~TlsRecordLayer();
  TlsRecordLayer(const TlsRecordLayer&) = delete;
  TlsRecordLayer& operator=(const TlsRecordLayer&) = delete;

  // As TlsStream::read, write, has_buffered_input, needs_writable and close_notify.
  IoResult read(std::span<std::byte> buffer);
  IoResult write(std::span<const iovec> buffers);
  bool has_buffered_input() const noexcept { return plain_begin_ < plain_end_; }
  bool needs_writable() const noexcept { return needs_writable_; }
  void close_notify();

 private:
  struct Direction {
    evp_cipher_ctx_st* cipher = nullptr;
    std::array<unsigned char, 12> iv{};  // TLS 1.2 AES-GCM: the salt in the first 4 bytes
    std::uint64_t sequence = 0;
    std::vector<unsigned char> secret;  // TLS 1.3: for KeyUpdate
  };

  TlsRecordLayer(const SessionKeys& keys, int fd) noexcept;
  static bool set_keys(Direction& direction, const TrafficKeys& keys);

  // Reads and opens one record; done when it was used (its plaintext may be empty).
  IoResult read_record();
  IoResult open_record();
  IoResult socket_outcome(const IoResult& result);
  IoResult on_alert(std::span<const unsigned char> alert);
  IoResult on_handshake(std::span<const unsigned char> messages);
  IoResult on_key_update(unsigned char request);
  bool update_keys(Direction& direction);
  void release_record() noexcept;

  // Seals `size` bytes already at out + prefix_size() as one record of `type` into `out`;
  // returns the record's size (0: OpenSSL failed, the stream with it).
  std::size_t seal(unsigned char type, unsigned char* out, std::size_t size);
  std::size_t prefix_size() const noexcept;
  // Seals a small record (an alert, a KeyUpdate) behind the unsent ciphertext.
  bool queue_record(unsigned char type, std::span<const unsigned char> content);
  // Sends unsent ciphertext; false when some is left (would_block) or the socket failed.
  bool flush();
  // Answers a protocol violation with a fatal alert and fails the stream with the error `reason`
  // (tls_record_category()'s code; 0: the alert itself).
  IoResult fail(unsigned char alert, int reason = 0);
  // The 12-byte nonce of `direction`'s next record; explicit_part: TLS 1.2 AES-GCM's 8 bytes.
  void nonce(const Direction& direction, const unsigned char* explicit_part,
             unsigned char* out) const noexcept;

  int fd_;
  TlsRecordVersion version_;
  bool explicit_nonce_;  // TLS 1.2 AES-GCM: 8 nonce bytes travel before each record's ciphertext
  bool needs_writable_ = false;
  bool peer_closed_ = false;
  bool client_side_;
  std::uint8_t records_without_data_ = 0;  // in a row, up to max_records_without_data
  // TLS 1.3: a post-handshake message that goes on in the next record (RFC 8446 5.1 lets a
  // handshake message span records): its header or the first bytes of it, or (ticket_left_)
  // the ticket bytes still to skip. (The fields fill the gaps of the layout: a TlsRecordLayer
  // stays in a 256-byte block.)
  std::uint8_t message_header_read_ = 0;
  std::array<unsigned char, 4> message_header_{};
  const evp_md_st* hash_;
  Direction read_;
  Direction write_;
  std::error_code error_;  // final: every later call fails with it

  std::array<unsigned char, 5> header_{};
  std::uint8_t header_read_ = 0;
  std::uint32_t ticket_left_ = 0;            // see message_header_
  std::unique_ptr<unsigned char[]> record_;  // the body of the record being read
  std::size_t record_size_ = 0;
  std::size_t record_read_ = 0;
  std::size_t plain_begin_ = 0;  // plaintext in record_ not yet delivered
  std::size_t plain_end_ = 0;

  std::vector<unsigned char> unsent_;  // sealed records the socket has not taken
  std::size_t unsent_sent_ = 0;
  // Application bytes of a record that left only partly: reported by the next write.
  std::size_t unreported_ = 0;
};

// The errors of TlsRecordLayer: the alert description fastws sent (1..255), 256 + the one the
// peer sent, or 512 + the type of a post-handshake message fastws does not take (answered with
// unexpected_message), with readable messages.
const std::error_category& tls_record_category() noexcept;

}  // namespace fastws::net
