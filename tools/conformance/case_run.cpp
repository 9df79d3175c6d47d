#include "conformance/case_run.hpp"

#include <poll.h>

#include <algorithm>

#include "conformance/json.hpp"
#include "protocol/close_payload.hpp"

namespace fastws::conformance {

namespace {

// The official suite's timeouts: the peer answers our close frame within a second, and a
// server closes TCP within a second of the closing handshake.
constexpr Millis close_handshake_timeout{1000};
constexpr Millis server_drop_timeout{1000};

bool is_reserved_opcode(unsigned opcode) {
  return (opcode >= 3 && opcode <= 7) || opcode >= 11;
}

std::string close_payload(std::optional<std::uint16_t> code, std::string_view reason) {
  std::string payload;
  if (code) {
    payload += static_cast<char>(*code >> 8);
    payload += static_cast<char>(*code & 0xFFu);
  }
  payload += reason;
  return payload;
}

}  // namespace

template <typename BuildEntry>
void CaseRun::log(BuildEntry build_entry) {
  if (!wirelog_enabled_) return;
  if (wirelog_.size() >= max_wirelog) {
    ++wirelog_dropped_;
    return;
  }
  std::string entry = build_entry();
  const auto at = std::chrono::duration_cast<Millis>(Clock::now() - started_).count();
  entry.insert(1, "\"t\": " + std::to_string(at) + ", ");
  wirelog_.push_back(std::move(entry));
}

CaseRun::CaseRun(Peer& peer, std::optional<protocol::DeflateParams> deflate,
                 std::chrono::microseconds pause)
    : peer_(peer), pause_(pause) {
  if (deflate) deflate_ = std::make_unique<MessageDeflate>(*deflate, peer.role());
}

CaseRun::~CaseRun() = default;

void CaseRun::expect(Verdict verdict, Events events) {
  expected_.emplace_back(verdict, std::move(events));
}

std::string CaseRun::encode(const FrameSpec& frame) const {
  return encode_frame(frame, peer_.next_mask());
}

void CaseRun::send_frame(const FrameSpec& frame) {
  if (state_ == State::closed) return;
  ++frames_sent_[frame.opcode];
  log([&] {
    return JsonObject()
        .text("type", "TF")
        .number("opcode", frame.opcode)
        .boolean("fin", frame.fin)
        .number("rsv", frame.rsv)
        .number("length", static_cast<std::int64_t>(frame.payload.size()))
        .text("payload", log_data(frame.payload))
        .number("chop", static_cast<std::int64_t>(frame.chop))
        .boolean("sync", frame.sync)
        .str();
  });
  std::string wire = encode(frame);
  const auto pause = frame.pause.value_or(pause_);
  if (frame.chop == 0) {
    peer_.queue(std::move(wire), frame.sync, pause);
    return;
  }
  for (std::size_t at = 0; at < wire.size(); at += frame.chop) {
    peer_.queue(wire.substr(at, frame.chop), true, pause);
  }
}

void CaseRun::send_bytes(std::string bytes, bool alone) {
  if (state_ == State::closed) return;
  log([&] {
    return JsonObject()
        .text("type", "TO")
        .number("length", static_cast<std::int64_t>(bytes.size()))
        .text("data", log_data(bytes))
        .str();
  });
  peer_.queue(std::move(bytes), alone, pause_);
}

void CaseRun::send_message(std::string_view payload, bool binary, std::size_t fragment_size) {
  const unsigned opcode = binary ? 2 : 1;
  if (!deflate_) {
    send_message_frames(payload, opcode, 0, fragment_size);
    return;
  }
  std::string body;
  if (!deflate_->compress(payload, body)) {
    fail(1011, "the fuzzer could not compress a message");
    return;
  }
  send_message_frames(body, opcode, 4, fragment_size);
}

void CaseRun::send_compressed(std::string_view compressed, bool binary, std::size_t fragment_size) {
  send_message_frames(compressed, binary ? 2 : 1, 4, fragment_size);
}

void CaseRun::send_message_frames(std::string_view body, unsigned opcode, unsigned rsv,
                                  std::size_t fragment_size) {
  if (fragment_size == 0 || body.size() <= fragment_size) {
    send_frame({.opcode = opcode, .fin = true, .rsv = rsv, .payload = std::string(body)});
    return;
  }
  for (std::size_t at = 0; at < body.size(); at += fragment_size) {
    const bool first = at == 0;
    send_frame({.opcode = first ? opcode : 0,
                .fin = at + fragment_size >= body.size(),
                .rsv = first ? rsv : 0,
                .payload = std::string(body.substr(at, fragment_size))});
  }
}

void CaseRun::send_close(std::optional<std::uint16_t> code, std::string_view reason) {
  send_close_frame(code, reason, false);
}

void CaseRun::send_close_frame(std::optional<std::uint16_t> code, std::string_view reason,
                               bool reply) {
  if (state_ != State::open) return;  // one close frame per connection from this side
  send_frame({.opcode = 8, .payload = close_payload(code, reason)});
  state_ = State::closing;
  close_.closed_by_me = !reply;
  close_.local_code = code;
  close_.local_reason = log_data(reason, 125);
  if (reply) return;
  close_timeout_ = add_timer(close_handshake_timeout, [this] {
    drop_unclean(
        "WebSocket closing handshake timeout (peer did not finish the closing handshake "
        "in time)");
  });
}

void CaseRun::kill_after(Millis delay) {
  log([&] { return JsonObject().text("type", "KL").number("delay_ms", delay.count()).str(); });
  add_timer(delay, [this] {
    log([&] { return JsonObject().text("type", "KLE").str(); });
    fail(1001, "going away");
  });
}

void CaseRun::close_after(Millis delay) {
  log([&] { return JsonObject().text("type", "TI").number("delay_ms", delay.count()).str(); });
  add_timer(delay, [this] {
    log([&] { return JsonObject().text("type", "TIE").str(); });
    send_close(std::nullopt);
  });
}

void CaseRun::continue_later(Millis delay, std::string tag, std::function<void()> step) {
  log([&] {
    return JsonObject().text("type", "CT").number("delay_ms", delay.count()).text("tag", tag).str();
  });
  add_timer(delay, [this, tag, step = std::move(step)] {
    log([&] { return JsonObject().text("type", "CTE").text("tag", tag).str(); });
    step();
  });
}

void CaseRun::record(Event event) {
  received_.push_back(std::move(event));
}

void CaseRun::finish_when_done() {
  for (const auto& [verdict, events] : expected_) {
    if (events != received_) return;
  }
  if (expected_close_.closed_by_me && !suppress_close_) {
    send_close(expected_close_.codes.empty() ? std::optional<std::uint16_t>{}
                                             : expected_close_.codes.front());
  }
}

void CaseRun::set_behavior(Verdict verdict, std::string result) {
  own_behavior_.emplace(verdict, std::move(result));
}

void CaseRun::open(const std::function<void(CaseRun&)>& script) {
  state_ = State::open;
  close_.was_open = true;
  started_ = Clock::now();
  script(*this);
}

std::uint64_t CaseRun::add_timer(Millis delay, std::function<void()> fire) {
  const std::uint64_t id = next_timer_id_++;
  timers_.push_back({Clock::now() + delay, id, std::move(fire)});
  return id;
}

void CaseRun::cancel_timer(std::uint64_t& id) {
  std::erase_if(timers_, [id](const Timer& timer) { return timer.id == id; });
  id = 0;
}

void CaseRun::fire_due_timers() {
  while (state_ != State::closed) {
    const auto now = Clock::now();
    auto due = std::min_element(timers_.begin(), timers_.end(),
                                [](const Timer& a, const Timer& b) { return a.at < b.at; });
    if (due == timers_.end() || due->at > now) return;
    auto fire = std::move(due->fire);
    timers_.erase(due);
    fire();
  }
}

void CaseRun::run_until_closed(Millis limit) {
  const auto give_up = Clock::now() + limit;
  while (state_ != State::closed) {
    fire_due_timers();
    if (state_ == State::closed) break;
    if (peer_.has_output() && peer_.flush() == Peer::Io::closed) {
      // The peer is gone; what it sent before going is still to be read.
      peer_.read_available();
      process_input();
      connection_lost();
      break;
    }
    if (drop_when_flushed_ && !peer_.has_output()) {
      drop();
      break;
    }
    const auto now = Clock::now();
    if (now >= give_up) {
      drop_unclean("the case ran past its time limit");
      break;
    }
    auto wake = give_up;
    for (const Timer& timer : timers_) wake = std::min(wake, timer.at);
    short events = POLLIN;
    if (peer_.has_output()) {
      if (peer_.next_write_time() <= now) {
        events |= POLLOUT;
      } else {
        wake = std::min(wake, peer_.next_write_time());
      }
    }
    const short ready =
        peer_.wait(events, std::chrono::duration_cast<std::chrono::nanoseconds>(wake - now));
    if ((ready & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const Peer::Io io = peer_.read_available();
      process_input();
      if (io == Peer::Io::closed) connection_lost();
    }
  }
  if (ended_ == Clock::time_point{}) ended_ = Clock::now();
}

void CaseRun::process_input() {
  while (state_ != State::closed && !input_broken_) {
    RawFrame frame;
    std::size_t consumed = 0;
    std::size_t wanted = 0;
    const FrameRead read = read_frame(peer_.input(), max_message_size, frame, consumed, wanted);
    if (read == FrameRead::need_more) {
      if (wanted > peer_.input().size()) peer_.reserve_input(wanted);
      return;
    }
    if (read == FrameRead::too_large) {
      input_broken_ = true;  // the stream cannot be followed past this header
      fail(1009, "frame larger than the fuzzer accepts");
      return;
    }
    peer_.consume_input(consumed);
    handle_frame(frame);
  }
}

void CaseRun::handle_frame(RawFrame& frame) {
  log([&] {
    return JsonObject()
        .text("type", "RF")
        .number("opcode", frame.opcode)
        .boolean("fin", frame.fin)
        .number("rsv", frame.rsv)
        .boolean("masked", frame.masked)
        .number("length", static_cast<std::int64_t>(frame.payload.size()))
        .text("payload", log_data(frame.payload))
        .str();
  });
  if (close_received_) return;  // nothing may follow a close frame (RFC 6455 5.5.1)
  const bool peer_is_client = peer_.role() == PeerRole::server;
  if (frame.masked != peer_is_client) {
    fail(1002, peer_is_client ? "unmasked frame from the client" : "masked frame from the server");
    return;
  }
  const bool control = frame.opcode >= 8;
  const bool message_start = frame.opcode == 1 || frame.opcode == 2;
  const unsigned allowed_rsv = deflate_ && message_start ? 4u : 0u;
  if ((frame.rsv & ~allowed_rsv) != 0) {
    fail(1002, "RSV bits set that no negotiated extension defines");
    return;
  }
  if (is_reserved_opcode(frame.opcode)) {
    fail(1002, "reserved opcode");
    return;
  }
  if (control && (!frame.fin || frame.payload.size() > 125)) {
    fail(1002, frame.fin ? "control frame payload over 125 bytes" : "fragmented control frame");
    return;
  }
  switch (frame.opcode) {
    case 8:
      handle_close_frame(frame);
      return;
    case 9:
      if (state_ == State::open) send_frame({.opcode = 10, .payload = frame.payload});
      return;
    case 10:
      deliver(Event::pong(std::move(frame.payload)));
      return;
    default:
      handle_data_frame(frame);
  }
}

void CaseRun::handle_data_frame(RawFrame& frame) {
  Assembly& message = assembly_;
  if (frame.opcode == 0) {
    if (!message.active) {
      fail(1002, "continuation frame without a message to continue");
      return;
    }
  } else {
    if (message.active) {
      fail(1002, "new message inside a fragmented message");
      return;
    }
    message.active = true;
    message.binary = frame.opcode == 2;
    message.compressed = (frame.rsv & 4u) != 0;
    message.data.clear();
    message.utf8.reset();
  }
  const std::size_t before = message.data.size();
  if (message.compressed) {
    const auto status =
        deflate_->decompress(frame.payload, frame.fin, message.data, max_message_size);
    if (status != protocol::Inflater::Status::ok) {
      if (status == protocol::Inflater::Status::too_big) {
        fail(1009, "message larger than the fuzzer accepts");
      } else {
        fail(1007, "invalid compressed data");
      }
      return;
    }
  } else {
    if (message.data.size() + frame.payload.size() > max_message_size) {
      fail(1009, "message larger than the fuzzer accepts");
      return;
    }
    message.data.append(frame.payload);
  }
  if (!message.binary &&
      !message.utf8.feed(reinterpret_cast<const std::byte*>(message.data.data()) + before,
                         message.data.size() - before)) {
    fail(1007, "invalid UTF-8 in a text message");
    return;
  }
  if (!frame.fin) return;
  if (!message.binary && !message.utf8.at_boundary()) {
    fail(1007, "text message ending inside a code point");
    return;
  }
  Event event{Event::Kind::message, std::move(message.data), message.binary};
  message = Assembly{};
  deliver(std::move(event));
}

void CaseRun::handle_close_frame(const RawFrame& frame) {
  const std::string_view payload = frame.payload;
  if (payload.size() == 1) {
    fail(1002, "close frame with a 1-byte payload");
    return;
  }
  std::optional<std::uint16_t> code;
  std::string_view reason;
  if (payload.size() >= 2) {
    code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                      static_cast<unsigned char>(payload[1]));
    reason = payload.substr(2);
  }
  if (code && !protocol::is_valid_wire_close_code(*code)) {
    fail(1002, "invalid close code " + std::to_string(*code));
    return;
  }
  if (!protocol::is_valid_utf8(reason)) {
    fail(1007, "close reason is not UTF-8");
    return;
  }
  close_received_ = true;
  close_.remote_code = code;
  close_.remote_reason = std::string(reason);
  if (state_ == State::open) send_close_frame(1000, {}, true);
  close_handshake_done();
}

void CaseRun::close_handshake_done() {
  if (close_timeout_ != 0) cancel_timer(close_timeout_);
  close_.was_clean = true;
  if (peer_.role() == PeerRole::server) {
    drop_when_flushed_ = true;  // the server closes TCP (RFC 6455 7.1.1)
    return;
  }
  tcp_timeout_ = add_timer(server_drop_timeout, [this] {
    drop_unclean(
        "WebSocket closing handshake timeout (server did not drop TCP connection in time)");
  });
}

void CaseRun::deliver(Event event) {
  if (event.kind == Event::Kind::message && on_message) {
    on_message(event);
    return;
  }
  record(std::move(event));
  finish_when_done();
}

void CaseRun::fail(std::uint16_t code, std::string_view reason) {
  if (state_ == State::closed) return;
  log([&] {
    return JsonObject().text("type", "FAIL").number("code", code).text("reason", reason).str();
  });
  close_.failed_by_me = true;
  if (state_ == State::open) {
    send_close_frame(code, reason.substr(0, 123), false);
  } else {
    drop();  // a second violation during the closing handshake
  }
}

void CaseRun::drop() {
  if (state_ == State::closed) return;
  close_.dropped_by_me = true;
  state_ = State::closed;
  ended_ = Clock::now();
  peer_.drop();
}

void CaseRun::drop_unclean(std::string_view reason) {
  if (state_ == State::closed) return;
  close_.was_clean = false;
  close_.not_clean_reason = reason;
  drop();
}

void CaseRun::connection_lost() {
  if (state_ == State::closed) return;
  if (!close_.was_clean && close_.not_clean_reason.empty()) {
    close_.not_clean_reason =
        "peer dropped the TCP connection without previous WebSocket closing handshake";
  }
  state_ = State::closed;
  ended_ = Clock::now();
  peer_.drop();
}

Millis CaseRun::duration() const {
  return std::chrono::duration_cast<Millis>(ended_ - started_);
}

Outcome CaseRun::judge() const {
  Outcome outcome;
  if (own_behavior_) {
    outcome.behavior = own_behavior_->first;
    outcome.result = own_behavior_->second;
  }
  conformance::judge(expected_, received_, expected_close_, close_,
                     peer_.role() == PeerRole::client, outcome);
  if (on_judged) on_judged(outcome);
  return outcome;
}

}  // namespace fastws::conformance
