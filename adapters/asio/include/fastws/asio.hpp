// fastws::asio: fastws inside a Boost.Asio / Boost.Beast application (CMake:
// find_package(fastws COMPONENTS asio), target fastws::asio; header-only over Boost 1.70+).
//
//   fastws::Server server({.threads = 2});
//   server.on_message([](const fastws::Conn& c, fastws::Message m) { c.send(m.data(), m.opcode());
//   }); boost::asio::io_context io; fastws::asio::run_on(server, io);  // the server's loops now
//   run on io (until server.stop())
//   ...
//   // In a Beast session that read `request` from `stream` (`buffer`: its flat_buffer):
//   if (boost::beast::websocket::is_upgrade(request) && request.target() == "/ws") {
//     fastws::asio::upgrade(server, request, std::move(stream), buffer.data());
//     return;  // the stream is fastws's now (or, when refused, answered and closed)
//   }
//   io.run();
//
// API:
//   bool run_on(Server&, io_context&, std::function<void()> on_ended = {});
//   bool run_on(Client&, io_context&, std::function<void()> on_ended = {});
//       Drives the loops (Server::external_loops(), or a Client made with
//       ClientOptions::drive_loops_externally) on the io_context: each loop on a strand of its
//       own, so an io_context run by several threads runs different loops in parallel. The
//       callbacks run on the io_context's threads, one at a time per loop; Conn works from any
//       thread. server.stop() (client.stop()) ends them like run(): close 1001 to everyone, wait
//       up to close_timeout, then `on_ended` (on an io_context thread). False when the loops run
//       already. Keep the server (client) alive until on_ended.
//   HandoverResult upgrade(Server&, const http::request_header<>& request, Stream&& stream,
//                          ConstBufferSequence leftover = {});
//       Stream: tcp::socket, beast::tcp_stream, ssl::stream<tcp::socket>, beast::ssl_stream<...>
//       (any AsyncReadStream + AsyncWriteStream over a TCP socket). The connection runs on one
//       of the server's loops on the io_context (run_on first), with the server's callbacks,
//       options (compression included), broadcast and topics. The request goes through the
//       server's own checks (RFC 6455 handshake, Origin, on_upgrade, subprotocols,
//       permessage-deflate). `leftover`: bytes the HTTP parser read past the request. When
//       refused, the response goes out through the stream, which then closes.
//   HandoverResult handover(Server&, const http::request_header<>& request, tcp::socket&&,
//                           ConstBufferSequence leftover = {});
//       The cheap path for plain TCP: the socket's fd goes to the server's own loops
//       (Server::handover), which then need run() or run_on(); when refused, the response goes
//       out through the socket, which then closes.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "fastws/client.hpp"
#include "fastws/external_loop.hpp"
#include "fastws/server.hpp"
#include "fastws/transport.hpp"

namespace fastws::asio {

namespace detail {

namespace net = ::boost::asio;

// What run_on() keeps about all the loops of one server or client.
struct Run {
  Run(std::size_t loops, std::function<void()> ended)
      : running(loops), on_ended(std::move(ended)) {}
  std::atomic<std::size_t> running;
  std::function<void()> on_ended;
};

// One fastws loop on the io_context: waits on the loop's fd and for its timers, and runs it, on
// a strand of its own. Transports of the loop's connections run their completions through it.
class LoopDriver : public std::enable_shared_from_this<LoopDriver> {
 public:
  using Strand = net::strand<net::io_context::executor_type>;

  LoopDriver(net::io_context& io, ExternalLoop loop, std::shared_ptr<Run> run)
      : strand_(net::make_strand(io)),
        loop_(std::move(loop)),
        descriptor_(io),
        timer_(io),
        run_(std::move(run)) {}
  ~LoopDriver() {
    // The fd is the loop's: never close it.
    if (descriptor_.is_open()) descriptor_.release();
  }
  LoopDriver(const LoopDriver&) = delete;
  LoopDriver& operator=(const LoopDriver&) = delete;

  void start() {
    descriptor_.assign(loop_.fd());
    loop_.set_driver(this);
    net::dispatch(strand_, [self = shared_from_this()] { self->pump(); });
  }

  // The driver of the loop the calling thread is running (inside a Transport's start()).
  static std::shared_ptr<LoopDriver> current() {
    auto* driver = static_cast<LoopDriver*>(ExternalLoop::driver_of_current_loop());
    return driver != nullptr ? driver->shared_from_this() : nullptr;
  }

  const Strand& strand() const noexcept { return strand_; }

  // On the strand: runs `handler` as part of the loop (a Transport's completion).
  template <class Handler>
  void run(Handler&& handler) {
    if (ended_) return;
    loop_.run(handler);
    if (loop_.wants_run()) post_pump();
  }

 private:
  void pump() {
    pump_posted_ = false;
    if (ended_) return;
    if (!loop_.run_ready()) {
      end();
      return;
    }
    wait();
  }

  void post_pump() {
    if (pump_posted_) return;
    pump_posted_ = true;
    net::post(strand_, [self = shared_from_this()] { self->pump(); });
  }

  // Until the loop's fd is readable (Asio re-arms the fd for each wait, so readiness left over
  // from the last run is seen at once) or its next timer is due.
  void wait() {
    if (loop_.wants_run()) {
      post_pump();
      return;
    }
    if (!fd_waiting_) {
      fd_waiting_ = true;
      descriptor_.async_wait(net::posix::stream_descriptor::wait_read,
                             net::bind_executor(strand_, [self = shared_from_this()](
                                                             const boost::system::error_code& e) {
                               self->fd_waiting_ = false;
                               if (!e) self->pump();
                             }));
    }
    const std::chrono::milliseconds limit = loop_.wait_limit();
    if (limit.count() < 0) return;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    if (timer_waiting_ && deadline >= timer_deadline_) return;  // the armed one comes first
    timer_waiting_ = true;
    timer_deadline_ = deadline;
    timer_.expires_at(deadline);  // cancels the wait armed before: it sees operation_aborted
    timer_.async_wait(net::bind_executor(
        strand_, [self = shared_from_this()](const boost::system::error_code& e) {
          if (e == net::error::operation_aborted) return;
          self->timer_waiting_ = false;
          self->pump();
        }));
  }

  void end() {
    ended_ = true;
    loop_.set_driver(nullptr);
    descriptor_.release();  // cancels the wait; the fd stays the loop's
    timer_.cancel();
    if (run_->running.fetch_sub(1, std::memory_order_acq_rel) == 1 && run_->on_ended) {
      run_->on_ended();
    }
  }

  Strand strand_;
  ExternalLoop loop_;
  net::posix::stream_descriptor descriptor_;
  net::steady_timer timer_;
  std::chrono::steady_clock::time_point timer_deadline_;
  std::shared_ptr<Run> run_;
  bool fd_waiting_ = false;
  bool timer_waiting_ = false;
  bool pump_posted_ = false;
  bool ended_ = false;
};

inline bool drive(std::vector<ExternalLoop> loops, net::io_context& io,
                  std::function<void()> on_ended) {
  if (loops.empty()) return false;
  auto run = std::make_shared<Run>(loops.size(), std::move(on_ended));
  for (ExternalLoop& loop : loops) {
    std::make_shared<LoopDriver>(io, std::move(loop), run)->start();
  }
  return true;
}

// The TCP socket at the bottom of a stream (a beast::tcp_stream's socket(), or the socket).
template <class Stream>
auto& lowest_socket(Stream& stream) {
  auto& lowest = ::boost::beast::get_lowest_layer(stream);
  if constexpr (requires { lowest.socket(); }) {
    return lowest.socket();
  } else {
    return lowest;
  }
}

inline std::error_code to_std(const boost::system::error_code& error) {
  return {error.value(), std::system_category()};
}

// The bytes of a connection through an Asio stream: async_read_some into a buffer of its own
// that the connection reads from, and async_write of what the connection writes, up to a bound
// (the connection's backlog holds the rest, under its limits). Every completion runs on the
// loop's strand, as part of the loop.
template <class Stream>
class StreamTransport final : public Transport {
 public:
  explicit StreamTransport(Stream&& stream) : state_(std::make_shared<State>(std::move(stream))) {
    // A beast::tcp_stream's own timeouts would cut the connection: fastws keeps its own.
    auto& lowest = ::boost::beast::get_lowest_layer(state_->stream);
    if constexpr (requires { lowest.expires_never(); }) lowest.expires_never();
  }
  ~StreamTransport() override { state_->close(); }

  Stream& stream() noexcept { return state_->stream; }

  void start(TransportEvents& events) override { state_->start(events); }
  TransportResult read(std::span<std::byte> buffer) override { return state_->read(buffer); }
  bool has_input() const noexcept override { return state_->has_input(); }
  TransportResult write(std::span<const iovec> buffers) override { return state_->write(buffers); }
  std::size_t unsent() const noexcept override {
    return state_->sending.size() + state_->pending.size();
  }
  void set_interest(bool input, bool output) override { state_->set_interest(input, output); }
  void shutdown_output() override { state_->shutdown_output(); }
  void close() override { state_->close(); }
  int socket() const noexcept override { return lowest_socket(state_->stream).native_handle(); }

 private:
  // Held by the pending operations too: it outlives the transport until they complete.
  struct State : std::enable_shared_from_this<State> {
    static constexpr std::size_t read_size = 64 * 1024;
    // Output taken before write() refuses more; beyond it the connection's backlog holds it.
    static constexpr std::size_t write_bound = 256 * 1024;

    explicit State(Stream&& s) : stream(std::move(s)) {}

    void start(TransportEvents& connection) {
      events = &connection;
      driver = LoopDriver::current();
      if (!driver) {
        // Not on a loop run_on() drives: nothing would ever complete.
        fail(std::make_error_code(std::errc::operation_not_supported));
        connection.readable();
        return;
      }
      input = std::make_unique<std::byte[]>(read_size);
      start_read();
    }

    TransportResult read(std::span<std::byte> buffer) {
      if (input_at < input_end) {
        const std::size_t size = std::min(buffer.size(), input_end - input_at);
        std::memcpy(buffer.data(), input.get() + input_at, size);
        input_at += size;
        // Drained: the next read goes out now, as a socket stays readable while bytes wait. The
        // connection may not call read() again before it needs more (frames it holds from this
        // read take their own turns), and would then wait for a readable() nobody sends.
        if (input_at == input_end) start_read();
        return {TransportResult::Status::done, size, {}};
      }
      if (input_ended) {
        if (!input_error) return {TransportResult::Status::end_of_input, 0, {}};
        return {TransportResult::Status::failed, 0, input_error};
      }
      start_read();
      return {TransportResult::Status::would_block, 0, {}};
    }

    bool has_input() const noexcept { return input_at < input_end; }

    TransportResult write(std::span<const iovec> buffers) {
      if (output_error) return {TransportResult::Status::failed, 0, output_error};
      std::size_t taken = 0;
      for (const iovec& buffer : buffers) {
        const std::size_t room = write_bound - std::min(write_bound, pending.size());
        const std::size_t size = std::min(room, buffer.iov_len);
        const auto* bytes = static_cast<const std::byte*>(buffer.iov_base);
        pending.insert(pending.end(), bytes, bytes + size);
        taken += size;
        if (size < buffer.iov_len) break;
      }
      if (taken == 0) return {TransportResult::Status::would_block, 0, {}};
      start_write();
      return {TransportResult::Status::done, taken, {}};
    }

    void set_interest(bool input_wanted, bool output_wanted) {
      wants_input = input_wanted;
      wants_output = output_wanted;
      if (wants_input) start_read();
    }

    void shutdown_output() {
      shutdown_after_output = true;
      if (!writing && pending.empty()) shut_output();
    }

    void close() {
      if (closed) return;
      closed = true;
      events = nullptr;
      boost::system::error_code ignored;
      lowest_socket(stream).close(ignored);  // pending operations complete, aborted
    }

    void start_read() {
      if (reading || closed || input_ended || !driver || input_at < input_end || !wants_input) {
        return;
      }
      reading = true;
      stream.async_read_some(
          net::buffer(input.get(), read_size),
          net::bind_executor(driver->strand(), [self = this->shared_from_this()](
                                                   const boost::system::error_code& e,
                                                   std::size_t size) { self->on_read(e, size); }));
    }

    void on_read(const boost::system::error_code& error, std::size_t size) {
      reading = false;
      if (closed) return;
      if (error) {
        // The peer's end, with or without TLS's close_notify, is the end of the input.
        if (error == net::error::eof || error == net::ssl::error::stream_truncated) {
          input_ended = true;
        } else {
          fail(to_std(error));
        }
      } else {
        input_at = 0;
        input_end = size;
      }
      // While the connection pauses its input, what came waits (it asks again on resuming).
      if (!wants_input) return;
      driver->run([this] {
        if (events != nullptr) events->readable();
      });
      start_read();
    }

    void start_write() {
      if (writing || pending.empty() || closed) return;
      sending.swap(pending);
      writing = true;
      net::async_write(
          stream, net::buffer(sending.data(), sending.size()),
          net::bind_executor(driver->strand(), [self = this->shared_from_this()](
                                                   const boost::system::error_code& e,
                                                   std::size_t) { self->on_written(e); }));
    }

    void on_written(const boost::system::error_code& error) {
      writing = false;
      sending.clear();
      if (closed) return;
      if (error) {
        // The connection learns from its next write, or now from its input.
        fail(to_std(error));
        driver->run([this] {
          if (events != nullptr) events->writable();
          if (events != nullptr) events->readable();
        });
        return;
      }
      start_write();
      if (!writing && shutdown_after_output) shut_output();
      if (wants_output) {
        driver->run([this] {
          if (events != nullptr) events->writable();
        });
      }
    }

    void fail(std::error_code error) {
      if (!output_error) output_error = error;
      if (!input_ended) {
        input_ended = true;
        input_error = error;
      }
    }

    void shut_output() {
      boost::system::error_code ignored;
      lowest_socket(stream).shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    }

    Stream stream;
    std::shared_ptr<LoopDriver> driver;
    TransportEvents* events = nullptr;
    std::unique_ptr<std::byte[]> input;
    std::size_t input_at = 0;
    std::size_t input_end = 0;
    std::error_code input_error;
    std::error_code output_error;
    std::vector<std::byte> sending;  // in the async_write under way
    std::vector<std::byte> pending;  // taken since
    bool input_ended = false;
    bool reading = false;
    bool writing = false;
    bool wants_input = true;
    bool wants_output = false;
    bool shutdown_after_output = false;
    bool closed = false;
  };

  std::shared_ptr<State> state_;
};

// The request head as bytes (what the server's hand-over parses), then what followed it.
template <class ConstBuffers>
std::string request_bytes(const ::boost::beast::http::request_header<>& request,
                          const ConstBuffers& leftover) {
  std::ostringstream head;
  head << request;
  std::string bytes = std::move(head).str();
  const std::size_t size = net::buffer_size(leftover);
  const std::size_t at = bytes.size();
  bytes.resize(at + size);
  net::buffer_copy(net::buffer(bytes.data() + at, size), leftover);
  return bytes;
}

// A refusal: the response goes out, then the stream closes (it is owned by the operation).
template <class Stream>
void send_refusal(Stream&& stream, std::string response) {
  struct Refusal {
    Stream stream;
    std::string response;
  };
  auto refusal = std::make_shared<Refusal>(Refusal{std::move(stream), std::move(response)});
  net::async_write(
      refusal->stream, net::buffer(refusal->response),
      [refusal](const boost::system::error_code&, std::size_t) {
        boost::system::error_code ignored;
        lowest_socket(refusal->stream).shutdown(net::ip::tcp::socket::shutdown_both, ignored);
        lowest_socket(refusal->stream).close(ignored);
      });
}

}  // namespace detail

// Drives the server's loops on `io` instead of Server::run(), each on a strand of its own;
// `on_ended` runs (on an io thread) once stop() ended them all. False when they run already.
// Keep the server alive until on_ended.
inline bool run_on(Server& server, ::boost::asio::io_context& io,
                   std::function<void()> on_ended = {}) {
  return detail::drive(server.external_loops(), io, std::move(on_ended));
}

// The same for a Client made with ClientOptions::drive_loops_externally.
inline bool run_on(Client& client, ::boost::asio::io_context& io,
                   std::function<void()> on_ended = {}) {
  return detail::drive(client.external_loops(), io, std::move(on_ended));
}

// Upgrades a request Beast has parsed on `stream` (plain or TLS; moved in) to a fastws
// connection on one of the server's loops (run_on() first): the server's checks, callbacks and
// options apply. `leftover`: bytes read past the request. When refused, the response goes out
// through the stream, which then closes.
template <class Stream, class ConstBuffers = ::boost::asio::const_buffer>
HandoverResult upgrade(Server& server, const ::boost::beast::http::request_header<>& request,
                       Stream&& stream, const ConstBuffers& leftover = {}) {
  static_assert(!std::is_lvalue_reference_v<Stream>, "move the stream in: std::move(stream)");
  auto transport = std::make_unique<detail::StreamTransport<Stream>>(std::move(stream));
  std::unique_ptr<Transport> taken = std::move(transport);
  HandoverResult result =
      server.handover(std::move(taken), detail::request_bytes(request, leftover));
  if (!result.accepted && taken) {
    auto& refused = static_cast<detail::StreamTransport<Stream>&>(*taken);
    detail::send_refusal(std::move(refused.stream()), result.response);
  }
  return result;
}

// The cheap path for plain TCP: the socket's fd goes to the server's own loops
// (Server::handover; they need run() or run_on()). When refused, the response goes out through
// the socket, which then closes.
template <class ConstBuffers = ::boost::asio::const_buffer>
HandoverResult handover(Server& server, const ::boost::beast::http::request_header<>& request,
                        ::boost::asio::ip::tcp::socket&& socket,
                        const ConstBuffers& leftover = {}) {
  const std::string bytes = detail::request_bytes(request, leftover);
  // Released only when the server takes it: a refusal is answered through the socket.
  boost::system::error_code error;
  const auto protocol = socket.local_endpoint(error).protocol();
  const int fd = socket.release();
  HandoverResult result = server.handover(fd, bytes);
  if (!result.accepted) {
    ::boost::asio::ip::tcp::socket refused(socket.get_executor(), protocol, fd);
    detail::send_refusal(std::move(refused), result.response);
  }
  return result;
}

}  // namespace fastws::asio
