// The "limit" baseline for echo benchmarks: the leanest plain-TCP echo server we can write.
//
// Whatever a WebSocket server spends above this program is the price of WebSocket (framing,
// masking, UTF-8) and of its library. Standalone on purpose (no fastws): one thread, one epoll,
// level-triggered, one shared read buffer, and per connection only the bytes a short write
// left behind. Per message: one read() and one send(), nothing else.
//
// Usage: tcp_echo_server [--port N]   (default 9001; prints "listening on 127.0.0.1:N")
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

int listen_on_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd, SOMAXCONN) != 0) {
    std::perror("listen");
    std::exit(1);
  }
  return fd;
}

class EchoServer {
 public:
  explicit EchoServer(int listen_fd) : listen_fd_(listen_fd), epoll_fd_(::epoll_create1(0)) {
    watch(listen_fd_, EPOLLIN, EPOLL_CTL_ADD);
  }

  [[noreturn]] void run() {
    epoll_event events[1024];
    for (;;) {
      const int ready = ::epoll_wait(epoll_fd_, events, 1024, -1);
      for (int i = 0; i < ready; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listen_fd_) {
          accept_all();
        } else if (events[i].events & EPOLLOUT) {
          send_unsent(fd);
        } else {
          echo(fd);
        }
      }
    }
  }

 private:
  void watch(int fd, std::uint32_t events, int operation) {
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;
    ::epoll_ctl(epoll_fd_, operation, fd, &event);
  }

  void accept_all() {
    for (;;) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or out of descriptors: a benchmark does not go there
      const int on = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
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
  int port = 9001;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0) port = std::atoi(argv[++i]);
  }
  if (port <= 0 || port > 65535) {
    std::fprintf(stderr, "usage: %s [--port N]\n", argv[0]);
    return 2;
  }
  static EchoServer server(listen_on_loopback(static_cast<std::uint16_t>(port)));
  std::printf("listening on 127.0.0.1:%d\n", port);
  std::fflush(stdout);
  server.run();
}
