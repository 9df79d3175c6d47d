// The "limit" baseline for echo benchmarks: the leanest plain-TCP echo server we can write.
//
// Whatever a WebSocket server spends above this program is the price of WebSocket (framing,
// masking, UTF-8) and of its library. Standalone on purpose (no fastws): one thread, one epoll,
// level-triggered, one shared read buffer, and per connection only the bytes a short write
// left behind. Per message: one read() and one send(), nothing else.
//
// Usage: tcp_echo_server [--port N]   (default 9001; prints "listening on 127.0.0.1:N")
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "load/plain_tcp_server.hpp"

namespace {

class EchoServer {
 public:
  explicit EchoServer(int listen_fd) : listen_fd_(listen_fd), epoll_fd_(::epoll_create1(0)) {
    watch(listen_fd_, EPOLLIN, EPOLL_CTL_ADD);
  }

  [[noreturn]] void run() {
    plain_tcp::serve_forever(epoll_fd_, [this](int fd, std::uint32_t events) {
      if (fd == listen_fd_) {
        accept_all();
      } else if ((events & EPOLLOUT) != 0) {
        send_unsent(fd);
      } else {
        echo(fd);
      }
    });
  }

 private:
  void watch(int fd, std::uint32_t events, int operation) {
    plain_tcp::watch(epoll_fd_, fd, events, operation);
  }

  void accept_all() {
    for (;;) {
      const int fd = plain_tcp::accept_connection(listen_fd_);
      if (fd < 0) return;
      const auto index = static_cast<std::size_t>(fd);
      if (index >= unsent_.size()) unsent_.resize(2 * index + 1);
      watch(fd, EPOLLIN, EPOLL_CTL_ADD);
    }
  }

  // Reads what arrived (one read: level-triggered epoll reports the rest next time) and sends
  // it straight back from the same buffer.
  void echo(int fd) {
    const ssize_t received = ::read(fd, buffer_, sizeof buffer_);
    if (received <= 0) {
      if (received < 0 && (errno == EAGAIN || errno == EINTR)) return;
      close_connection(fd);
      return;
    }
    const auto size = static_cast<std::size_t>(received);
    const ssize_t sent = ::send(fd, buffer_, size, MSG_NOSIGNAL);
    if (sent == received) return;
    if (sent < 0 && errno != EAGAIN) {
      close_connection(fd);
      return;
    }
    // The peer reads slower than it writes: keep the rest and stop reading until it is gone.
    const std::size_t done = sent < 0 ? 0 : static_cast<std::size_t>(sent);
    unsent_[static_cast<std::size_t>(fd)].assign(buffer_ + done, size - done);
    watch(fd, EPOLLOUT, EPOLL_CTL_MOD);
  }

  void send_unsent(int fd) {
    std::string& unsent = unsent_[static_cast<std::size_t>(fd)];
    const ssize_t sent = ::send(fd, unsent.data(), unsent.size(), MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno != EAGAIN) close_connection(fd);
      return;
    }
    unsent.erase(0, static_cast<std::size_t>(sent));
    if (unsent.empty()) watch(fd, EPOLLIN, EPOLL_CTL_MOD);
  }

  void close_connection(int fd) {
    unsent_[static_cast<std::size_t>(fd)].clear();
    ::close(fd);  // also leaves the epoll set
  }

  int listen_fd_;
  int epoll_fd_;
  std::vector<std::string> unsent_;  // by descriptor; empty for almost every connection
  char buffer_[256 * 1024];
};

}  // namespace

int main(int argc, char** argv) {
  const std::uint16_t port = plain_tcp::port_from_arguments(argc, argv);
  static EchoServer server(plain_tcp::listen_on_loopback(port));
  plain_tcp::announce_listening(port);
  server.run();
}
