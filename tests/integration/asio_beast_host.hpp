// A minimal Beast HTTP server for the Asio adapter's tests: it reads one request per connection
// and upgrades it to fastws (fastws::asio::upgrade, or handover for the cheap path), except
// /plain, answered 404 by Beast; plain TCP or TLS (the test certificate). Runs on the test's
// io_context.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <string>

#include "fastws/asio.hpp"
#include "tls_test_support.hpp"

namespace fastws::testing {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

enum class HostMode { upgrade, handover };

class BeastHost {
 public:
  // `secure`: TLS with the test certificate (upgrade only).
  BeastHost(boost::asio::io_context& io, Server& server, HostMode mode, bool secure = false)
      : io_(io),
        server_(server),
        mode_(mode),
        tls_(boost::asio::ssl::context::tls_server),
        secure_(secure),
        acceptor_(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {
    if (secure_) {
      tls_.use_certificate_chain_file(TestCertificate::get().certificate_file);
      tls_.use_private_key_file(TestCertificate::get().key_file, boost::asio::ssl::context::pem);
    }
    accept();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string url(std::string_view path = "/ws") const {
    return std::string(secure_ ? "wss" : "ws") + "://127.0.0.1:" + std::to_string(port()) +
           std::string(path);
  }
  // Closes the listening socket, so that io.run() can run out of work.
  void close() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  }
  // Upgrades refused by the server (answered through the stream).
  std::atomic<int> refused{0};

 private:
  template <class Stream>
  struct Session : std::enable_shared_from_this<Session<Stream>> {
    Session(BeastHost& owner, Stream s) : host(owner), stream(std::move(s)) {}
    void start() {
      http::async_read(stream, buffer, request,
                       [self = this->shared_from_this()](beast::error_code error, std::size_t) {
                         if (!error) self->on_request();
                       });
    }
    void on_request() {
      if (request.target() == "/plain") {
        auto response = std::make_shared<http::response<http::string_body>>(http::status::not_found,
                                                                            request.version());
        response->body() = "not here\n";
        response->prepare_payload();
        http::async_write(
            stream, *response,
            [self = this->shared_from_this(), response](beast::error_code, std::size_t) {});
        return;
      }
      HandoverResult result;
      if constexpr (std::is_same_v<Stream, tcp::socket>) {
        if (host.mode_ == HostMode::handover) {
          result = fastws::asio::handover(host.server_, request, std::move(stream), buffer.data());
        } else {
          result = fastws::asio::upgrade(host.server_, request, std::move(stream), buffer.data());
        }
      } else {
        result = fastws::asio::upgrade(host.server_, request, std::move(stream), buffer.data());
      }
      if (!result.accepted) host.refused.fetch_add(1);
    }
    BeastHost& host;
    Stream stream;
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
  };

  void accept() {
    acceptor_.async_accept([this](beast::error_code error, tcp::socket socket) {
      if (error) return;
      if (!secure_) {
        std::make_shared<Session<tcp::socket>>(*this, std::move(socket))->start();
      } else {
        using Secure = boost::asio::ssl::stream<tcp::socket>;
        auto stream = std::make_shared<Secure>(std::move(socket), tls_);
        stream->async_handshake(
            boost::asio::ssl::stream_base::server,
            [this, stream](beast::error_code handshake_error) {
              if (handshake_error) return;
              std::make_shared<Session<Secure>>(*this, std::move(*stream))->start();
            });
      }
      accept();
    });
  }

  boost::asio::io_context& io_;
  Server& server_;
  HostMode mode_;
  boost::asio::ssl::context tls_;
  bool secure_;
  tcp::acceptor acceptor_;
};

}  // namespace fastws::testing
