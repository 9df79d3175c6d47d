// A connection without a socket: its bytes come from and go to a Transport object (an Asio
// stream, ...). The state lives in Extras, so connections on sockets pay one test of their fd
// per read and write.
#include "connection/connection.hpp"
#include "connection/connection_parts.hpp"
#include "fastws/transport.hpp"
#include "net/socket.hpp"

namespace fastws::detail {

namespace {

net::IoResult io_result_of(const TransportResult& result) noexcept {
  using Status = TransportResult::Status;
  net::IoResult io;
  io.bytes = result.bytes;
  io.error = result.error;
  switch (result.status) {
    case Status::done:
      io.status = net::IoStatus::done;
      break;
    case Status::would_block:
      io.status = net::IoStatus::would_block;
      break;
    case Status::end_of_input:
      io.status = net::IoStatus::end_of_file;
      break;
    case Status::failed:
      io.status = net::IoStatus::failed;
      break;
  }
  return io;
}

}  // namespace

void Connection::start_on(std::unique_ptr<Transport> transport,
                          std::span<const std::byte> initial) {
  loop_->add_connection(*this);
  Transport& started = *transport;
  extras().transport = std::make_unique<TransportSide>(*this, std::move(transport));
  started.start(*extras_->transport);
  if (phase_ == Phase::closed) return;
  arm_phase_timer();
  take_initial_input(initial);
}

// Called only for a connection that runs on a transport (no fd of its own).
net::IoResult Connection::read_transport(std::span<std::byte> buffer) {
  return io_result_of(extras_->transport->transport().read(buffer));
}

net::IoResult Connection::write_transport(std::span<const iovec> buffers) {
  return io_result_of(extras_->transport->transport().write(buffers));
}

std::size_t Connection::unsent_output() const noexcept {
  if (fd_) {
    return net::unacknowledged_bytes(fd_.get()) +
           (loop_receives_ ? loop_->loop().unsent_stream_bytes(fd_.get()) : 0);
  }
  const Transport* outside = transport();
  return outside != nullptr ? outside->unsent() : 0;
}

}  // namespace fastws::detail
