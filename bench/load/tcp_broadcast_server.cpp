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
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <memory>
#include <vector>

#include "load/plain_tcp_server.hpp"

namespace {

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
    plain_tcp::serve_forever(epoll_fd_, [this](int fd, std::uint32_t events) {
      if (fd == listen_fd_) {
        accept_all();
        return;
      }
      if (!open(fd)) return;  // closed earlier in this batch
      if ((events & EPOLLOUT) != 0) send_waiting(fd);
      if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0 && open(fd)) relay(fd);
    });
  }

 private:
  void watch(int fd, std::uint32_t events, int operation) {
    plain_tcp::watch(epoll_fd_, fd, events, operation);
  }

  bool open(int fd) const {
    const auto index = static_cast<std::size_t>(fd);
    return index < position_.size() && position_[index] != npos;
  }

  void accept_all() {
    for (;;) {
      const int fd = plain_tcp::accept_connection(listen_fd_);
      if (fd < 0) return;
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
  const std::uint16_t port = plain_tcp::port_from_arguments(argc, argv);
  static BroadcastRelay relay(plain_tcp::listen_on_loopback(port));
  plain_tcp::announce_listening(port);
  relay.run();
}
