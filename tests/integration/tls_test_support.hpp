// TLS for tests: a self-signed certificate made at test time (EC P-256, for "localhost" and
// 127.0.0.1, valid for a day), written as PEM files, and client contexts that trust it.
#pragma once

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "test_peer.hpp"

namespace fastws::testing {

struct TestCertificate {
  std::string certificate_file;
  std::string key_file;

  // Made once per test process, in a fresh directory under the system's temporary directory.
  static const TestCertificate& get() {
    static const TestCertificate made = make();
    return made;
  }

 private:
  template <typename T, void (*Free)(T*)>
  struct Deleter {
    void operator()(T* p) const { Free(p); }
  };
  using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
  using Certificate = std::unique_ptr<X509, Deleter<X509, X509_free>>;

  static void add_extension(X509* certificate, int nid, const char* value) {
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, certificate, certificate, nullptr, nullptr, 0);
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
    if (extension == nullptr) throw std::runtime_error("test certificate: bad extension");
    X509_add_ext(certificate, extension, -1);
    X509_EXTENSION_free(extension);
  }

  static void write_pem(const std::string& path, auto&& writer) {
    std::FILE* file = std::fopen(path.c_str(), "w");
    if (file == nullptr || !writer(file)) throw std::runtime_error("test certificate: " + path);
    std::fclose(file);
  }

  static TestCertificate make() {
    Key key(EVP_EC_gen("P-256"));
    Certificate certificate(X509_new());
    if (!key || !certificate) throw std::runtime_error("test certificate: out of memory");
    X509_set_version(certificate.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(certificate.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(certificate.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(certificate.get()), 24 * 3600);
    X509_set_pubkey(certificate.get(), key.get());
    X509_NAME* name = X509_get_subject_name(certificate.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(certificate.get(), name);
    add_extension(certificate.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    add_extension(certificate.get(), NID_basic_constraints, "critical,CA:TRUE");
    if (X509_sign(certificate.get(), key.get(), EVP_sha256()) == 0) {
      throw std::runtime_error("test certificate: cannot sign");
    }
    const auto directory =
        std::filesystem::temp_directory_path() / ("fastws-tls-" + std::to_string(::getpid()));
    std::filesystem::create_directories(directory);
    TestCertificate files{(directory / "certificate.pem").string(),
                          (directory / "key.pem").string()};
    write_pem(files.certificate_file,
              [&](std::FILE* file) { return PEM_write_X509(file, certificate.get()) == 1; });
    write_pem(files.key_file, [&](std::FILE* file) {
      return PEM_write_PrivateKey(file, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
    });
    return files;
  }
};

using SslContext = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;
using ClientTlsContext = SslContext;

// A client context that verifies the server against the test certificate and offers `alpn`
// (wire format: length-prefixed names; empty = no ALPN).
inline ClientTlsContext client_tls_context(std::string_view alpn = {}) {
  ClientTlsContext context(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(context.get(), TestCertificate::get().certificate_file.c_str(),
                                    nullptr) != 1) {
    throw std::runtime_error("cannot load the test certificate");
  }
  if (!alpn.empty()) {
    SSL_CTX_set_alpn_protos(context.get(), reinterpret_cast<const unsigned char*>(alpn.data()),
                            static_cast<unsigned>(alpn.size()));
  }
  return context;
}

// An OpenSSL server context with the test certificate, for a test's own TLS server.
inline SslContext server_tls_context() {
  SslContext context(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  const TestCertificate& files = TestCertificate::get();
  if (SSL_CTX_use_certificate_chain_file(context.get(), files.certificate_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(context.get(), files.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw std::runtime_error("cannot load the test certificate");
  }
  return context;
}

// ServerOptions for a TLS test server with the test certificate.
inline ServerOptions tls_server_options() {
  ServerOptions options = TestServer::default_options();
  options.tls.certificate_file = TestCertificate::get().certificate_file;
  options.tls.key_file = TestCertificate::get().key_file;
  return options;
}

}  // namespace fastws::testing
