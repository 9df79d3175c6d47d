#include "net/socket_io.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>

#include "net/io_fault_injection.hpp"

namespace fastws::net {

namespace {

IoResult failure() noexcept {
  if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoStatus::would_block, 0, {}};
  return {IoStatus::failed, 0, std::error_code{errno, std::system_category()}};
}

}  // namespace

IoResult read_some(int fd, std::span<std::byte> buffer) noexcept {
  if (const auto hook = testing::io_fault_hook()) [[unlikely]] {
    const testing::IoFault fault = hook(testing::IoOperation::read, fd);
    if (fault.error != 0)
      return {IoStatus::failed, 0, std::error_code{fault.error, std::system_category()}};
    buffer = buffer.first(std::min(buffer.size(), fault.max_bytes));
  }
  for (;;) {
    // recv(), not read(): every fd here is a socket (writes use send()), and recv() goes to the
    // socket directly where read() passes the VFS layer first (vfs_read was 1.5% of a ping-pong
    // echo server's CPU under perf).
    const ssize_t received = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (received > 0) return {IoStatus::done, static_cast<std::size_t>(received), {}};
    if (received == 0) return {buffer.empty() ? IoStatus::done : IoStatus::end_of_file, 0, {}};
    if (errno != EINTR) return failure();
  }
}

IoResult write_some(int fd, std::span<const std::byte> bytes) noexcept {
  if (testing::io_fault_hook()) [[unlikely]] {
    const iovec buffer{const_cast<std::byte*>(bytes.data()), bytes.size()};
    return write_vectored(fd, {&buffer, 1});  // which applies the fault
  }
  for (;;) {
    const ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent >= 0) return {IoStatus::done, static_cast<std::size_t>(sent), {}};
    if (errno != EINTR) return failure();
  }
}

IoResult write_vectored(int fd, std::span<const iovec> buffers) noexcept {
  std::array<iovec, 4> shortened;
  if (const auto hook = testing::io_fault_hook()) [[unlikely]] {
    const testing::IoFault fault = hook(testing::IoOperation::write, fd);
    if (fault.error != 0)
      return {IoStatus::failed, 0, std::error_code{fault.error, std::system_category()}};
    buffers = testing::first_bytes(buffers, fault.max_bytes, shortened);
  }
  std::size_t total = 0;
  while (!buffers.empty()) {
    const std::size_t count = std::min<std::size_t>(buffers.size(), IOV_MAX);
    ssize_t sent = 0;
    if (count == 1) {
      // The common case (a ping-pong reply, a corked batch): send() skips sendmsg's copying
      // and checking of the message header and the iovec array in the kernel.
      sent = ::send(fd, buffers[0].iov_base, buffers[0].iov_len, MSG_NOSIGNAL);
    } else {
      msghdr message{};
      // sendmsg takes a non-const iovec* but does not write through it.
      message.msg_iov = const_cast<iovec*>(buffers.data());
      message.msg_iovlen = count;
      sent = ::sendmsg(fd, &message, MSG_NOSIGNAL);
    }
    if (sent < 0) {
      if (errno == EINTR) continue;
      // Bytes already sent count as success; the error will show again on the next write.
      if (total > 0) return {IoStatus::done, total, {}};
      return failure();
    }
    total += static_cast<std::size_t>(sent);
    std::size_t offered = 0;
    for (std::size_t i = 0; i < count; ++i) offered += buffers[i].iov_len;
    // Short: the socket buffer is full, another call would only say EAGAIN.
    if (static_cast<std::size_t>(sent) < offered) break;
    buffers = buffers.subspan(count);
  }
  return {IoStatus::done, total, {}};
}

}  // namespace fastws::net
