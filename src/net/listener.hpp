// Accepts connections on one listening socket for one event loop.
//
// Two ways to spread connections over N loops:
//   - TCP: one listening socket per loop, all bound with ListenOptions::reuse_port; the kernel
//     balances, and each loop accepts its own connections without any cross-thread step.
//   - Unix sockets (no SO_REUSEPORT balancing) or one adopted socket: a single Listener whose
//     handler is an AcceptDistributor (accept_distributor.hpp) handing connections round-robin.
//
// Running out of descriptors (EMFILE, ENFILE) or memory is the classic way to make a
// level-triggered listener spin at 100% CPU: the connection stays pending, epoll keeps
// reporting it, accept keeps failing. The listener instead stops watching the socket for
// `retry_delay` (connections wait in the kernel backlog meanwhile) and tries again.
//
// On io_uring the loop accepts (one multishot accept: no readiness report, no accept() per
// connection, and none that finds the backlog empty); each connection comes with its own
// completion, as they arrive, so accepts_per_event does not apply. Errors and pauses are the same.
//
// Threading: a Listener belongs to its loop thread (start() may also run before the loop does).
// A handler may stop() the listener from on_accept() but must not destroy it there.
#pragma once

#include <chrono>
#include <cstddef>
#include <system_error>

#include "net/event_loop.hpp"
#include "net/socket_address.hpp"
#include "net/timer_wheel.hpp"
#include "net/unique_fd.hpp"

namespace fastws::net {

// Receives accepted connections, on the listener's loop thread. An interface rather than a
// std::function: nothing is allocated per connection to call it.
class AcceptHandler {
 public:
  // `connection` is non-blocking and close-on-exec.
  virtual void on_accept(UniqueFd connection, const SocketAddress& peer) = 0;
  // accept() failed in a way that pauses the listener for retry_delay: descriptor or memory
  // exhaustion (EMFILE, ENFILE, ENOBUFS, ENOMEM) or a broken listening socket. Errors that
  // concern only the connection being accepted (ECONNABORTED, ...) are skipped silently.
  virtual void on_accept_error(std::error_code error);

 protected:
  ~AcceptHandler() = default;
};

struct ListenerOptions {
  // TCP connections get TCP_NODELAY: WebSocket frames are small and latency matters.
  bool tcp_nodelay = true;
  // Connections accepted per readiness event (epoll); the socket stays level-triggered, so the
  // rest are taken on the next iteration, after the loop served its established connections.
  std::size_t accepts_per_event = 128;
  // Pause after an accept error that would otherwise repeat at once.
  std::chrono::milliseconds retry_delay{100};
};

class Listener final : private ListenHandler, private TimerNode {
 public:
  // `socket` comes from listen_on() or adopt_socket(); `loop` and `handler` must outlive this.
  Listener(EventLoop& loop, UniqueFd socket, AcceptHandler& handler,
           const ListenerOptions& options = {});
  // Stops accepting; the listening socket is closed.
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Registers with the loop; connections are accepted from the next iteration on.
  std::error_code start();
  // Unregisters (pending connections stay in the kernel backlog until the socket closes).
  void stop();

  int fd() const noexcept { return socket_.get(); }
  // True while waiting out retry_delay after an accept error.
  bool paused() const noexcept { return paused_; }

 private:
  void on_io(std::uint32_t events) override;
  void on_accepted(UniqueFd connection) override;
  void on_accept_failed(std::error_code error) override;
  void on_timer() override;
  // Returns false when accepting must pause.
  bool accept_one();
  // Hands an accepted connection to the handler.
  void take(UniqueFd connection, const SocketAddress& peer);
  void pause(std::error_code error);

  EventLoop& loop_;
  UniqueFd socket_;
  AcceptHandler& handler_;
  ListenerOptions options_;
  bool registered_ = false;
  bool paused_ = false;
};

}  // namespace fastws::net
