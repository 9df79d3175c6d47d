#include "net/tls_stream.hpp"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "net/tls_context.hpp"

namespace fastws::net {

namespace {

bool is_ip_literal(const std::string& host) {
  unsigned char address[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), address) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), address) == 1;
}

TlsStream::SocketState& state_of(BIO* bio) {
  return *static_cast<TlsStream::SocketState*>(BIO_get_data(bio));
}

// The ciphertext an adopted session's old BIO held goes before the socket's.
int read_carried(TlsStream::SocketState& socket, char* out, int size) {
  const std::size_t count =
      std::min(socket.carried.size() - socket.carried_read, static_cast<std::size_t>(size));
  std::memcpy(out, socket.carried.data() + socket.carried_read, count);
  socket.carried_read += count;
  if (socket.carried_read == socket.carried.size()) {
    std::vector<std::byte>().swap(socket.carried);
    socket.carried_read = 0;
  }
  return static_cast<int>(count);
}

int bio_read(BIO* bio, char* out, int size) {
  BIO_clear_retry_flags(bio);
  TlsStream::SocketState& socket = state_of(bio);
  if (!socket.carried.empty() && size > 0) [[unlikely]]
    return read_carried(socket, out, size);
  const IoResult result = read_some(
      socket.fd, {reinterpret_cast<std::byte*>(out), static_cast<std::size_t>(std::max(size, 0))});
  switch (result.status) {
    case IoStatus::done:
      return static_cast<int>(result.bytes);
    case IoStatus::would_block:
      BIO_set_retry_read(bio);
      return -1;
    case IoStatus::end_of_file:
      socket.end_of_file = true;
      return 0;
    case IoStatus::failed:
      socket.error = *result.error;
      return -1;
  }
  return -1;
}

int bio_write(BIO* bio, const char* data, int size) {
  BIO_clear_retry_flags(bio);
  TlsStream::SocketState& socket = state_of(bio);
  const IoResult result = write_some(socket.fd, {reinterpret_cast<const std::byte*>(data),
                                                 static_cast<std::size_t>(std::max(size, 0))});
  if (result.status == IoStatus::done && (result.bytes > 0 || size == 0)) {
    return static_cast<int>(result.bytes);
  }
  if (result.status == IoStatus::failed) {
    socket.error = *result.error;
    return -1;
  }
  BIO_set_retry_write(bio);
  return -1;
}

long bio_control(BIO*, int command, long, void*) {
  // OpenSSL flushes after each handshake flight; our writes are not buffered.
  return command == BIO_CTRL_FLUSH ? 1 : 0;
}

BIO_METHOD* socket_method() {
  // Made once for the process and never freed (OpenSSL keeps using it).
  static BIO_METHOD* const method = [] {
    BIO_METHOD* made = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "fastws socket");
    BIO_meth_set_read(made, bio_read);
    BIO_meth_set_write(made, bio_write);
    BIO_meth_set_ctrl(made, bio_control);
    return made;
  }();
  return method;
}

BIO* new_socket_bio() {
  BIO_METHOD* method = socket_method();
  return method == nullptr ? nullptr : BIO_new(method);
}

// The BIOs whose buffered bytes are known: a memory BIO and a BIO pair's half hold what they
// report pending; socket and fd BIOs hold nothing. Filter chains could hold anything.
bool buffers_are_known(BIO* bio) {
  if (bio == nullptr || BIO_next(bio) != nullptr) return false;
  const int type = BIO_method_type(bio);
  return type == BIO_TYPE_MEM || type == BIO_TYPE_BIO || type == BIO_TYPE_SOCKET ||
         type == BIO_TYPE_FD;
}

// Ciphertext in the read BIO that the session has not taken yet.
std::size_t unread_in(BIO* bio) {
  const int type = BIO_method_type(bio);
  return type == BIO_TYPE_MEM || type == BIO_TYPE_BIO ? BIO_ctrl_pending(bio) : 0;
}

// Ciphertext the session wrote that has not left the write BIO: what a memory BIO holds to be
// read, what a pair's half holds for its other half to take.
std::size_t unsent_in(BIO* bio) {
  switch (BIO_method_type(bio)) {
    case BIO_TYPE_MEM:
      return BIO_ctrl_pending(bio);
    case BIO_TYPE_BIO:
      return BIO_ctrl_wpending(bio);
    default:
      return 0;
  }
}

}  // namespace

void TlsStream::attach(BIO* bio) {
  BIO_set_data(bio, &socket_);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_, bio, bio);  // the session owns the BIO now (and frees those it had)
  // Partial writes report what whole records took, so a full socket never blocks a write;
  // the retry comes from the backlog, which may sit at another address.
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                         SSL_MODE_RELEASE_BUFFERS);
  // A TCP end without close_notify is an end of file, not an error: WebSocket has its own close
  // handshake and says whether the end was clean. No renegotiation, as in the contexts fastws
  // makes (an adopted session's context may allow it).
  SSL_set_options(ssl_, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
}

std::unique_ptr<TlsStream> TlsStream::over_socket(const TlsContext& context, int fd) {
  SSL* ssl = SSL_new(context.get());
  if (ssl == nullptr) return nullptr;
  BIO* bio = new_socket_bio();
  if (bio == nullptr) {
    SSL_free(ssl);
    return nullptr;
  }
  std::unique_ptr<TlsStream> stream(new TlsStream(ssl, fd));
  stream->attach(bio);
  if (context.reports_secrets()) {
    stream->capture_ = std::make_unique<HandshakeCapture>();
    stream->capture_->attach(ssl);
  }
  return stream;
}

std::string TlsStream::adoption_refusal(SSL* ssl) {
  if (ssl == nullptr) return "no TLS session";
  if (!SSL_is_server(ssl)) return "the TLS session is a client's";
  if (!SSL_is_init_finished(ssl)) return "the TLS handshake is not finished";
  if (SSL_get_shutdown(ssl) != 0) return "the TLS session is shut down";
  if (SSL_want_write(ssl)) return "a write of the TLS session is unfinished";
  if (!buffers_are_known(SSL_get_rbio(ssl)) || !buffers_are_known(SSL_get_wbio(ssl))) {
    return "the TLS session's BIO is not a memory BIO, a BIO pair or a socket: the bytes it "
           "holds cannot be taken over";
  }
  if (const std::size_t unsent = unsent_in(SSL_get_wbio(ssl)); unsent > 0) {
    return std::to_string(unsent) +
           " bytes the TLS session wrote have not been sent: send them before the hand-over";
  }
  return {};
}

std::unique_ptr<TlsStream> TlsStream::adopt(SSL* ssl, int fd,
                                            std::span<const std::byte> unread_ciphertext) {
  // Everything that can fail comes before the session changes hands.
  BIO* old = SSL_get_rbio(ssl);
  const std::size_t held = unread_in(old);
  std::vector<std::byte> carried(held + unread_ciphertext.size());
  std::unique_ptr<TlsStream> stream(new TlsStream(nullptr, fd));
  BIO* bio = new_socket_bio();
  if (bio == nullptr) return nullptr;

  std::size_t drained = 0;
  while (drained < held) {
    const int got = BIO_read(old, carried.data() + drained,
                             static_cast<int>(std::min<std::size_t>(held - drained, INT_MAX)));
    if (got <= 0) break;
    drained += static_cast<std::size_t>(got);
  }
  if (!unread_ciphertext.empty()) {
    std::memcpy(carried.data() + drained, unread_ciphertext.data(), unread_ciphertext.size());
  }
  carried.resize(drained + unread_ciphertext.size());
  if (!carried.empty()) stream->socket_.carried = std::move(carried);

  stream->ssl_ = ssl;
  stream->attach(bio);
  // From here OpenSSL takes one record at a time from the socket, as for our own sessions.
  SSL_set_read_ahead(ssl, 0);
  stream->established_ = true;
  stream->input_before_socket_ = true;
  return stream;
}

std::unique_ptr<TlsStream> TlsStream::accept(const TlsContext& context, int fd) {
  std::unique_ptr<TlsStream> stream = over_socket(context, fd);
  if (!stream) return nullptr;
  SSL_set_accept_state(stream->ssl_);
  return stream;
}

std::unique_ptr<TlsStream> TlsStream::connect(const TlsContext& context, int fd,
                                              const std::string& host, std::string& error) {
  std::unique_ptr<TlsStream> stream = over_socket(context, fd);
  if (!stream) {
    error = "cannot create a TLS session (out of memory)";
    return nullptr;
  }
  SSL* ssl = stream->ssl_;
  SSL_set_connect_state(ssl);
  ERR_clear_error();
  const bool ip_literal = is_ip_literal(host);
  // SNI carries names only (RFC 6066 3: "Literal IPv4 and IPv6 addresses are not permitted").
  // (SSL_set_tlsext_host_name without its macro's C cast.)
  if (!ip_literal && SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                              const_cast<char*>(host.c_str())) != 1) {
    error = "cannot set the TLS server name: " + take_tls_error().message();
    return nullptr;
  }
  // What the certificate must name: the host we dialed, as a DNS name or as an IP address
  // (RFC 6125; OpenSSL checks it during the handshake when verification is on).
  X509_VERIFY_PARAM* verify = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(verify, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  const int named = ip_literal ? X509_VERIFY_PARAM_set1_ip_asc(verify, host.c_str())
                               : X509_VERIFY_PARAM_set1_host(verify, host.c_str(), host.size());
  if (named != 1) {
    error = "cannot check the certificate against '" + host + "': " + take_tls_error().message();
    return nullptr;
  }
  return stream;
}

TlsStream::TlsStream(ssl_st* ssl, int fd) noexcept : ssl_(ssl) {
  socket_.fd = fd;
}

TlsStream::~TlsStream() {
  SSL_free(ssl_);
}

TlsStream::Handshake TlsStream::handshake(std::string& error) {
  ERR_clear_error();
  const int result = SSL_do_handshake(ssl_);
  if (result == 1) {
    established_ = true;
    needs_writable_ = false;
    if (capture_) hand_records_over();
    return Handshake::done;
  }
  const IoResult outcome = outcome_of(result);
  if (outcome.status == IoStatus::would_block) return Handshake::in_progress;
  const long verified = SSL_get_verify_result(ssl_);
  if (verified != X509_V_OK) {
    // The reason a user can act on ("certificate has expired", "hostname mismatch"), not the
    // generic "certificate verify failed".
    error =
        std::string("certificate verification failed: ") + X509_verify_cert_error_string(verified);
    return Handshake::failed;
  }
  error = outcome.status == IoStatus::end_of_file ? std::string("the peer closed the connection")
                                                  : outcome.error->message();
  return Handshake::failed;
}

void TlsStream::hand_records_over() {
  SessionKeys keys;
  // Without read-ahead OpenSSL holds no input after the handshake; should it, it keeps the
  // records. A client hands over at once too: a TLS 1.3 server's NewSessionTicket messages may
  // come at any time after the handshake (RFC 8446 4.6.1), so no later moment (the first
  // application data, the tickets' arrival) would spare TlsRecordLayer from taking them; those
  // already sent wait in the kernel, as the handshake read no record after the server's Finished.
  const bool possible = capture_->session_keys(ssl_, keys) && SSL_pending(ssl_) == 0 &&
                        SSL_has_pending(ssl_) == 0 && !SSL_want_write(ssl_);
  capture_->detach(ssl_);
  capture_.reset();
  if (!possible) return;
  records_ = TlsRecordLayer::create(keys, socket_.fd);
  if (!records_) return;  // out of memory: OpenSSL goes on
  // Freed without a shutdown, OpenSSL would drop the session from the server's cache (and mark
  // it not resumable): the handshake succeeded, the session stays resumable. (A client made by
  // fastws caches no session: nothing changes for it.)
  SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  SSL_free(ssl_);
  ssl_ = nullptr;
}

IoResult TlsStream::read(std::span<std::byte> buffer) {
  if (records_) return records_->read(buffer);
  if (socket_.error) return {IoStatus::failed, 0, socket_.error};  // see SocketState
  std::size_t total = 0;
  while (total < buffer.size()) {
    ERR_clear_error();
    std::size_t got = 0;
    const int result = SSL_read_ex(ssl_, buffer.data() + total, buffer.size() - total, &got);
    if (result == 1) {
      total += got;
      continue;
    }
    // What was read goes first; the end or the error shows again on the next call.
    input_before_socket_ = false;  // OpenSSL has used up what it held and what we carried
    const IoResult outcome = outcome_of(result);
    if (total > 0) break;
    return outcome;
  }
  needs_writable_ = false;
  return {IoStatus::done, total, {}};
}

bool TlsStream::has_buffered_input() const noexcept {
  if (records_) return records_->has_buffered_input();
  return SSL_pending(ssl_) > 0 || input_before_socket_;
}

IoResult TlsStream::write(std::span<const iovec> buffers) {
  if (records_) return records_->write(buffers);
  if (socket_.error) return {IoStatus::failed, 0, socket_.error};
  std::size_t total = 0;
  for (const iovec& buffer : buffers) {
    const auto* data = static_cast<const std::byte*>(buffer.iov_base);
    std::size_t offset = 0;
    while (offset < buffer.iov_len) {
      ERR_clear_error();
      std::size_t wrote = 0;
      const int result = SSL_write_ex(ssl_, data + offset, buffer.iov_len - offset, &wrote);
      if (result == 1) {
        offset += wrote;
        total += wrote;
        continue;
      }
      const IoResult outcome = outcome_of(result);
      // Only handshakes and reads wait on needs_writable(); a write's wait is the backlog's.
      needs_writable_ = false;
      // Bytes already taken count as success; an error shows again on the next write.
      if (total > 0) return {IoStatus::done, total, {}};
      return outcome;
    }
  }
  return {IoStatus::done, total, {}};
}

void TlsStream::close_notify() {
  if (records_) return records_->close_notify();
  if (!established_) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

IoResult TlsStream::outcome_of(int result) {
  const int reason = SSL_get_error(ssl_, result);
  switch (reason) {
    case SSL_ERROR_WANT_READ:
      needs_writable_ = false;
      return {IoStatus::would_block, 0, {}};
    case SSL_ERROR_WANT_WRITE:
      needs_writable_ = true;
      return {IoStatus::would_block, 0, {}};
    case SSL_ERROR_ZERO_RETURN:
      return {IoStatus::end_of_file, 0, {}};
    default:
      break;
  }
  if (socket_.error) return {IoStatus::failed, 0, socket_.error};
  if (socket_.end_of_file) return {IoStatus::end_of_file, 0, {}};
  return {IoStatus::failed, 0, take_tls_error()};
}

}  // namespace fastws::net
