// A Boost.Beast HTTP(S) server that hands its WebSocket upgrades to fastws: the Beast side serves
// the chat page on "/", a small REST API (/api/stats, /api/rooms) and, with --root DIR, the files
// under /files/; an upgrade on "/ws" goes to fastws (fastws::asio::upgrade), which runs the chat
// of examples/chat.cpp on the same io_context. One port, one TLS certificate, one event loop:
// what adding fastws to an existing Beast server looks like (docs/asio.md).
//
//   beast_server [--host H] [--port N] [--threads N] [--compress] [--cert PEM --key PEM]
//                [--root DIR]
// Open http://127.0.0.1:8080/ in two browser tabs (https:// with --cert/--key).
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/http/file_body.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include "chat_page.hpp"
#include "chat_room.hpp"
#include "example_support.hpp"
#include "fastws/asio.hpp"
#include "fastws/fastws.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// What the Beast side needs to answer plain HTTP requests.
struct Site {
  fastws::Server& server;
  Presence& presence;
  std::filesystem::path root;  // empty: no /files/
};

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string stats_json(const fastws::ServerStats& stats) {
  std::ostringstream out;
  out << "{\"connections\":" << stats.connections << ",\"messages_in\":" << stats.messages_in
      << ",\"messages_out\":" << stats.messages_out << ",\"bytes_in\":" << stats.bytes_in
      << ",\"bytes_out\":" << stats.bytes_out << ",\"dropped_sends\":" << stats.dropped_sends
      << "}\n";
  return out.str();
}

std::string rooms_json(Presence& presence) {
  std::string out = "[";
  for (const auto& [room, who] : presence.all_rooms()) {
    if (out.size() > 1) out += ',';
    out += "{\"room\":" + json_string(room) + ",\"who\":" + json_string(who) + "}";
  }
  return out + "]\n";
}

const char* content_type(const std::filesystem::path& path) {
  const std::string extension = path.extension().string();
  if (extension == ".html" || extension == ".htm") return "text/html; charset=utf-8";
  if (extension == ".js") return "text/javascript; charset=utf-8";
  if (extension == ".css") return "text/css; charset=utf-8";
  if (extension == ".json") return "application/json";
  if (extension == ".png") return "image/png";
  if (extension == ".svg") return "image/svg+xml";
  if (extension == ".txt" || extension == ".md") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

// A file under the root, or nothing: names that climb out of it (.., symlinks) or are not
// regular files are not served.
std::optional<std::filesystem::path> file_under(const std::filesystem::path& root,
                                                std::string_view name) {
  if (root.empty() || name.empty() || name.find('\0') != std::string_view::npos) return {};
  std::error_code error;
  const auto base = std::filesystem::canonical(root, error);
  if (error) return {};
  const auto path = std::filesystem::weakly_canonical(base / std::string(name), error);
  if (error) return {};
  const auto relative = path.lexically_relative(base);
  if (relative.empty() || *relative.begin() == "..") return {};
  if (!std::filesystem::is_regular_file(path, error)) return {};
  return path;
}

using TextResponse = http::response<http::string_body>;
using FileResponse = http::response<http::file_body>;  // streamed from disk as it goes out

// The answer to a request that is not an upgrade to /ws.
std::variant<TextResponse, FileResponse> answer(const Site& site,
                                                const http::request<http::string_body>& request) {
  auto respond = [&](http::status status, const char* type, std::string body) {
    TextResponse response(status, request.version());
    response.set(http::field::content_type, type);
    response.keep_alive(request.keep_alive());
    response.body() = std::move(body);
    response.prepare_payload();
    return response;
  };
  if (request.method() != http::verb::get) {
    auto response = respond(http::status::method_not_allowed, "text/plain", "GET only\n");
    response.set(http::field::allow, "GET");
    return response;
  }
  const std::string_view target(request.target().data(), request.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  if (path == "/") return respond(http::status::ok, "text/html; charset=utf-8", chat_page);
  if (path == "/api/stats") {
    return respond(http::status::ok, "application/json", stats_json(site.server.stats()));
  }
  if (path == "/api/rooms") {
    return respond(http::status::ok, "application/json", rooms_json(site.presence));
  }
  // Names are taken as they come (no percent-decoding): "%2e%2e" is a name, not "..".
  if (path.starts_with("/files/")) {
    beast::error_code error;
    http::file_body::value_type body;
    if (const auto file = file_under(site.root, path.substr(7))) {
      body.open(file->c_str(), beast::file_mode::scan, error);
      if (!error) {
        FileResponse response(std::piecewise_construct, std::make_tuple(std::move(body)),
                              std::make_tuple(http::status::ok, request.version()));
        response.set(http::field::content_type, content_type(*file));
        response.keep_alive(request.keep_alive());
        response.prepare_payload();
        return response;
      }
    }
  }
  return respond(http::status::not_found, "text/plain", "not found\n");
}

// One HTTP connection (plain or TLS): requests answered in turn, until an upgrade to /ws hands
// the stream to fastws.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Stream stream, const Site& site) : stream_(std::move(stream)), site_(site) {}

  void start() {
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code error) {
                                if (!error) self->read();
                              });
    } else {
      read();
    }
  }

 private:
  void read() {
    request_.emplace();
    request_->body_limit(64 * 1024);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, *request_,
                     [self = this->shared_from_this()](beast::error_code error, std::size_t) {
                       if (!error) self->handle();
                     });
  }

  void handle() {
    http::request<http::string_body> request = request_->release();
    const std::string_view target(request.target().data(), request.target().size());
    if (beast::websocket::is_upgrade(request) && target.substr(0, target.find('?')) == "/ws") {
      // fastws takes the stream (and what Beast read past the request); a refusal is answered
      // through it. The Beast side is done with this connection either way.
      beast::get_lowest_layer(stream_).expires_never();
      fastws::asio::upgrade(site_.server, request, std::move(stream_), buffer_.data());
      return;
    }
    std::visit([this](auto&& response) { send(std::move(response)); }, answer(site_, request));
  }

  template <class Response>
  void send(Response response) {
    auto message = std::make_shared<Response>(std::move(response));
    http::async_write(
        stream_, *message,
        [self = this->shared_from_this(), message](beast::error_code error, std::size_t) {
          if (error) return;
          if (message->keep_alive()) {
            self->read();
          } else {
            self->close();
          }
        });
  }

  void close() {
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  Stream stream_;
  const Site& site_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> request_;
};

class Listener {
 public:
  Listener(asio::io_context& io, const tcp::endpoint& endpoint, const Site& site,
           asio::ssl::context* tls)
      : io_(io), acceptor_(io, endpoint), site_(site), tls_(tls) {}

  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  void start() { accept(); }
  void stop() {
    beast::error_code ignored;
    acceptor_.close(ignored);
  }

 private:
  void accept() {
    acceptor_.async_accept(
        asio::make_strand(io_), [this](beast::error_code error, tcp::socket socket) {
          if (error == asio::error::operation_aborted) return;  // stop()
          if (!error) {
            beast::tcp_stream stream(std::move(socket));
            if (tls_ != nullptr) {
              std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
                  beast::ssl_stream<beast::tcp_stream>(std::move(stream), *tls_), site_)
                  ->start();
            } else {
              std::make_shared<Session<beast::tcp_stream>>(std::move(stream), site_)->start();
            }
          }
          accept();
        });
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  const Site& site_;
  asio::ssl::context* tls_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string root;
  const ExampleArgs args(argc, argv, {{"--root", "[--root DIR]", &root}});
  if (!args.redis_url.empty()) {
    // Scale-out needs the presence announcer of examples/chat.cpp; this example keeps to one.
    std::fprintf(stderr, "beast_server: --redis is examples/chat's\n");
    return 2;
  }
  const unsigned threads = args.threads != 0 ? args.threads : std::thread::hardware_concurrency();
  asio::io_context io(static_cast<int>(threads));

  std::optional<asio::ssl::context> tls;
  if (args.secure()) {
    tls.emplace(asio::ssl::context::tls_server);
    tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                     asio::ssl::context::no_tlsv1_1);
    try {
      tls->use_certificate_chain_file(args.certificate_file);
      tls->use_private_key_file(args.key_file, asio::ssl::context::pem);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "beast_server: %s\n", error.what());
      return 1;
    }
  }

  fastws::ServerOptions options = args.options();
  options.threads = threads;  // fastws's loops, each on a strand of the io_context
  options.tls = {};           // TLS is the Beast stream's: fastws gets the decrypted bytes
  options.max_message_size = 64 * 1024;
  // The Beast side checked nothing about the Origin: the page is served from this host, so
  // fastws's default same-origin policy applies as it does in examples/chat.cpp.
  fastws::Server server(options);
  Presence presence("");
  serve_chat(server, presence);

  const Site site{server, presence, root};
  std::optional<Listener> listener;
  try {
    listener.emplace(io, tcp::endpoint(asio::ip::make_address(args.host), args.port), site,
                     tls ? &*tls : nullptr);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "beast_server: cannot listen on %s:%u: %s\n", args.host.c_str(), args.port,
                 error.what());
    return 1;
  }
  // When fastws's loops have ended (after stop(): close 1001 to everyone, close handshakes
  // awaited up to close_timeout), the rest of the io_context (idle HTTP keep-alive sessions)
  // stops too.
  if (!fastws::asio::run_on(server, io, [&io] { io.stop(); })) {
    std::fprintf(stderr, "beast_server: the fastws loops could not start\n");
    return 1;
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) {
    listener->stop();
    server.stop();
  });
  listener->start();
  const char* scheme = args.secure() ? "s" : "";
  std::printf("beast_server listening on ws%s://%s:%u/ws - page on http%s://%s:%u/\n", scheme,
              args.host.c_str(), listener->port(), scheme, args.host.c_str(), listener->port());
  std::fflush(stdout);

  std::vector<std::thread> io_threads;
  for (unsigned i = 1; i < threads; ++i) io_threads.emplace_back([&io] { io.run(); });
  io.run();
  for (std::thread& thread : io_threads) thread.join();
  // `signals` gives SIGINT and SIGTERM their default action back (ending the process) when it
  // goes: one more of them during the teardown would turn this clean exit into a kill. This is
  // the only thread left, so blocking them here holds them off until the exit.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  return 0;
}
