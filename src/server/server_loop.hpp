// The server's part of one event loop: the listening sockets that feed it, the sockets it
// accepts or is handed, and the watch on the server's shutdown event.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <system_error>
#include <vector>

#include "fastws/server.hpp"
#include "net/event_loop.hpp"
#include "net/listener.hpp"
#include "net/socket_address.hpp"
#include "net/tls_stream.hpp"
#include "net/unique_fd.hpp"

namespace fastws::detail {

class LoopContext;

class ServerLoop final : public net::AcceptHandler, private net::IoHandler {
 public:
  ServerLoop(Server::Impl& server, LoopContext& context) noexcept
      : server_(server), context_(context) {}
  ~ServerLoop();

  LoopContext& context() noexcept { return context_; }
  net::EventLoop& loop() noexcept;

  // Accepted sockets become connections on this loop (AcceptHandler).
  void on_accept(net::UniqueFd socket, const net::SocketAddress& peer) override;
  // Serves a socket handed over from elsewhere, with request bytes already read, over the TLS
  // session `tls` when the socket came with one (loop thread).
  void serve(net::UniqueFd socket, std::span<const std::byte> initial,
             std::unique_ptr<net::TlsStream> tls = nullptr);
  // Serves a connection whose bytes go through `transport` (loop thread).
  void serve(std::unique_ptr<Transport> transport, std::span<const std::byte> initial);
  // Listeners feeding this loop; closed when the server shuts down.
  void add_listener(std::unique_ptr<net::Listener> listener);
  // Watches the server's shutdown eventfd (written by Server::stop(), also from signal
  // handlers): when it fires, stop accepting, close everyone with 1001, then end the loop.
  std::error_code watch_shutdown(int shutdown_fd);

 private:
  void on_io(std::uint32_t events) override;  // the shutdown eventfd

  Server::Impl& server_;
  LoopContext& context_;
  std::vector<std::unique_ptr<net::Listener>> listeners_;
  int shutdown_fd_ = -1;
};

}  // namespace fastws::detail
