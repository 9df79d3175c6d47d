// fastws/redis.hpp: attach() and the handle.
#include "fastws/redis.hpp"

#include "redis_bridge.hpp"

namespace fastws::redis {

Scaleout attach(Server& server, Options options) {
  auto bridge = std::make_shared<detail::RedisBridge>(server, std::move(options));
  server.attach_bridge(bridge);
  bridge->start();
  return Scaleout(std::move(bridge));
}

Stats Scaleout::stats() const noexcept {
  return bridge_->stats();
}

State Scaleout::state() const noexcept {
  return bridge_->state();
}

const std::string& Scaleout::node_id() const noexcept {
  return bridge_->node_id();
}

}  // namespace fastws::redis
