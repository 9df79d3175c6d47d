// One connect() with a reconnect policy (ConnectOptions::reconnect, client.hpp): it follows each
// of its connections, and when one ends or fails other than by the application's hand, it waits
// for its backoff delay on the loop's timers and dials again.
//
// Threading: it lives on the loop of connect()'s connection and, once started there, belongs to
// that loop's thread. Lifetime: it deletes itself when it ends: when the application ends its
// connection, when on_attempt says no, when max_attempts attempts failed in a row, when the
// client stops (end_all() deletes the ones waiting for their time; the others end with their
// connection). While one of its connections lives, that connection's end is what ends it.
#pragma once

#include <chrono>
#include <optional>
#include <random>
#include <string>

#include "connection/endpoint.hpp"
#include "fastws/client.hpp"
#include "net/intrusive_list.hpp"
#include "net/timer_wheel.hpp"

namespace fastws::detail {

class LoopContext;

class Reconnection final : public EndWatch,
                           private net::TimerNode,
                           private net::ListNode<Reconnection> {
 public:
  // `waiting`: the client's list of the reconnections on this loop that wait for their time.
  Reconnection(Client::Impl& client, LoopContext& loop, net::ListHead& waiting, std::string url,
               const ConnectOptions& options);
  ~Reconnection() override;
  Reconnection(const Reconnection&) = delete;
  Reconnection& operator=(const Reconnection&) = delete;

  // What each attempt asks for: the request as connect() got it, with the URL and headers as
  // on_attempt left them.
  const std::string& url() const noexcept { return url_; }
  ConnectOptions attempt_options() const;

  // How the current attempt failed (before ended()).
  void note_failure(ConnectError failure, int http_status) noexcept;
  // The attempt failed: false when it will be tried again (on_error is not told); the last
  // one's error says that the reconnection gave up.
  bool report_failure(CloseStatus& status);
  void ended(const CloseStatus& status, bool opened, bool by_application) override;

  // Deletes every reconnection of `waiting` (the client shuts down on that loop).
  static void end_all(net::ListHead& waiting) noexcept;

 private:
  net::ListLink& waiting_link() noexcept { return ListNode<Reconnection>::link; }
  bool will_retry(bool by_application) const noexcept;
  std::chrono::milliseconds next_delay();
  void on_timer() override;  // time for the next attempt
  void attempt();

  Client::Impl& client_;
  LoopContext& loop_;
  net::ListHead& waiting_;
  std::string url_;
  ConnectOptions options_;  // headers as on_attempt left them; user_data copied to each attempt
  unsigned attempts_ = 0;   // attempts since a connection last opened (connect()'s is not one)
  std::chrono::milliseconds delay_{0};
  CloseStatus last_error_;
  ConnectError failure_ = ConnectError::none;
  int http_status_ = 0;
  std::optional<bool> retry_;  // decided for the current attempt when its failure is reported
  std::minstd_rand random_;    // for the jitter
};

}  // namespace fastws::detail
