// Socket helpers over loopback: address strings, resolving, listening on IPv4 / IPv6 / Unix
// paths with their options, accepting, adopting foreign sockets, connecting, and the
// read/write helpers' outcomes.
#include "net/socket.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <fstream>
#include <string>
#include <vector>

#include "integration/net_test_support.hpp"
#include "net/socket_io.hpp"

namespace fastws::net {
namespace {

using test::address_of;
using test::bound_address;
using test::connect_blocking;
using test::TempDir;
using test::unix_address;

bool has_flag(int fd, int getter, int flag) {
  return (::fcntl(fd, getter) & flag) != 0;
}

int int_option(int fd, int level, int name) {
  int value = -1;
  socklen_t size = sizeof value;
  EXPECT_EQ(::getsockopt(fd, level, name, &value, &size), 0);
  return value;
}

UniqueFd listen_or_fail(const SocketAddress& address, const ListenOptions& options = {}) {
  UniqueFd fd;
  const std::error_code error = listen_on(address, options, fd);
  EXPECT_FALSE(error) << address.to_string() << ": " << error.message();
  return fd;
}

UniqueFd accept_pending(int listen_fd, SocketAddress* peer = nullptr) {
  EXPECT_TRUE(test::wait_for(listen_fd, POLLIN));
  UniqueFd connection;
  EXPECT_FALSE(accept_connection(listen_fd, connection, peer));
  return connection;
}

TEST(SocketAddressTest, PrintsHostAndPortTheUsualWay) {
  EXPECT_EQ(address_of("127.0.0.1", 8080).to_string(), "127.0.0.1:8080");
  EXPECT_EQ(address_of("::1", 8080).to_string(), "[::1]:8080");
  EXPECT_EQ(address_of("[::1]", 443).to_string(), "[::1]:443");
  EXPECT_EQ(address_of("127.0.0.1", 8080).port(), 8080);
  EXPECT_EQ(address_of("::1", 9).family(), AF_INET6);
  EXPECT_EQ(SocketAddress{}.to_string(), "");
  EXPECT_EQ(SocketAddress{}.family(), AF_UNSPEC);
}

TEST(SocketAddressTest, UnixPaths) {
  const SocketAddress address = unix_address("/run/app.sock");
  EXPECT_EQ(address.family(), AF_UNIX);
  EXPECT_EQ(address.to_string(), "unix:/run/app.sock");
  EXPECT_EQ(address.unix_path(), "/run/app.sock");
  EXPECT_EQ(address.port(), 0);

  SocketAddress out;
  EXPECT_EQ(SocketAddress::from_unix_path(std::string(108, 'x'), out),
            std::errc::filename_too_long);
  EXPECT_FALSE(SocketAddress::from_unix_path(std::string(107, 'x'), out));
  EXPECT_EQ(SocketAddress::from_unix_path("", out), std::errc::invalid_argument);
}

TEST(SocketAddressTest, ResolvesLiteralsAndLocalhostButNeverQueriesDns) {
  std::vector<SocketAddress> found;
  ASSERT_FALSE(resolve("localhost", 80, found));
  ASSERT_FALSE(found.empty());
  for (const auto& address : found) {
    EXPECT_TRUE(address.to_string() == "127.0.0.1:80" || address.to_string() == "[::1]:80")
        << address.to_string();
  }
  const std::error_code name_error = resolve("example.com", 80, found);
  EXPECT_EQ(name_error.category(), resolve_category());
  EXPECT_FALSE(name_error.message().empty());
  EXPECT_TRUE(found.empty());
  EXPECT_TRUE(resolve("300.1.1.1", 80, found));
}

TEST(SocketTest, ListensOnIpv4AndAcceptsWithThePeerAddress) {
  UniqueFd listener = listen_or_fail(address_of("127.0.0.1", 0));
  const SocketAddress bound = bound_address(listener.get());
  EXPECT_NE(bound.port(), 0);

  UniqueFd client = connect_blocking(bound);
  SocketAddress peer;
  UniqueFd connection = accept_pending(listener.get(), &peer);
  ASSERT_TRUE(connection);
  EXPECT_EQ(peer.to_string(), bound_address(client.get()).to_string());
  SocketAddress remote;
  ASSERT_FALSE(remote_address(connection.get(), remote));
  EXPECT_EQ(remote.to_string(), peer.to_string());
  EXPECT_EQ(bound_address(connection.get()).to_string(), bound.to_string());

  // Everything made here is non-blocking and close-on-exec.
  for (int fd : {listener.get(), connection.get()}) {
    EXPECT_TRUE(has_flag(fd, F_GETFL, O_NONBLOCK));
    EXPECT_TRUE(has_flag(fd, F_GETFD, FD_CLOEXEC));
  }
  EXPECT_EQ(int_option(listener.get(), SOL_SOCKET, SO_REUSEADDR), 1);
}

TEST(SocketTest, AcceptWithNothingPendingWouldBlock) {
  UniqueFd listener = listen_or_fail(address_of("127.0.0.1", 0));
  UniqueFd connection;
  EXPECT_EQ(accept_connection(listener.get(), connection, nullptr),
            std::errc::operation_would_block);
  EXPECT_FALSE(connection);
}

TEST(SocketTest, ReusePortLetsTwoListenersShareAPort) {
  UniqueFd first = listen_or_fail(address_of("127.0.0.1", 0), {.reuse_port = true});
  const SocketAddress bound = bound_address(first.get());
  UniqueFd second;
  EXPECT_FALSE(listen_on(bound, {.reuse_port = true}, second));
  UniqueFd third;
  EXPECT_EQ(listen_on(bound, {.reuse_port = false}, third), std::errc::address_in_use);
}

TEST(SocketTest, ListensOnIpv6Loopback) {
  if (!test::ipv6_loopback_available()) GTEST_SKIP() << "::1 is not available";
  UniqueFd listener = listen_or_fail(address_of("::1", 0), {.v6_only = true});
  const SocketAddress bound = bound_address(listener.get());
  EXPECT_EQ(bound.to_string(), "[::1]:" + std::to_string(bound.port()));
  EXPECT_EQ(int_option(listener.get(), IPPROTO_IPV6, IPV6_V6ONLY), 1);

  UniqueFd client = connect_blocking(bound);
  SocketAddress peer;
  ASSERT_TRUE(accept_pending(listener.get(), &peer));
  EXPECT_EQ(peer.to_string(), bound_address(client.get()).to_string());
  // (v6_only = false is shown below: Linux marks any socket bound to a specific IPv6 address
  // such as ::1 v6-only itself, since no IPv4 packet can reach it.)
}

TEST(SocketTest, V6OnlyDecidesWhetherIpv4PeersGetIn) {
  if (!test::ipv6_loopback_available()) GTEST_SKIP() << "IPv6 is not available";
  // The IPv4-mapped form of 127.0.0.1 keeps the test on loopback: it takes IPv4 clients on a
  // dual-stack socket, and cannot be bound at all by a v6-only one.
  const SocketAddress mapped = address_of("::ffff:127.0.0.1", 0);
  UniqueFd v6_only;
  EXPECT_EQ(listen_on(mapped, {.v6_only = true}, v6_only), std::errc::invalid_argument);

  UniqueFd dual = listen_or_fail(mapped, {.v6_only = false});
  const std::uint16_t port = bound_address(dual.get()).port();
  UniqueFd client = connect_blocking(address_of("127.0.0.1", port));
  SocketAddress peer;
  ASSERT_TRUE(accept_pending(dual.get(), &peer));
  EXPECT_EQ(peer.family(), AF_INET6);
  EXPECT_EQ(peer.to_string(),
            "[::ffff:127.0.0.1]:" + std::to_string(bound_address(client.get()).port()));
}

TEST(SocketTest, ListensOnAUnixPath) {
  TempDir dir;
  const std::string path = dir.file("server.sock");
  UniqueFd listener = listen_or_fail(unix_address(path));
  EXPECT_EQ(bound_address(listener.get()).to_string(), "unix:" + path);

  UniqueFd client = connect_blocking(unix_address(path));
  SocketAddress peer;
  UniqueFd connection = accept_pending(listener.get(), &peer);
  ASSERT_TRUE(connection);
  EXPECT_EQ(peer.to_string(), "unix:");  // clients are unnamed
  EXPECT_EQ(bound_address(connection.get()).to_string(), "unix:" + path);
}

TEST(SocketTest, StaleUnixSocketFileIsReplacedOnlyWhenAllowed) {
  TempDir dir;
  const SocketAddress address = unix_address(dir.file("stale.sock"));
  listen_or_fail(address).reset();  // the process "died": the file stays behind

  UniqueFd refused;
  EXPECT_EQ(listen_on(address, {.unlink_stale_path = false}, refused), std::errc::address_in_use);
  UniqueFd replaced = listen_or_fail(address, {.unlink_stale_path = true});
  UniqueFd client = connect_blocking(address);
  EXPECT_TRUE(accept_pending(replaced.get()));
}

TEST(SocketTest, LiveUnixSocketIsNeverStolen) {
  TempDir dir;
  const SocketAddress address = unix_address(dir.file("live.sock"));
  UniqueFd owner = listen_or_fail(address);
  UniqueFd intruder;
  EXPECT_EQ(listen_on(address, {.unlink_stale_path = true}, intruder), std::errc::address_in_use);
  UniqueFd client = connect_blocking(address);
  EXPECT_TRUE(accept_pending(owner.get()));
}

TEST(SocketTest, RegularFileAtTheUnixPathIsNeverRemoved) {
  TempDir dir;
  const std::string path = dir.file("data.txt");
  std::ofstream(path) << "keep me";
  UniqueFd listener;
  EXPECT_EQ(listen_on(unix_address(path), {.unlink_stale_path = true}, listener),
            std::errc::address_in_use);
  struct stat status {};
  ASSERT_EQ(::stat(path.c_str(), &status), 0);
  EXPECT_TRUE(S_ISREG(status.st_mode));
}

TEST(SocketTest, AdoptedSocketBecomesNonBlockingAndReportsItsKind) {
  UniqueFd plain(::socket(AF_INET, SOCK_STREAM, 0));  // blocking, inheritable
  SocketInfo info;
  ASSERT_FALSE(adopt_socket(plain.get(), info));
  EXPECT_EQ(info.family, AF_INET);
  EXPECT_FALSE(info.listening);
  EXPECT_TRUE(has_flag(plain.get(), F_GETFL, O_NONBLOCK));
  EXPECT_TRUE(has_flag(plain.get(), F_GETFD, FD_CLOEXEC));

  UniqueFd listener = listen_or_fail(address_of("127.0.0.1", 0));
  ASSERT_FALSE(adopt_socket(listener.get(), info));
  EXPECT_TRUE(info.listening);

  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  UniqueFd a(pair[0]), b(pair[1]);
  ASSERT_FALSE(adopt_socket(a.get(), info));
  EXPECT_EQ(info.family, AF_UNIX);

  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  EXPECT_EQ(adopt_socket(read_end.get(), info), std::errc::not_a_socket);
}

TEST(SocketTest, TcpNoDelay) {
  UniqueFd socket(::socket(AF_INET, SOCK_STREAM, 0));
  ASSERT_FALSE(set_tcp_nodelay(socket.get()));
  EXPECT_EQ(int_option(socket.get(), IPPROTO_TCP, TCP_NODELAY), 1);
  ASSERT_FALSE(set_tcp_nodelay(socket.get(), false));
  EXPECT_EQ(int_option(socket.get(), IPPROTO_TCP, TCP_NODELAY), 0);
}

TEST(SocketTest, NonBlockingConnectSucceedsAndReportsRefusal) {
  UniqueFd listener = listen_or_fail(address_of("127.0.0.1", 0));
  const SocketAddress bound = bound_address(listener.get());
  UniqueFd client;
  bool in_progress = false;
  ASSERT_FALSE(connect_nonblocking(bound, client, in_progress));
  ASSERT_TRUE(test::wait_for(client.get(), POLLOUT));
  EXPECT_FALSE(connect_result(client.get()));
  EXPECT_TRUE(accept_pending(listener.get()));

  listener.reset();  // nobody listens on the port any more
  UniqueFd refused;
  const std::error_code error = connect_nonblocking(bound, refused, in_progress);
  if (!error) {
    ASSERT_TRUE(in_progress);
    ASSERT_TRUE(test::wait_for(refused.get(), POLLOUT));
    EXPECT_EQ(connect_result(refused.get()), std::errc::connection_refused);
  } else {
    EXPECT_EQ(error, std::errc::connection_refused);
  }
}

struct Pair {
  UniqueFd a, b;
};
Pair stream_pair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

iovec buffer_of(std::string_view text) {
  return {const_cast<char*>(text.data()), text.size()};
}

TEST(SocketIoTest, WritesBuffersInOrderAndReadsThem) {
  Pair pair = stream_pair();
  const std::vector<iovec> buffers = {buffer_of("ab"), buffer_of("cd"), buffer_of("ef")};
  const IoResult written = write_vectored(pair.a.get(), buffers);
  EXPECT_EQ(written.status, IoStatus::done);
  EXPECT_EQ(written.bytes, 6u);

  std::array<std::byte, 16> buffer{};
  const IoResult read = read_some(pair.b.get(), buffer);
  ASSERT_EQ(read.status, IoStatus::done);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(buffer.data()), read.bytes), "abcdef");
  EXPECT_EQ(read_some(pair.b.get(), buffer).status, IoStatus::would_block);
  pair.a.reset();
  EXPECT_EQ(read_some(pair.b.get(), buffer).status, IoStatus::end_of_file);
}

TEST(SocketIoTest, MoreBuffersThanIovMaxAllGoOut) {
  Pair pair = stream_pair();
  const std::string bytes(IOV_MAX + 500, 'x');
  std::vector<iovec> buffers;
  for (std::size_t i = 0; i < bytes.size(); ++i) buffers.push_back(buffer_of({&bytes[i], 1}));
  const IoResult written = write_vectored(pair.a.get(), buffers);
  EXPECT_EQ(written.status, IoStatus::done);
  EXPECT_EQ(written.bytes, bytes.size());
}

TEST(SocketIoTest, FullSocketGivesAShortWriteThenWouldBlock) {
  Pair pair = stream_pair();
  const std::string chunk(64 * 1024, 'y');
  std::size_t total = 0;
  IoResult result;
  for (int i = 0; i < 10'000; ++i) {
    const iovec buffer = buffer_of(chunk);
    result = write_vectored(pair.a.get(), {&buffer, 1});
    if (result.status != IoStatus::done || result.bytes < chunk.size()) break;
    total += result.bytes;
  }
  ASSERT_TRUE(result.status == IoStatus::would_block || result.bytes < chunk.size());
  total += result.bytes;
  const iovec buffer = buffer_of(chunk);
  const IoResult blocked = write_vectored(pair.a.get(), {&buffer, 1});
  EXPECT_EQ(blocked.status, IoStatus::would_block);
  EXPECT_EQ(blocked.bytes, 0u);
  EXPECT_GT(total, 0u);
}

TEST(SocketIoTest, WritingToAClosedPeerFailsWithEpipeInsteadOfSigpipe) {
  Pair pair = stream_pair();
  pair.b.reset();
  const iovec buffer = buffer_of("lost");
  const IoResult result = write_vectored(pair.a.get(), {&buffer, 1});  // would kill the process
  EXPECT_EQ(result.status, IoStatus::failed);                          // with SIGPIPE otherwise
  ASSERT_TRUE(result.error.has_value());
  EXPECT_EQ(*result.error, std::errc::broken_pipe);
}

}  // namespace
}  // namespace fastws::net
