// Name resolution off the event loops. getaddrinfo blocks (a DNS server may take seconds to
// answer, or never), so names are resolved on one thread of the resolver's own; IP literals
// are answered at once, on the caller's thread, without it.
//
// Threading: resolve() and cancel() from any thread. `done` runs on the resolver's thread (or
// the caller's, for a literal): post the result to a loop from there.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "net/socket_address.hpp"

namespace fastws::net {

class Resolver {
 public:
  using Done = std::function<void(std::error_code, std::vector<SocketAddress>)>;

  Resolver() = default;
  // shut_down().
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  void resolve(std::string host, std::uint16_t port, AddressFamily family, Done done);
  // Ends the resolver: requests not yet started get std::errc::operation_canceled, one in
  // progress finishes first; when it returns no `done` runs any more, and later requests are
  // canceled at once. For an owner whose callbacks must all have run before it tears down what
  // they post to. Not from a `done`.
  void shut_down();

 private:
  struct Request {
    std::string host;
    std::uint16_t port = 0;
    AddressFamily family = AddressFamily::any;
    Done done;
  };
  void work();

  std::mutex mutex_;
  std::condition_variable wanted_;
  std::deque<Request> queue_;  // guarded by mutex_
  bool stopping_ = false;      // guarded by mutex_
  std::thread worker_;         // started with the first name to resolve
};

}  // namespace fastws::net
