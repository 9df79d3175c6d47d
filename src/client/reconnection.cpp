#include "client/reconnection.hpp"

#include <algorithm>
#include <cmath>

#include "client/client_impl.hpp"
#include "connection/connection.hpp"
#include "connection/loop_context.hpp"
#include "connection/user_handler.hpp"

namespace fastws::detail {

Reconnection::Reconnection(Client::Impl& client, LoopContext& loop, net::ListHead& waiting,
                           std::string url, const ConnectOptions& options)
    : client_(client),
      loop_(loop),
      waiting_(waiting),
      url_(std::move(url)),
      options_(options),
      random_(std::random_device{}()) {}

Reconnection::~Reconnection() {
  if (waiting_link().linked()) waiting_link().unlink();
}

ConnectOptions Reconnection::attempt_options() const {
  return options_;
}

void Reconnection::note_failure(ConnectError failure, int http_status) noexcept {
  failure_ = failure;
  http_status_ = http_status;
}

bool Reconnection::will_retry(bool by_application) const noexcept {
  if (by_application || client_.stopped.load() || loop_.shutting_down()) return false;
  // A request that cannot be made fails the same way every time.
  if (failure_ == ConnectError::invalid_request) return false;
  const unsigned limit = options_.reconnect.max_attempts;
  return limit == 0 || attempts_ < limit;
}

bool Reconnection::report_failure(CloseStatus& status) {
  retry_ = will_retry(false);
  if (*retry_) return false;
  const unsigned limit = options_.reconnect.max_attempts;
  if (limit != 0 && attempts_ >= limit) {
    status.error += " (gave up after " + std::to_string(attempts_) + " reconnection attempts)";
  }
  return true;
}

void Reconnection::ended(const CloseStatus& status, bool opened, bool by_application) {
  if (opened) {
    attempts_ = 0;  // the count starts again
    failure_ = ConnectError::none;
    http_status_ = 0;
  }
  last_error_ = status;
  const bool again = retry_.value_or(will_retry(by_application));
  retry_.reset();
  if (!again) {
    delete this;
    return;
  }
  ++attempts_;
  delay_ = next_delay();
  waiting_.push_back(waiting_link());
  loop_.loop().arm_timer(*this, delay_);
}

std::chrono::milliseconds Reconnection::next_delay() {
  const ReconnectPolicy& policy = options_.reconnect;
  const double cap = static_cast<double>(std::max<std::int64_t>(policy.max_delay.count(), 0));
  const double growth = std::max(policy.multiplier, 1.0);
  // Computed in doubles, capped before it can overflow anything.
  double delay =
      std::min(cap, static_cast<double>(std::max<std::int64_t>(policy.initial_delay.count(), 0)));
  for (unsigned i = 1; i < attempts_ && delay < cap; ++i) delay = std::min(cap, delay * growth);
  const double jitter = std::clamp(policy.jitter, 0.0, 1.0);
  const double shortening = jitter * std::uniform_real_distribution<double>(0.0, 1.0)(random_);
  return std::chrono::milliseconds(std::llround(delay * (1.0 - shortening)));
}

void Reconnection::on_timer() {
  waiting_link().unlink();
  if (client_.stopped.load() || loop_.shutting_down()) {
    delete this;
    return;
  }
  if (options_.reconnect.on_attempt) {
    ReconnectAttempt next;
    next.number = attempts_;
    next.delay = delay_;
    next.last_error = last_error_;
    next.failure = failure_;
    next.http_status = http_status_;
    next.url = url_;
    next.headers = options_.headers;
    bool go_on = false;
    const auto thrown = call_user_handler([&] { go_on = options_.reconnect.on_attempt(next); });
    // stop() from inside on_attempt wins too.
    if (thrown || !go_on || client_.stopped.load() || loop_.shutting_down()) {
      delete this;
      return;
    }
    url_ = std::move(next.url);
    options_.headers = std::move(next.headers);
  }
  attempt();
}

void Reconnection::attempt() {
  failure_ = ConnectError::none;
  http_status_ = 0;
  client_.open_connections.fetch_add(1, std::memory_order_relaxed);
  auto* connection = new Connection(
      loop_, {}, {}, {}, client_.next_connection_id.fetch_add(1, std::memory_order_relaxed));
  // The connection's own reference is the loop's: finish() lets it go.
  client_.start_attempt(*connection, url_, attempt_options(), nullptr, this);
}

void Reconnection::end_all(net::ListHead& waiting) noexcept {
  while (!waiting.empty()) {
    delete static_cast<Reconnection*>(&ListNode<Reconnection>::from_link(waiting.front()));
  }
}

}  // namespace fastws::detail
