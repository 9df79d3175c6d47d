// One TLS session (the server's or the client's side) over a non-blocking socket, with the outcomes
// of socket_io's plain reads and writes, so that the connection has one input path and one output
// path.
//
// OpenSSL reads and writes the socket through a small BIO of ours that calls read_some() and
// write_vectored(): sends use MSG_NOSIGNAL (OpenSSL's own socket BIO would raise SIGPIPE when a
// peer is gone) and the tests' fault injection reaches TLS connections too.
//
// No read-ahead: OpenSSL takes one record at a time from the socket, so whatever it has not read
// stays in the kernel and keeps the (level-triggered) socket readable. Only the rest of a record
// that did not fit the caller's buffer waits unseen inside OpenSSL: has_buffered_input() says so.
// SSL_MODE_RELEASE_BUFFERS frees the record buffers of idle connections.
//
// A session (a server's or a client's) from a context that reports its secrets
// (TlsContext::from_files, TlsContext::client) and that negotiated an AEAD suite is handed from
// OpenSSL to TlsRecordLayer once its handshake is done: the SSL object is freed, which is most of
// an idle wss connection's memory. The handshake, and so the client's verification of the
// server, is OpenSSL's.
//
// A session the application established itself (Server::handover with a TlsSession) is adopted:
// its BIOs give way to ours, and the ciphertext they still held is read before the socket.
//
// Threading: the connection's loop thread only.
#pragma once

#include <sys/uio.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "net/socket_io.hpp"
#include "net/tls_record_layer.hpp"
#include "net/tls_traffic_keys.hpp"

struct ssl_st;  // OpenSSL's SSL
struct bio_st;  // OpenSSL's BIO

namespace fastws::net {

class TlsContext;

class TlsStream {
 public:
  enum class Handshake : std::uint8_t { done, in_progress, failed };

  // A server session on `fd` (not owned). Empty when OpenSSL cannot make one (out of memory).
  static std::unique_ptr<TlsStream> accept(const TlsContext& context, int fd);
  // A client session on `fd` (not owned) to `host` (a name, or an IP address without
  // brackets): SNI for names, and the certificate must name `host` (checked in the handshake
  // when the context verifies; see TlsContext::client). Empty with `error` set on failure.
  static std::unique_ptr<TlsStream> connect(const TlsContext& context, int fd,
                                            const std::string& host, std::string& error);
  // Why fastws cannot take over `ssl` ("" when it can): the handshake is not done, it is a
  // client session, it was shut down, OpenSSL wrote ciphertext that has not left through its
  // write BIO yet, or its BIOs are of a kind whose buffered bytes cannot be read back (a memory
  // BIO, one half of a BIO pair, a socket or fd BIO are fine). Changes nothing.
  static std::string adoption_refusal(ssl_st* ssl);
  // Takes over the established server session `ssl` on `fd` (not owned), which
  // adoption_refusal() accepted: the session's BIOs are freed (the application's half of a BIO
  // pair stays the application's), OpenSSL reads and writes `fd` through ours, and reads first
  // the ciphertext left in the old read BIO, then `unread_ciphertext` (bytes the application
  // took from the socket without giving them to the session). Owns `ssl` from then on. Empty
  // when OpenSSL cannot make a BIO (out of memory); `ssl` is untouched and still the caller's.
  static std::unique_ptr<TlsStream> adopt(ssl_st* ssl, int fd,
                                          std::span<const std::byte> unread_ciphertext);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // Advances the handshake as far as the socket allows; `error` says why it failed.
  Handshake handshake(std::string& error);
  bool established() const noexcept { return established_; }
  // The handshake is over and fastws protects the records itself (the SSL object is freed).
  bool records_handed_over() const noexcept { return records_ != nullptr; }

  // Decrypted bytes, up to buffer.size(): reads records until the buffer is full or the socket
  // is empty. A close_notify or the end of the TCP stream is end_of_file.
  IoResult read(std::span<std::byte> buffer);
  // Decrypted bytes wait for the next read: a read that filled its buffer stopped inside a
  // record; or, after adopt(), input may wait that came before (records OpenSSL buffered, the
  // old BIO's ciphertext) until a read finds that it needs the socket. The socket may not be
  // readable again for them.
  bool has_buffered_input() const noexcept;
  // Encrypts and writes the buffers in order; a short count means the socket is full. OpenSSL
  // may hold a record it began: the next write must start with the bytes not yet reported
  // written (the connection's backlog does exactly that).
  IoResult write(std::span<const iovec> buffers);
  // Sends close_notify if the socket takes it now (best effort: the WebSocket close handshake
  // already ended the conversation).
  void close_notify();

  // The last handshake step or read stopped because OpenSSL had to write into a full socket:
  // retry it when the socket is writable.
  bool needs_writable() const noexcept {
    return records_ ? records_->needs_writable() : needs_writable_;
  }

  // The socket-level outcome of OpenSSL's I/O, kept by the BIO (see tls_stream.cpp). A socket
  // error is final: OpenSSL's state is undefined after it, and bytes read or written before it
  // in the same call are reported first, so the error answers the next call.
  struct SocketState {
    int fd = -1;
    bool end_of_file = false;
    std::error_code error;
    // Ciphertext that came before the socket's (adopt()): read first, freed once read.
    std::vector<std::byte> carried;
    std::size_t carried_read = 0;
  };

 private:
  TlsStream(ssl_st* ssl, int fd) noexcept;
  static std::unique_ptr<TlsStream> over_socket(const TlsContext& context, int fd);
  // Makes `bio` (fastws's socket BIO) the session's transport, in the modes the connection needs.
  void attach(bio_st* bio);
  // Maps a failed SSL call to an I/O outcome.
  IoResult outcome_of(int result);
  // After the handshake: the records go to TlsRecordLayer and the SSL object is freed, when
  // the session allows it (else OpenSSL goes on).
  void hand_records_over();

  ssl_st* ssl_;  // null once the records are handed over
  std::unique_ptr<HandshakeCapture>
      capture_;  // during a handshake whose records may be handed over
  std::unique_ptr<TlsRecordLayer> records_;
  SocketState socket_;
  bool established_ = false;
  bool needs_writable_ = false;
  bool input_before_socket_ = false;  // see has_buffered_input()
};

}  // namespace fastws::net
