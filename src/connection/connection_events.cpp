#include "fastws/connection_events.hpp"

#include <utility>

#include "connection/endpoint.hpp"

namespace fastws {

void ConnectionEvents::on_open(std::function<void(const Conn&)> handler) {
  endpoint_.handlers.open = std::move(handler);
}
void ConnectionEvents::on_message(std::function<void(const Conn&, Message)> handler) {
  endpoint_.handlers.message = std::move(handler);
}
void ConnectionEvents::on_fragment(
    std::function<void(const Conn&, Opcode, std::span<const std::byte>, bool, bool)> handler) {
  endpoint_.handlers.fragment = std::move(handler);
}
void ConnectionEvents::on_ping(
    std::function<void(const Conn&, std::span<const std::byte>)> handler) {
  endpoint_.handlers.ping = std::move(handler);
}
void ConnectionEvents::on_pong(
    std::function<void(const Conn&, std::span<const std::byte>)> handler) {
  endpoint_.handlers.pong = std::move(handler);
}
void ConnectionEvents::on_close(std::function<void(const Conn&, const CloseStatus&)> handler) {
  endpoint_.handlers.close = std::move(handler);
}
void ConnectionEvents::on_error(std::function<void(const Conn&, const CloseStatus&)> handler) {
  endpoint_.handlers.error = std::move(handler);
}
void ConnectionEvents::on_frame(std::function<void(const Conn&, const Frame&)> handler) {
  // Raw mode: every frame goes to the handler instead of the default handling.
  endpoint_.session_config.raw_frames = static_cast<bool>(handler);
  endpoint_.handlers.frame = std::move(handler);
}
void ConnectionEvents::on_drain(std::function<void(const Conn&)> handler) {
  endpoint_.handlers.drain = std::move(handler);
}

}  // namespace fastws
