// The well-behaved client beside every attack: one WebSocket connection that sends a 64-byte
// text message every 10-100 ms (uniformly at random) and waits for the reply. Each round trip is
// recorded with the time it was sent; a reply that does not come within 2 s, a wrong reply or a
// lost connection is a failure (and the client connects again).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ws_peer.hpp"

namespace fastws::attack {

// How to talk to the server the attack runs against.
struct ClientProtocol {
  std::string path = "/";
  std::string setup;   // sent once after each upgrade ("join wb"); its one reply is awaited
  std::string prefix;  // starts every message ("say ")
  enum class Reply {
    echo,      // the message itself, byte for byte
    contains,  // any text holding the message's numbered token (a chat line quoting it)
    any,       // any data message (a help line)
  } reply = Reply::echo;
};

struct RoundTrips {
  std::size_t samples = 0;
  std::size_t failures = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  std::string first_failure;
};

class WellBehavedClient {
 public:
  static constexpr std::size_t message_size = 64;
  static constexpr auto reply_timeout = std::chrono::seconds(2);

  WellBehavedClient(std::uint16_t port, ClientProtocol protocol)
      : port_(port), protocol_(std::move(protocol)) {}
  WellBehavedClient(const WellBehavedClient&) = delete;
  WellBehavedClient& operator=(const WellBehavedClient&) = delete;
  ~WellBehavedClient() { stop(); }

  void start() {
    thread_ = std::thread([this] { run(); });
  }

  // Waits until one round trip succeeded.
  bool wait_until_answered(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [this] { return !round_trips_.empty(); });
  }

  // Ends the loop after the round trip in flight (at most reply_timeout).
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // Round trips and failures of the messages sent in [from, to).
  RoundTrips between(Clock::time_point from, Clock::time_point to) const {
    std::lock_guard lock(mutex_);
    RoundTrips result;
    std::vector<double> millis;
    for (const Sample& sample : round_trips_) {
      if (sample.sent >= from && sample.sent < to) millis.push_back(sample.millis);
    }
    for (const Failure& failure : failures_) {
      if (failure.sent < from || failure.sent >= to) continue;
      if (result.failures++ == 0) result.first_failure = failure.reason;
    }
    result.samples = millis.size();
    if (millis.empty()) return result;
    std::sort(millis.begin(), millis.end());
    const auto rank = [&](double q) {
      const auto index =
          static_cast<std::size_t>(std::ceil(q * static_cast<double>(millis.size())));
      return millis[std::clamp<std::size_t>(index, 1, millis.size()) - 1];
    };
    result.p50_ms = rank(0.50);
    result.p99_ms = rank(0.99);
    result.max_ms = millis.back();
    return result;
  }

 private:
  struct Sample {
    Clock::time_point sent;
    double millis;
  };
  struct Failure {
    Clock::time_point sent;
    std::string reason;
  };

  void run() {
    std::mt19937 random(std::random_device{}());
    std::uniform_int_distribution<int> pause_ms(10, 100);
    WsPeer peer;
    bool connected = false;
    for (std::uint64_t sequence = 0;; ++sequence) {
      {
        std::unique_lock lock(mutex_);
        const auto pause = std::chrono::milliseconds(pause_ms(random));
        if (changed_.wait_for(lock, pause, [this] { return stopping_; })) return;
      }
      // A connection opened again (after a failure) is not part of the round trip.
      Clock::time_point sent = Clock::now();
      std::string error;
      if (!connected && (connected = connect(peer, sent + reply_timeout, error))) {
        sent = Clock::now();
      }
      if (connected) connected = round_trip(peer, sequence, sent + reply_timeout, error);
      std::lock_guard lock(mutex_);
      if (connected) {
        const std::chrono::duration<double, std::milli> took = Clock::now() - sent;
        round_trips_.push_back({sent, took.count()});
        changed_.notify_all();
      } else {
        failures_.push_back({sent, error});
        peer.close();
      }
    }
  }

  bool connect(WsPeer& peer, Clock::time_point deadline, std::string& error) {
    if (!peer.open(port_, protocol_.path, deadline, error)) return false;
    if (protocol_.setup.empty()) return true;
    std::string reply;
    return peer.send_all(masked_frame(Opcode::text, as_bytes(protocol_.setup)), deadline, error) &&
           read_message(peer, deadline, reply, error);
  }

  // Sends message `sequence` and checks its reply. False (with `error`) ends the connection.
  bool round_trip(WsPeer& peer, std::uint64_t sequence, Clock::time_point deadline,
                  std::string& error) {
    char token[32];
    std::snprintf(token, sizeof token, "wb-%010llu", static_cast<unsigned long long>(sequence));
    std::string message = protocol_.prefix + token;
    message.resize(message_size, '.');
    std::string reply;
    if (!peer.send_all(masked_frame(Opcode::text, as_bytes(message)), deadline, error) ||
        !read_message(peer, deadline, reply, error)) {
      return false;
    }
    const bool right = protocol_.reply == ClientProtocol::Reply::any ||
                       (protocol_.reply == ClientProtocol::Reply::echo && reply == message) ||
                       (protocol_.reply == ClientProtocol::Reply::contains &&
                        reply.find(token) != std::string::npos);
    if (!right) error = "wrong reply to '" + message + "': '" + reply.substr(0, 100) + "'";
    return right;
  }

  // The next data message, its fragments joined (a streamed echo comes in three).
  static bool read_message(WsPeer& peer, Clock::time_point deadline, std::string& out,
                           std::string& error) {
    out.clear();
    ServerFrame frame;
    for (;;) {
      const ReadStatus status = peer.read_frame(frame, deadline, error);
      if (status == ReadStatus::timeout) error = "no reply within 2 s";
      if (status == ReadStatus::closed) error = "the server closed the connection";
      if (status != ReadStatus::frame) return false;
      if (frame.header.opcode == Opcode::close) {
        error = "the server sent close " + std::to_string(frame.close_code());
        return false;
      }
      if (is_control(frame.header.opcode)) continue;  // a ping: the server does not wait for it
      out.append(reinterpret_cast<const char*>(frame.payload.data()), frame.payload.size());
      if (frame.header.fin) return true;
    }
  }

  std::uint16_t port_;
  ClientProtocol protocol_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  std::vector<Sample> round_trips_;
  std::vector<Failure> failures_;
};

}  // namespace fastws::attack
