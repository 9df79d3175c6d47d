// The "limit" baseline for broadcast benchmarks: a plain-TCP relay that copies every byte any
// connection sends to every connection (the sender included), in the order it arrived.
//
// What a WebSocket server spends above this program on a broadcast is the price of its library:
// the bytes the benchmark publishes are already the frame a WebSocket server would send, so this
// relay only writes them. Standalone on purpose (no fastws): one thread, one epoll,
// level-triggered. Per broadcast: one read(), then one send() per connection. Bytes a short
// write leaves behind are not copied per connection: each read becomes one reference-counted
// chunk, and a connection that cannot keep up queues references to chunks (the shared-bytes
// design, at its leanest).
//
// Usage: tcp_broadcast_server [--port N]   (default 9001; prints "listening on 127.0.0.1:N")
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
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

using Chunk = std::shared_ptr<const std::vector<char>>;

// A connection's bytes waiting for the kernel: references to shared chunks, the first one
// partly written.
struct Waiting {
  std::deque<Chunk> chunks;
  std::size_t offset = 0;  // into chunks.front()
};

class BroadcastRelay {
 public:
  explicit BroadcastRelay(int listen_fd) : listen_fd_(listen_fd), epoll_fd_(::epoll_create1(0)) {
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
          continue;
        }
        if (!open(fd)) continue;  // closed earlier in this batch
        if ((events[i].events & EPOLLOUT) != 0) send_waiting(fd);
        if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0 && open(fd)) relay(fd);
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

  bool open(int fd) const {
    const auto index = static_cast<std::size_t>(fd);
    return index < position_.size() && position_[index] != npos;
  }

  void accept_all() {
    for (;;) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or out of descriptors: a benchmark does not go there
      const int on = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      const auto index = static_cast<std::size_t>(fd);
      if (index >= position_.size()) {
        position_.resize(2 * index + 1, npos);
        waiting_.resize(2 * index + 1);
      }
      position_[index] = connections_.size();
      connections_.push_back(fd);
      watch(fd, EPOLLIN, EPOLL_CTL_ADD);
    }
  }

  // Reads once (level-triggered epoll reports the rest next time) and writes the bytes to every
  // connection: straight to the kernel, or behind what already waits there.
  void relay(int from) {
    const ssize_t received = ::read(from, buffer_, sizeof buffer_);
    if (received <= 0) {
      if (received < 0 && (errno == EAGAIN || errno == EINTR)) return;
      close_connection(from);
      return;
    }
    const auto size = static_cast<std::size_t>(received);
    Chunk chunk;  // made only when some connection has to keep the bytes
    for (std::size_t i = 0; i < connections_.size(); ++i) {
      const int fd = connections_[i];
      Waiting& waiting = waiting_[static_cast<std::size_t>(fd)];
      std::size_t done = 0;
      if (waiting.chunks.empty()) {
        const ssize_t sent = ::send(fd, buffer_, size, MSG_NOSIGNAL);
        if (sent < 0 && errno != EAGAIN) continue;  // gone: its read side will see the end
        done = sent < 0 ? 0 : static_cast<std::size_t>(sent);
        if (done == size) continue;
        watch(fd, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
        waiting.offset = done;
      }
      if (!chunk) chunk = std::make_shared<const std::vector<char>>(buffer_, buffer_ + size);
      waiting.chunks.push_back(chunk);
    }
  }

  void send_waiting(int fd) {
    Waiting& waiting = waiting_[static_cast<std::size_t>(fd)];
    while (!waiting.chunks.empty()) {
      iovec pieces[64];
      int count = 0;
      for (auto chunk = waiting.chunks.begin(); chunk != waiting.chunks.end() && count < 64;
           ++chunk, ++count) {
        const std::size_t skip = count == 0 ? waiting.offset : 0;
        pieces[count] = {const_cast<char*>((*chunk)->data()) + skip, (*chunk)->size() - skip};
      }
      ssize_t sent = ::writev(fd, pieces, count);
      if (sent < 0) {
        if (errno != EAGAIN) close_connection(fd);
        return;
      }
      // Drop the chunks written whole; remember how far into the next one.
      auto left = static_cast<std::size_t>(sent);
      while (!waiting.chunks.empty() && left >= waiting.chunks.front()->size() - waiting.offset) {
        left -= waiting.chunks.front()->size() - waiting.offset;
        waiting.chunks.pop_front();
        waiting.offset = 0;
      }
      waiting.offset += left;
      if (left != 0) return;  // short write: the socket is full again
    }
    watch(fd, EPOLLIN, EPOLL_CTL_MOD);
  }

  void close_connection(int fd) {
    const auto index = static_cast<std::size_t>(fd);
    // Swap-remove from the list of connections, keeping positions right.
    const std::size_t at = position_[index];
    connections_[at] = connections_.back();
    position_[static_cast<std::size_t>(connections_[at])] = at;
    connections_.pop_back();
    position_[index] = npos;
    waiting_[index] = {};
    ::close(fd);  // also leaves the epoll set
  }

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  int listen_fd_;
  int epoll_fd_;
  std::vector<int> connections_;       // open connections, in no particular order
  std::vector<std::size_t> position_;  // by descriptor: index in connections_, npos if closed
  std::vector<Waiting> waiting_;       // by descriptor; empty for almost every connection
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
  static BroadcastRelay relay(listen_on_loopback(static_cast<std::uint16_t>(port)));
  std::printf("listening on 127.0.0.1:%d\n", port);
  std::fflush(stdout);
  relay.run();
}
