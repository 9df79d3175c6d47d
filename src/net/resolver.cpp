#include "net/resolver.hpp"

#include <arpa/inet.h>

#include <utility>

namespace fastws::net {

namespace {

bool is_literal(const std::string& host, AddressFamily family) {
  unsigned char address[sizeof(in6_addr)];
  const bool v4 = ::inet_pton(AF_INET, host.c_str(), address) == 1;
  const bool v6 = ::inet_pton(AF_INET6, host.c_str(), address) == 1;
  return (v4 && family != AddressFamily::ipv6) || (v6 && family != AddressFamily::ipv4);
}

}  // namespace

Resolver::~Resolver() {
  shut_down();
}

void Resolver::shut_down() {
  std::deque<Request> abandoned;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    abandoned.swap(queue_);
  }
  wanted_.notify_one();
  if (worker_.joinable()) worker_.join();
  for (Request& request : abandoned) {
    request.done(std::make_error_code(std::errc::operation_canceled), {});
  }
}

void Resolver::resolve(std::string host, std::uint16_t port, AddressFamily family, Done done) {
  if (is_literal(host, family)) {
    std::vector<SocketAddress> addresses;
    const std::error_code error = resolve_name(host, port, family, addresses);
    done(error, std::move(addresses));
    return;
  }
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      done(std::make_error_code(std::errc::operation_canceled), {});
      return;
    }
    queue_.push_back({std::move(host), port, family, std::move(done)});
    if (!worker_.joinable()) worker_ = std::thread([this] { work(); });
  }
  wanted_.notify_one();
}

void Resolver::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wanted_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Request request = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    std::vector<SocketAddress> addresses;
    const std::error_code error =
        resolve_name(request.host, request.port, request.family, addresses);
    request.done(error, std::move(addresses));
    lock.lock();
  }
}

}  // namespace fastws::net
