// Pipelined plain-HTTP requests against the output limit (hardening issue 16, defect 1): a peer
// that pipelines requests and never reads its responses holds the server to max_buffered_bytes
// (the server stops reading it instead of answering into an ever larger backlog), is cut by the
// keep-alive timeout instead of pushing it on with every request, gets every response it is
// owed, in order, once it reads, and does not slow a well-behaved client on the same loop.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

#include "server_test_support.hpp"

namespace fastws::testing {
namespace {

// Every request and every response has the same size, so that counts follow from byte counts.
constexpr std::size_t request_size = 37;
constexpr std::size_t response_size = 72;

std::string numbered_request(std::uint32_t number) {
  char line[request_size + 1];
  std::snprintf(line, sizeof line, "GET /r/%08u HTTP/1.1\r\nHost: a\r\n\r\n", number);
  return {line, request_size};
}

std::string numbered_response(std::uint32_t number) {
  char bytes[response_size + 1];
  std::snprintf(bytes, sizeof bytes,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\n%08u",
                number);
  return {bytes, response_size};
}

// A single-loop server that answers GET /r/N with N and echoes WebSocket messages; it counts the
// response bytes it made.
class NumberServer {
 public:
  explicit NumberServer(ServerOptions options = TestServer::default_options())
      : server_(std::move(options)) {
    server_.server().on_http([this](const Request& request, Response& response) {
      response.send(200, "text/plain", request.path().substr(3));
      answered_bytes_.fetch_add(response_size);
    });
    server_.server().on_message(
        [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
    server_.start();
  }
  std::uint16_t port() const { return server_.port(); }
  std::size_t answered_bytes() const { return answered_bytes_.load(); }

 private:
  std::atomic<std::size_t> answered_bytes_{0};
  TestServer server_;
};

// A peer pipelining numbered requests on a non-blocking socket; it reads only when asked to, and
// checks every response it reads against the one owed, byte for byte and in order.
class Pipeliner {
 public:
  explicit Pipeliner(std::uint16_t port) : peer_(port) {
    ::fcntl(peer_.fd(), F_SETFL, ::fcntl(peer_.fd(), F_GETFL) | O_NONBLOCK);
  }
  int fd() const { return peer_.fd(); }
  std::size_t bytes_sent() const { return bytes_sent_; }
  std::size_t requests_sent() const { return bytes_sent_ / request_size; }
  std::size_t responses_checked() const { return responses_checked_; }
  bool mismatch() const { return mismatch_; }
  bool reset() const { return reset_; }

  // Writes requests until the socket takes no more now; false once the server cut the
  // connection.
  bool send_some() {
    while (!reset_) {
      if (outgoing_.empty()) {
        for (int i = 0; i < 1024; ++i) outgoing_ += numbered_request(next_++);
      }
      const ssize_t n = ::send(fd(), outgoing_.data(), outgoing_.size(), MSG_NOSIGNAL);
      if (n < 0) {
        reset_ = errno != EAGAIN && errno != EWOULDBLOCK;
        break;
      }
      bytes_sent_ += static_cast<std::size_t>(n);
      outgoing_.erase(0, static_cast<std::size_t>(n));
    }
    return !reset_;
  }

  // Sends until `bytes` went out, `limit` passed, the socket took nothing for `stall` (every
  // buffer on the way is full) or the server cut the connection.
  void flood(std::size_t bytes, std::chrono::milliseconds limit, std::chrono::milliseconds stall) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (bytes_sent_ < bytes && std::chrono::steady_clock::now() < deadline) {
      if (!send_some()) return;
      pollfd entry{fd(), POLLOUT, 0};
      if (::poll(&entry, 1, static_cast<int>(stall.count())) == 0) return;
      if (entry.revents & (POLLERR | POLLHUP)) {
        reset_ = true;
        return;
      }
    }
  }

  // Reads what is there now and checks it; false once the connection ended.
  bool receive_some() {
    char buffer[65536];
    for (;;) {
      const ssize_t n = ::recv(fd(), buffer, sizeof buffer, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return false;
      if (n < 0) return true;
      received_.append(buffer, static_cast<std::size_t>(n));
      std::size_t used = 0;
      for (; received_.size() - used >= response_size; used += response_size) {
        const auto number = static_cast<std::uint32_t>(responses_checked_++);
        mismatch_ =
            mismatch_ || received_.compare(used, response_size, numbered_response(number)) != 0;
      }
      received_.erase(0, used);
    }
  }

  // Finishes the request it is in the middle of (if any) and reads until every request sent is
  // answered; false if that does not happen within `limit`.
  bool finish_and_read_all(std::chrono::milliseconds limit) {
    outgoing_.resize((request_size - bytes_sent_ % request_size) % request_size);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (responses_checked_ < requests_sent() || !outgoing_.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd entry{fd(), static_cast<short>(POLLIN | (outgoing_.empty() ? 0 : POLLOUT)), 0};
      ::poll(&entry, 1, static_cast<int>(left.count()));
      if (!outgoing_.empty()) {
        const ssize_t n = ::send(fd(), outgoing_.data(), outgoing_.size(), MSG_NOSIGNAL);
        if (n > 0) {
          bytes_sent_ += static_cast<std::size_t>(n);
          outgoing_.erase(0, static_cast<std::size_t>(n));
        }
      }
      if (!receive_some()) return false;
    }
    return true;
  }

 private:
  RawPeer peer_;
  std::string outgoing_;
  std::string received_;
  std::uint32_t next_ = 0;
  std::size_t bytes_sent_ = 0;
  std::size_t responses_checked_ = 0;
  bool mismatch_ = false;
  bool reset_ = false;
};

// The most a socket's send buffer grows to by itself (tcp_wmem's third field, 4 MiB by default).
std::size_t kernel_send_buffer_max() {
  std::ifstream file("/proc/sys/net/ipv4/tcp_wmem");
  std::size_t low = 0, initial = 0, most = 0;
  if (file >> low >> initial >> most) return most;
  return 4u << 20;
}

std::size_t receive_buffer_of(int fd) {
  int size = 0;
  socklen_t length = sizeof size;
  ::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &length);
  return static_cast<std::size_t>(size);
}

TEST(HttpPipelining, APeerThatNeverReadsIsHeldToTheOutputLimitAndThenGetsEveryResponseInOrder) {
  NumberServer server;
  Pipeliner pipeliner(server.port());
  shrink_receive_buffer(pipeliner.fd());
  // 64 MiB of requests would be 1.8 million responses, 130 MB: far more than the server may
  // hold for a peer that takes none of them.
  pipeliner.flood(64u << 20, 4s, 300ms);
  ASSERT_FALSE(pipeliner.reset()) << "the server cut a peer that it must still answer";
  const std::size_t answered = server.answered_bytes();
  // Responses the server made while its peer read nothing sit in the peer's receive buffer, in
  // the server's send buffer (up to the kernel's maximum), or in the server's own backlog, which
  // max_buffered_bytes bounds (plus the responses of the turn that crossed it; 1 MiB is ample).
  const std::size_t bound = receive_buffer_of(pipeliner.fd()) + kernel_send_buffer_max() +
                            TestServer::default_options().max_buffered_bytes + (1u << 20);
  std::printf(
      "pipelined %zu requests (%zu bytes) without reading; the server made %zu bytes of "
      "responses (bound %zu)\n",
      pipeliner.requests_sent(), pipeliner.bytes_sent(), answered, bound);
  EXPECT_LE(answered, bound) << "responses piled up beyond max_buffered_bytes";
  // What the peer got to send: the requests answered (about 8 MB of them), its own send buffer
  // (4 MiB), the server's receive buffer, and on io_uring the burst a multishot receive brings
  // before its cancellation lands (at most the loop's 256 provided buffers of 16 KiB). A server
  // that restarts its receive while held requests are being answered takes 50 MB and more.
  EXPECT_LT(pipeliner.bytes_sent(), 32u << 20) << "the server never stopped reading";

  ASSERT_TRUE(pipeliner.finish_and_read_all(10s))
      << pipeliner.responses_checked() << " of " << pipeliner.requests_sent() << " responses";
  EXPECT_EQ(pipeliner.responses_checked(), pipeliner.requests_sent());
  EXPECT_FALSE(pipeliner.mismatch()) << "a response differs from the one owed at its place";
}

TEST(HttpPipelining, APeerThatNeverReadsIsCutByTheKeepAliveTimeoutWhileItKeepsSending) {
  ServerOptions options = TestServer::default_options();
  options.http_keepalive_timeout = 300ms;
  options.max_buffered_bytes = 256 * 1024;  // reached sooner
  NumberServer server(options);
  Pipeliner pipeliner(server.port());
  shrink_receive_buffer(pipeliner.fd());
  const auto start = std::chrono::steady_clock::now();
  // Each answered request pushes the keep-alive deadline; a server that keeps answering a peer
  // that never reads would never reach it.
  pipeliner.flood(SIZE_MAX, 3s * slowdown, 3s * slowdown);
  const auto elapsed = since(start);
  std::printf("cut after %lld ms, %zu bytes of requests sent\n",
              static_cast<long long>(elapsed.count()), pipeliner.bytes_sent());
  EXPECT_TRUE(pipeliner.reset()) << "still connected after pipelining for as long as allowed";
  EXPECT_LT(elapsed, 2s * slowdown);
}

void expect_prompt_echoes_beside(bool attacker_reads) {
  NumberServer server;
  Pipeliner pipeliner(server.port());
  std::atomic<bool> stop{false};
  std::thread attacker([&] {
    while (!stop.load()) {
      if (!pipeliner.send_some()) return;
      if (attacker_reads && !pipeliner.receive_some()) return;
      pollfd entry{pipeliner.fd(), static_cast<short>(POLLOUT | (attacker_reads ? POLLIN : 0)), 0};
      ::poll(&entry, 1, 10);
    }
  });
  std::this_thread::sleep_for(100ms);  // the flood is under way
  const RoundTrips trips = time_echoes(server.port(), 1500ms);
  stop.store(true);
  attacker.join();
  std::printf("beside a pipeliner that %s (%zu bytes of requests): %s\n",
              attacker_reads ? "reads" : "never reads", pipeliner.bytes_sent(),
              trips.summary().c_str());
  EXPECT_FALSE(trips.failed);
  EXPECT_GT(trips.times.size(), 20u / slowdown);
  // Generous bounds for a loaded machine (the goal is a p99 under 10 ms); the largest round trip
  // is printed, not judged: one preemption of the server thread may make it. Answering every
  // request of a 1 MiB read in one turn made the median alone 25 ms and more.
  EXPECT_LT(trips.percentile(0.5), 10ms * slowdown) << trips.summary();
  EXPECT_LT(trips.percentile(0.99), 200ms * slowdown) << trips.summary();
  EXPECT_FALSE(pipeliner.mismatch());
  EXPECT_FALSE(pipeliner.reset());
}

TEST(HttpPipelining, AWellBehavedClientIsEchoedPromptlyBesideAPipelinerThatNeverReads) {
  expect_prompt_echoes_beside(false);
}

TEST(HttpPipelining, AWellBehavedClientIsEchoedPromptlyBesideAPipelinerThatReads) {
  expect_prompt_echoes_beside(true);
}

}  // namespace
}  // namespace fastws::testing
