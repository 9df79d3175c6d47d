// A server's TLS configuration as an OpenSSL SSL_CTX: built from PEM certificate and key files,
// or the application's own context.
//
// Threading: built before the loops start; afterwards only read (OpenSSL contexts may be shared
// by sessions on several threads).
#pragma once

#include <memory>
#include <string>
#include <system_error>

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace fastws::net {

class TlsContext {
 public:
  // A server context: TLS 1.2 or later, the certificate chain and the key from PEM files
  // (checked to belong together), ALPN answering "http/1.1". Empty with `error` set on failure.
  static std::unique_ptr<TlsContext> from_files(const std::string& certificate_file,
                                                const std::string& key_file, std::string& error);
  // The application's own context, used as it is (fastws takes a reference).
  static std::unique_ptr<TlsContext> shared(ssl_ctx_st* context);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  ssl_ctx_st* get() const noexcept { return context_; }

 private:
  explicit TlsContext(ssl_ctx_st* context) noexcept : context_(context) {}
  ssl_ctx_st* context_;
};

// The latest OpenSSL error of this thread (its queue is cleared): OpenSSL's own codes in a "tls"
// category whose message() is OpenSSL's text; system errors as system errors.
std::error_code take_tls_error();

}  // namespace fastws::net
