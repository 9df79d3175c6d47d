// A TLS configuration as an OpenSSL SSL_CTX: a server's, built from PEM certificate and key
// files; a client's, which verifies the server by default; or the application's own context.
//
// Threading: built before the loops start; afterwards only read (OpenSSL contexts may be shared
// by sessions on several threads).
#pragma once

#include <memory>
#include <string>
#include <system_error>

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace fastws::net {

// How a client context checks servers and proves itself.
struct TlsClientSettings {
  // Off only through ClientOptions' loudly named option: without it anyone on the path can
  // read and change the traffic.
  bool verify_peer = true;
  // Trusted CAs: a PEM file and/or an OpenSSL hashed directory. Neither: the system's store.
  std::string ca_file;
  std::string ca_directory;
  // A client certificate chain and its key (PEM), for servers that ask for one.
  std::string certificate_file;
  std::string key_file;
};

class TlsContext {
 public:
  // A server context: TLS 1.2 or later, the certificate chain and the key from PEM files
  // (checked to belong together), ALPN answering "http/1.1". Empty with `error` set on failure.
  static std::unique_ptr<TlsContext> from_files(const std::string& certificate_file,
                                                const std::string& key_file, std::string& error);
  // A client context: TLS 1.2 or later, ALPN offering "http/1.1", the server's chain verified
  // against `settings`' CAs (the name is checked per connection: TlsStream::connect). Empty with
  // `error` set when a file cannot be loaded.
  static std::unique_ptr<TlsContext> client(const TlsClientSettings& settings, std::string& error);
  // The application's own context, used as it is (fastws takes a reference).
  static std::unique_ptr<TlsContext> shared(ssl_ctx_st* context);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  ssl_ctx_st* get() const noexcept { return context_; }
  // Its sessions report their traffic secrets to fastws (HandshakeCapture), so that their
  // records can be protected without OpenSSL after the handshake. Only contexts fastws made: the
  // key-log callback of the application's own context stays the application's (and its session
  // callbacks may want the tickets of a client session, which a hand-over would drop).
  bool reports_secrets() const noexcept { return reports_secrets_; }

 private:
  explicit TlsContext(ssl_ctx_st* context) noexcept : context_(context) {}
  ssl_ctx_st* context_;
  bool reports_secrets_ = false;
};

// The latest OpenSSL error of this thread (its queue is cleared): OpenSSL's own codes in a "tls"
// category whose message() is OpenSSL's text; system errors as system errors.
std::error_code take_tls_error();

}  // namespace fastws::net
