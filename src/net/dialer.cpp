#include "net/dialer.hpp"

#include <sys/epoll.h>

#include <algorithm>
#include <utility>

#include "net/socket.hpp"

namespace fastws::net {

Dialer::~Dialer() {
  cancel();
}

void Dialer::dial(std::vector<SocketAddress> addresses, std::chrono::milliseconds timeout,
                  Done done) {
  cancel();
  addresses_ = std::move(addresses);
  next_ = 0;
  done_ = std::move(done);
  last_error_ = {};
  last_message_.clear();
  deadline_ = std::chrono::steady_clock::now() + timeout;
  // From the loop, never inline: the caller may not be ready for `done` before dial() returns.
  loop_.defer_flush(*this);
}

void Dialer::cancel() noexcept {
  if (attempt_) {
    loop_.remove(attempt_.get(), *this);
    attempt_.reset();
  }
  loop_.cancel_flush(*this);
  loop_.cancel_timer(*this);
  done_ = nullptr;
}

void Dialer::try_next() {
  while (next_ < addresses_.size()) {
    const SocketAddress& address = addresses_[next_++];
    bool in_progress = false;
    std::error_code error = connect_nonblocking(address, attempt_, in_progress);
    if (!error && !in_progress) {
      finish({std::move(attempt_), address, {}, {}});
      return;
    }
    if (!error) error = loop_.add(attempt_.get(), EPOLLOUT, *this);
    if (!error) {
      // Each attempt gets an equal share of what is left, so one silent address cannot use
      // up the time of the others.
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline_ - std::chrono::steady_clock::now());
      const auto attempts_left = static_cast<long>(addresses_.size() - next_ + 1);
      loop_.arm_timer(*this, std::max(std::chrono::milliseconds(1), left / attempts_left));
      return;
    }
    attempt_.reset();
    last_error_ = error;
    last_message_ = describe(address, error);
  }
  if (addresses_.empty()) {
    finish({{}, {}, std::make_error_code(std::errc::host_unreachable), "no address to connect to"});
    return;
  }
  finish({{}, {}, last_error_, last_message_});
}

void Dialer::on_io(std::uint32_t) {
  loop_.remove(attempt_.get(), *this);
  const SocketAddress& address = addresses_[next_ - 1];
  if (const std::error_code error = connect_result(attempt_.get())) {
    attempt_.reset();
    last_error_ = error;
    last_message_ = describe(address, error);
    try_next();
    return;
  }
  loop_.cancel_timer(*this);
  finish({std::move(attempt_), address, {}, {}});
}

void Dialer::on_flush() {
  try_next();
}

void Dialer::on_timer() {
  loop_.remove(attempt_.get(), *this);
  attempt_.reset();
  last_error_ = std::make_error_code(std::errc::timed_out);
  last_message_ = describe(addresses_[next_ - 1], last_error_);
  if (std::chrono::steady_clock::now() >= deadline_) {
    finish({{}, {}, last_error_, "connect timeout: " + last_message_});
    return;
  }
  try_next();
}

void Dialer::finish(Result result) {
  Done done = std::exchange(done_, nullptr);
  if (done) done(std::move(result));
}

std::string Dialer::describe(const SocketAddress& address, const std::error_code& error) const {
  return "cannot connect to " + address.to_string() + ": " + error.message();
}

}  // namespace fastws::net
