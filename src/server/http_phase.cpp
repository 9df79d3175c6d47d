// The HTTP phase of a connection: request heads, the upgrade handshake, plain requests.
#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include "connection/connection.hpp"
#include "connection/connection_parts.hpp"
#include "connection/user_handler.hpp"
#include "protocol/handshake_server.hpp"
#include "protocol/http_parser.hpp"
#include "protocol/permessage_deflate.hpp"
#include "server/origin_policy.hpp"
#include "server/server_impl.hpp"

namespace fastws::detail {

namespace {

std::span<const std::byte> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

// Most requests have far fewer; the limit (ServerOptions has none, HttpLimits' default is 100)
// makes a flood of header lines a 431 without any allocation.
constexpr std::size_t max_request_headers = 100;

}  // namespace

std::size_t Connection::process_http(std::span<std::byte> input) {
  const std::string_view text(reinterpret_cast<const char*>(input.data()), input.size());
  if (HeldInput* held_input = this->held_input()) {
    // Bytes from earlier reads come first: the new ones go behind them.
    HeldInput& held = *held_input;
    held.bytes.erase(0, held.start);
    held.start = 0;
    held.bytes.append(text);
    held.head_incomplete = false;
    answer_held_requests();
    return input.size();
  }
  // Requests that arrived whole (the common case) are answered in place, one after another.
  const protocol::HttpLimits limits{loop_->endpoint().settings.max_header_size,
                                    max_request_headers};
  protocol::HeadScanner scanner(limits);
  const AnswerProgress progress = answer_requests(text, scanner);
  if (phase_ != Phase::http || progress.used == input.size()) return progress.used;
  auto held = std::make_unique<HeldInput>();
  held->bytes.assign(text.substr(progress.used));
  held->scanner = scanner;
  held->head_incomplete = progress.head_incomplete;
  keep_held_input(std::move(held));
  return input.size();
}

Connection::AnswerProgress Connection::answer_requests(std::string_view data,
                                                       protocol::HeadScanner& scanner) {
  // The count lives in an 8-bit field of the connection.
  const std::size_t requests_per_turn =
      std::clamp<std::size_t>(Server::Impl::of(*loop_).options.http_requests_per_turn, 1,
                              std::numeric_limits<decltype(requests_this_turn_)>::max());
  std::size_t used = 0;
  while (phase_ == Phase::http && used < data.size()) {
    const std::string_view rest = data.substr(used);
    const protocol::HeadParseResult scan = scanner.scan(rest);
    if (scan.partial()) return {used, true};
    if (scan.failed()) {
      refuse(scan.http_status, scan.error);
      return {data.size(), false};
    }
    // A whole request: answered now unless the turn has answered its share, or the peer is not
    // taking the answers (then it waits until the backlog is written out).
    if (requests_this_turn_ >= requests_per_turn || output_over_limit()) return {used, false};
    ++requests_this_turn_;
    used += handle_request_head(rest.substr(0, scan.consumed));
    scanner.reset();
  }
  return {used, false};
}

void Connection::answer_held_requests() {
  // Owned here while the requests are answered: their views point into the bytes, which a
  // callback that ends the connection (finish() drops held input) must not free.
  std::unique_ptr<HeldInput> held = take_held_input();
  const TakenInput taken(*this);
  const AnswerProgress progress =
      answer_requests(std::string_view(held->bytes).substr(held->start), held->scanner);
  held->start += progress.used;
  held->head_incomplete = progress.head_incomplete;
  if (held->start == held->bytes.size()) return;
  if (phase_ == Phase::http) {
    keep_held_input(std::move(held));
  } else if (phase_ == Phase::websocket) {
    // Frames that came behind the upgrade request.
    process_input(std::as_writable_bytes(std::span(held->bytes).subspan(held->start)));
  }
}

std::size_t Connection::handle_request_head(std::string_view head) {
  std::array<HttpHeader, max_request_headers> storage;
  Request request;
  const protocol::HttpLimits limits{loop_->endpoint().settings.max_header_size,
                                    max_request_headers};
  protocol::HeadParseResult parsed = protocol::parse_request_head(head, request, storage, limits);
  if (!parsed.complete()) {
    refuse(parsed.failed() ? parsed.http_status : 400, parsed.error);
    return head.size();
  }
  if (protocol::is_websocket_upgrade(request)) {
    upgrade(request);
  } else {
    serve_http(request);
  }
  return parsed.consumed;
}

void Connection::upgrade(const Request& request) {
  Server::Impl& server = Server::Impl::of(*loop_);
  const ServerOptions& options = server.options;
  protocol::UpgradeCheck check = protocol::check_upgrade_request(request);
  if (!check.ok()) {
    std::string response;
    protocol::append_rejection(response, check);
    send_refusal(response);
    return;
  }
  if (!check.origin.empty() &&
      !origin_allowed(options.origin, check.origin, request.header("host"))) {
    refuse(403, "origin not allowed");
    return;
  }

  Upgrade decision;
  decision.offered_.assign(check.subprotocols.begin(), check.subprotocols.end());
  decision.subprotocol_ = protocol::choose_subprotocol(options.subprotocols, check.subprotocols);
  if (server.on_upgrade) {
    const RequestScope scope(*loop_, *this, request);
    if (auto thrown = call_user_handler([&] { server.on_upgrade(request, decision); })) {
      handler_threw("on_upgrade", *thrown);
      return;
    }
  }
  if (decision.rejected()) {
    std::string response;
    if (!protocol::append_rejection(response, decision.status_, decision.body_,
                                    decision.headers_)) {
      protocol::append_rejection(response, 500, "invalid rejection from on_upgrade");
    }
    send_refusal(response);
    return;
  }

  std::optional<protocol::DeflateParams> deflate;
  std::string extensions;
  if (options.compression.enabled && !check.extensions.empty()) {
    deflate =
        protocol::negotiate_deflate_offer(check.extensions, server.deflate_config, extensions);
  }
  std::string response;
  if (!protocol::append_switching_protocols(response, check.key, decision.subprotocol_, extensions,
                                            decision.headers_)) {
    refuse(500, "on_upgrade added an invalid header");
    return;
  }
  write_raw(bytes_of(response));
  // The session keeps the answer interned (Conn::extensions() reports it): a copy per connection
  // cost an Extras and the string, about 450 bytes of each compressed connection.
  open_websocket(protocol::Session(server.session_config, deflate, extensions),
                 std::move(decision.subprotocol_), std::string(), std::move(decision.user_data_),
                 &request);
}

void Connection::serve_http(const Request& request) {
  Server::Impl& server = Server::Impl::of(*loop_);
  // RFC 7230 5.4: an HTTP/1.1 request carries exactly one Host (HTTP/1.0 at most one).
  const std::size_t hosts = request.header_count("host");
  if (hosts > 1 || (request.minor_version() >= 1 && hosts == 0)) {
    refuse(400, "exactly one Host header is required");
    return;
  }
  // Request bodies are not served; refusing is safer than misreading a body as the next request.
  if (!request.header("content-length").empty() && request.header("content-length") != "0") {
    refuse(413, "request bodies are not supported");
    return;
  }
  if (!request.header("transfer-encoding").empty()) {
    refuse(501, "transfer codings are not supported");
    return;
  }
  Response response;
  if (server.on_http) {
    const RequestScope scope(*loop_, *this, request);
    if (auto thrown = call_user_handler([&] { server.on_http(request, response); })) {
      handler_threw("on_http", *thrown);
      return;
    }
  }
  if (!response.sent()) response.send(404, "text/plain", "not found\n");
  const bool keep_alive = request.keep_alive() && !response.close_;

  std::string out = "HTTP/1.1 " + std::to_string(response.status_) + " ";
  out += protocol::reason_phrase(response.status_);
  out += "\r\n";
  if (protocol::check_user_headers(response.headers_, protocol::UserHeaderRules::rejection)) {
    refuse(500, "on_http added an invalid header");
    return;
  }
  for (const auto& [name, value] : response.headers_) protocol::append_field(out, name, value);
  protocol::append_field(out, "Content-Type", response.content_type_);
  protocol::append_field(out, "Content-Length", std::to_string(response.body_.size()));
  if (!keep_alive) protocol::append_field(out, "Connection", "close");
  out += "\r\n";
  if (request.method() != "HEAD") out += response.body_;
  write_raw(bytes_of(out));

  if (keep_alive) {
    opened_http_request_ = true;
    arm_phase_timer();
  } else {
    begin_drain();
  }
}

void Connection::refuse(int status, std::string_view reason) {
  std::string response;
  if (!protocol::append_rejection(response, status, std::string(reason) + "\n")) {
    protocol::append_rejection(response, 400, "bad request\n");
  }
  send_refusal(response);
}

void Connection::send_refusal(std::string_view response) {
  // Connection: close is in the response; nothing pipelined behind the request is parsed.
  write_raw(bytes_of(response));
  extras().close_status = CloseStatus{close_code::abnormal, {}, "upgrade refused"};
  begin_drain();
}

}  // namespace fastws::detail

namespace fastws {

std::size_t Server::Impl::opening_input(detail::Connection& connection,
                                        std::span<std::byte> input) {
  return connection.process_http(input);
}

}  // namespace fastws
