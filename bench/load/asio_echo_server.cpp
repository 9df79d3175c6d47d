// fastws's echo inside a Boost.Asio program, for bench/run_asio.sh: a Beast acceptor reads each
// connection's HTTP request, then hands it to fastws, whose loop runs on the program's
// io_context (fastws::asio::run_on), one thread in all.
//   default:     fastws::asio::upgrade: the connection's bytes move through Asio (async_read_some
//                / async_write on the socket, completions on the loop's strand);
//   --handover:  fastws::asio::handover: the socket's fd goes to fastws's own loop, which reads
//                and writes it itself (the loop still runs on the io_context).
// The echo is examples/echo's: every message back as it came.
//
// Usage: asio_echo_server [--port N] [--handover]   (port 0 picks a free one; prints
//        "listening on 127.0.0.1:N")
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "fastws/asio.hpp"
#include "fastws/fastws.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// One connection until its upgrade request is read, then fastws's.
class Upgrading : public std::enable_shared_from_this<Upgrading> {
 public:
  Upgrading(tcp::socket socket, fastws::Server& server, bool handover)
      : socket_(std::move(socket)), server_(server), handover_(handover) {}

  void start() {
    http::async_read(socket_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code error, std::size_t) {
                       if (error) return;
                       if (self->handover_) {
                         fastws::asio::handover(self->server_, self->request_,
                                                std::move(self->socket_), self->buffer_.data());
                       } else {
                         fastws::asio::upgrade(self->server_, self->request_,
                                               std::move(self->socket_), self->buffer_.data());
                       }
                     });
  }

 private:
  tcp::socket socket_;
  fastws::Server& server_;
  const bool handover_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
};

void accept(tcp::acceptor& acceptor, fastws::Server& server, bool handover) {
  acceptor.async_accept(
      [&acceptor, &server, handover](beast::error_code error, tcp::socket socket) {
        if (error == asio::error::operation_aborted) return;  // stopping
        if (!error) {
          socket.set_option(tcp::no_delay(true));
          std::make_shared<Upgrading>(std::move(socket), server, handover)->start();
        }
        accept(acceptor, server, handover);
      });
}

}  // namespace

int main(int argc, char** argv) {
  int port = 9001;
  bool handover = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--handover") == 0) {
      handover = true;
    } else {
      port = -1;
    }
  }
  if (port < 0 || port > 65535) {
    std::fprintf(stderr, "usage: %s [--port N] [--handover]\n", argv[0]);
    return 2;
  }
  asio::io_context io(1);
  fastws::ServerOptions options;
  options.threads = 1;
  options.max_message_size = 16u << 20;
  fastws::Server server(options);
  server.on_message([](const fastws::Conn& conn, fastws::Message message) {
    conn.send(message.data(), message.opcode());  // a refused echo shows as a bench failure
  });
  tcp::acceptor acceptor(
      io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  fastws::asio::run_on(server, io, [&io] { io.stop(); });
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) {
    beast::error_code ignored;
    acceptor.close(ignored);
    server.stop();
  });
  accept(acceptor, server, handover);
  std::printf("listening on 127.0.0.1:%u\n", acceptor.local_endpoint().port());
  std::fflush(stdout);
  io.run();
}
