// One case on one connection: the fuzzer's side of the WebSocket protocol as the official suite
// plays it, and the record the verdicts are judged from.
//
// A case script (catalogue.hpp) runs once the connection is open: it states the expected events
// and close, sends frames (any frame, valid or not), and arms the suite's timers: kill_after
// fails the connection when the peer has not closed it in time, close_after starts the closing
// handshake, continue_later runs the script's next step. Everything the peer sends is checked
// as a strict endpoint would (RFC 6455 5, RFC 7692): a violation makes the fuzzer fail the
// connection with 1002 or 1007, which the verdicts then show. Messages and pongs are recorded
// as events; pings are answered and not recorded.
//
// The same run serves both roles: as client (the fuzzer dialed the peer) frames are masked and
// the server is expected to close TCP; as server frames go out unmasked and the fuzzer closes
// TCP once the closing handshake is done.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conformance/deflate.hpp"
#include "conformance/frame_codec.hpp"
#include "conformance/peer.hpp"
#include "conformance/verdict.hpp"
#include "protocol/utf8.hpp"

namespace fastws::conformance {

using Millis = std::chrono::milliseconds;

class CaseRun {
 public:
  // `deflate`: the parameters agreed in the handshake, if permessage-deflate was. `pause`: after
  // each write of a chopped or sync frame unless the frame says otherwise.
  CaseRun(Peer& peer, std::optional<protocol::DeflateParams> deflate,
          std::chrono::microseconds pause);
  ~CaseRun();
  CaseRun(const CaseRun&) = delete;
  CaseRun& operator=(const CaseRun&) = delete;

  // ---- For case scripts ----

  // A sequence of events that earns `verdict` (the first equal one wins).
  void expect(Verdict verdict, Events events);
  void expect_close(ExpectedClose close) { expected_close_ = std::move(close); }
  // No closing handshake of our own once the events match (the case already sent a close).
  void suppress_auto_close() { suppress_close_ = true; }

  // Sends `frame` exactly as given, in any state but closed; a close frame sent this way does
  // not change the state (as the official sendFrame).
  void send_frame(const FrameSpec& frame);
  // The bytes `frame` would go out as (our mask included), for sending one frame in pieces.
  std::string encode(const FrameSpec& frame) const;
  // Raw bytes; `alone`: in a write of their own, followed by the pause.
  void send_bytes(std::string bytes, bool alone);
  // A whole message, in frames of `fragment_size` payload bytes (0: one frame); compressed
  // first when permessage-deflate was agreed.
  void send_message(std::string_view payload, bool binary, std::size_t fragment_size = 0);
  // A message compressed already, by a compressor set up as own_compression() says and fed the
  // same messages as this connection's would have been: sent as send_message would. A case that
  // sends these sends no other message (this connection's compressor does not see them).
  void send_compressed(std::string_view compressed, bool binary, std::size_t fragment_size = 0);
  // Starts the closing handshake with this close payload (any code, any reason bytes; no code:
  // an empty payload). Ignored unless the connection is open.
  void send_close(std::optional<std::uint16_t> code, std::string_view reason = {});

  void kill_after(Millis delay);
  void close_after(Millis delay);
  // Runs `step` after `delay` unless the connection is closed by then.
  void continue_later(Millis delay, std::string tag, std::function<void()> step);

  bool is_open() const noexcept { return state_ == State::open; }
  bool compressing() const noexcept { return deflate_ != nullptr; }
  // How the messages we send are compressed (only when compressing()).
  const OwnCompression& own_compression() const noexcept { return deflate_->own(); }
  void record(Event event);
  // Closes (normal code) when the events so far equal the only expected sequence.
  void finish_when_done();
  // For cases that judge the behaviour themselves (limits, compression).
  void set_behavior(Verdict verdict, std::string result);
  void set_wirelog(bool enabled) { wirelog_enabled_ = enabled; }

  // Replaces the default handling of a received message (record it, then finish_when_done).
  std::function<void(const Event&)> on_message;
  // Adjusts the verdicts after the standard judgement.
  std::function<void(Outcome&)> on_judged;

  const std::map<unsigned, std::size_t>& frames_sent() const noexcept { return frames_sent_; }

  // ---- For the runner ----

  // Marks the connection open and runs the case script.
  void open(const std::function<void(CaseRun&)>& script);
  // Drives the connection until TCP is closed (by either side); at most `limit`.
  void run_until_closed(Millis limit);
  Outcome judge() const;

  const Events& received() const noexcept { return received_; }
  const std::vector<std::pair<Verdict, Events>>& expected() const noexcept { return expected_; }
  const ExpectedClose& expected_close() const noexcept { return expected_close_; }
  const CloseRecord& close_record() const noexcept { return close_; }
  // Each entry a JSON object (frames sent and received, timers), at most max_wirelog.
  const std::vector<std::string>& wirelog() const noexcept { return wirelog_; }
  std::size_t wirelog_dropped() const noexcept { return wirelog_dropped_; }
  Millis duration() const;

  static constexpr std::size_t max_wirelog = 400;
  static constexpr std::size_t max_message_size = 64u << 20;

 private:
  enum class State { open, closing, closed };
  struct Timer {
    Clock::time_point at;
    std::uint64_t id;
    std::function<void()> fire;
  };
  struct Assembly {
    bool active = false;
    bool binary = false;
    bool compressed = false;
    std::string data;
    protocol::Utf8Validator utf8;
  };

  std::uint64_t add_timer(Millis delay, std::function<void()> fire);
  void cancel_timer(std::uint64_t& id);
  void fire_due_timers();
  void process_input();
  void handle_frame(RawFrame& frame);
  void handle_data_frame(RawFrame& frame);
  void handle_close_frame(const RawFrame& frame);
  void deliver(Event event);
  // The message's frames: `body` cut into fragment_size pieces, the first with `rsv`.
  void send_message_frames(std::string_view body, unsigned opcode, unsigned rsv,
                           std::size_t fragment_size);
  void send_close_frame(std::optional<std::uint16_t> code, std::string_view reason, bool reply);
  void fail(std::uint16_t code, std::string_view reason);
  void close_handshake_done();
  void drop();  // the fuzzer closes TCP
  void drop_unclean(std::string_view reason);
  void connection_lost();
  // Adds the JSON object `build_entry()` makes to the wire log, built only when the log takes
  // it: the 1000-message cases turn the log off, and would otherwise quote every payload.
  template <typename BuildEntry>
  void log(BuildEntry build_entry);

  Peer& peer_;
  std::unique_ptr<MessageDeflate> deflate_;
  std::chrono::microseconds pause_;
  State state_ = State::closed;
  Clock::time_point started_{};
  Clock::time_point ended_{};

  std::vector<std::pair<Verdict, Events>> expected_;
  ExpectedClose expected_close_;
  bool suppress_close_ = false;
  Events received_;
  std::optional<std::pair<Verdict, std::string>> own_behavior_;
  CloseRecord close_;

  std::vector<Timer> timers_;
  std::uint64_t next_timer_id_ = 1;
  std::uint64_t close_timeout_ = 0;  // waiting for the peer's close frame
  std::uint64_t tcp_timeout_ = 0;    // waiting for the server to close TCP
  bool drop_when_flushed_ = false;   // server role: TCP closes once the last close frame is out

  Assembly assembly_;
  bool close_received_ = false;
  bool input_broken_ = false;  // a header the fuzzer could not follow: the rest is not read
  std::map<unsigned, std::size_t> frames_sent_;
  bool wirelog_enabled_ = true;
  std::vector<std::string> wirelog_;
  std::size_t wirelog_dropped_ = 0;
};

}  // namespace fastws::conformance
