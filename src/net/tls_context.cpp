#include "net/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>

#include "net/tls_traffic_keys.hpp"

namespace fastws::net {

namespace {

// ALPN (RFC 7301): WebSockets over TLS are HTTP/1.1 upgrades (RFC 6455 4.1), so that is the
// protocol we select. A client offering only others (h2) gets no ALPN answer rather than a
// fatal alert; it may still go on with HTTP/1.1.
int select_http11(SSL*, const unsigned char** selected, unsigned char* selected_size,
                  const unsigned char* offered, unsigned int offered_size, void*) {
  static constexpr unsigned char http11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned int at = 0;
  while (at < offered_size) {
    const unsigned int length = offered[at];
    if (at + 1 + length > offered_size) break;
    if (length == sizeof http11 && std::memcmp(offered + at + 1, http11, length) == 0) {
      *selected = offered + at + 1;
      *selected_size = static_cast<unsigned char>(length);
      return SSL_TLSEXT_ERR_OK;
    }
    at += 1 + length;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

class TlsCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tls"; }
  std::string message(int code) const override {
    if (code == 0) return "TLS error";
    char text[256];
    ERR_error_string_n(static_cast<unsigned long>(code), text, sizeof text);
    return text;
  }
};

}  // namespace

std::error_code take_tls_error() {
  static const TlsCategory category;
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (ERR_SYSTEM_ERROR(code)) return {ERR_GET_REASON(code), std::system_category()};
  // OpenSSL 3 packs library and reason into 31 bits: the code fits an int.
  return {static_cast<int>(code & 0x7FFFFFFF), category};
}

namespace {

// A certificate chain and its key from PEM files, checked to belong together.
bool use_certificate_and_key(SSL_CTX* context, const std::string& certificate_file,
                             const std::string& key_file, std::string& error) {
  if (SSL_CTX_use_certificate_chain_file(context, certificate_file.c_str()) != 1) {
    error = "cannot load the certificate file '" + certificate_file +
            "': " + take_tls_error().message();
    return false;
  }
  if (SSL_CTX_use_PrivateKey_file(context, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    error = "cannot load the key file '" + key_file + "': " + take_tls_error().message();
    return false;
  }
  if (SSL_CTX_check_private_key(context) != 1) {
    error = "the key in '" + key_file +
            "' does not match the certificate: " + take_tls_error().message();
    return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<TlsContext> TlsContext::from_files(const std::string& certificate_file,
                                                   const std::string& key_file,
                                                   std::string& error) {
  ERR_clear_error();
  SSL_CTX* context = SSL_CTX_new(TLS_server_method());
  if (context == nullptr) {
    error = "cannot create a TLS context: " + take_tls_error().message();
    return nullptr;
  }
  std::unique_ptr<TlsContext> owner(new TlsContext(context));
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
  // Renegotiation would let a read need a write at any time, for no benefit to WebSockets.
  SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION);
  if (!use_certificate_and_key(context, certificate_file, key_file, error)) return nullptr;
  SSL_CTX_set_alpn_select_cb(context, select_http11, nullptr);
  HandshakeCapture::report_secrets_of(context);
  owner->reports_secrets_ = true;
  return owner;
}

std::unique_ptr<TlsContext> TlsContext::client(const TlsClientSettings& settings,
                                               std::string& error) {
  ERR_clear_error();
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  if (context == nullptr) {
    error = "cannot create a TLS context: " + take_tls_error().message();
    return nullptr;
  }
  std::unique_ptr<TlsContext> owner(new TlsContext(context));
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
  SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION);
  static constexpr unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(context, alpn, sizeof alpn);
  SSL_CTX_set_verify(context, settings.verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  if (settings.ca_file.empty() && settings.ca_directory.empty()) {
    if (SSL_CTX_set_default_verify_paths(context) != 1) {
      error = "cannot load the system's CA store: " + take_tls_error().message();
      return nullptr;
    }
  } else if (SSL_CTX_load_verify_locations(
                 context, settings.ca_file.empty() ? nullptr : settings.ca_file.c_str(),
                 settings.ca_directory.empty() ? nullptr : settings.ca_directory.c_str()) != 1) {
    error = "cannot load the CA file or directory '" + settings.ca_file + settings.ca_directory +
            "': " + take_tls_error().message();
    return nullptr;
  }
  if (!settings.certificate_file.empty() &&
      !use_certificate_and_key(context, settings.certificate_file, settings.key_file, error)) {
    return nullptr;
  }
  // No session cache (the client's default: SSL_SESS_CACHE_SERVER) and no session callback:
  // fastws resumes no client session, so a handed-over session may drop the server's tickets
  // (TlsRecordLayer).
  HandshakeCapture::report_secrets_of(context);
  owner->reports_secrets_ = true;
  return owner;
}

std::unique_ptr<TlsContext> TlsContext::shared(ssl_ctx_st* context) {
  SSL_CTX_up_ref(context);
  return std::unique_ptr<TlsContext>(new TlsContext(context));
}

TlsContext::~TlsContext() {
  SSL_CTX_free(context_);
}

}  // namespace fastws::net
