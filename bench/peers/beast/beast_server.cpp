// Boost.Beast peer for bench/compare: echo on any path, broadcast on /broadcast (every message any
// /broadcast connection sends goes to every /broadcast connection, as binary). One io_context run
// by one thread, the way Beast's own single-threaded examples serve.
//
// Usage: beast_server [--port N] [--compress]   (prints "listening on 127.0.0.1:N")
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <unordered_set>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

bool compress = false;

class Session;
std::unordered_set<Session*> subscribers;

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket socket) : ws_(std::move(socket)) {}
  ~Session() { subscribers.erase(this); }

  void start() {
    http::async_read(ws_.next_layer(), buffer_, request_,
                     [self = shared_from_this()](beast::error_code error, std::size_t) {
                       if (!error) self->accept();
                     });
  }

  // Queues one broadcast; the queue is written one message at a time (Beast allows one
  // async_write in flight per stream).
  void deliver(const std::shared_ptr<const std::string>& message) {
    queue_.push_back(message);
    if (queue_.size() == 1) write_next();
  }

 private:
  void accept() {
    broadcast_ = request_.target() == "/broadcast";
    ws_.auto_fragment(false);  // a message is one frame, as fastws_bench checks
    if (compress) {
      websocket::permessage_deflate deflate;
      deflate.server_enable = true;
      ws_.set_option(deflate);
    }
    ws_.async_accept(request_, [self = shared_from_this()](beast::error_code error) {
      if (error) return;
      if (self->broadcast_) subscribers.insert(self.get());
      self->read();
    });
  }

  void read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code error, std::size_t) {
      if (error) return;  // closed: the last handler's shared_ptr goes, and the session with it
      self->broadcast_ ? self->publish() : self->echo();
    });
  }

  void echo() {
    ws_.text(ws_.got_text());
    ws_.async_write(buffer_.data(),
                    [self = shared_from_this()](beast::error_code error, std::size_t) {
                      if (error) return;
                      self->buffer_.consume(self->buffer_.size());
                      self->read();
                    });
  }

  void publish() {
    auto message = std::make_shared<const std::string>(beast::buffers_to_string(buffer_.data()));
    buffer_.consume(buffer_.size());
    for (Session* subscriber : subscribers) subscriber->deliver(message);
    read();
  }

  void write_next() {
    ws_.binary(true);
    ws_.async_write(asio::buffer(*queue_.front()),
                    [self = shared_from_this()](beast::error_code error, std::size_t) {
                      if (error) return;
                      self->queue_.pop_front();
                      if (!self->queue_.empty()) self->write_next();
                    });
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  bool broadcast_ = false;
};

void accept_next(tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](beast::error_code error, tcp::socket socket) {
    if (!error) {
      socket.set_option(tcp::no_delay(true));
      std::make_shared<Session>(std::move(socket))->start();
    }
    accept_next(acceptor);
  });
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 9001;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      port = static_cast<unsigned short>(std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--compress") == 0) {
      compress = true;
    }
  }
  asio::io_context context(1);
  tcp::acceptor acceptor(context, {asio::ip::make_address("127.0.0.1"), port});
  asio::signal_set signals(context, SIGINT, SIGTERM);
  signals.async_wait([&context](beast::error_code, int) { context.stop(); });
  accept_next(acceptor);
  std::printf("listening on 127.0.0.1:%u\n", acceptor.local_endpoint().port());
  std::fflush(stdout);
  context.run();
}
