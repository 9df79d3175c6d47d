#include "shard.hpp"

#include <algorithm>
#include <utility>

namespace fastws::redis::detail {

namespace {

// Channels per command when a command may name several: a node that holds many topics
// restores them in a few commands, none of them huge.
constexpr std::size_t channels_per_command = 1024;

LinkSettings settings_for(const LinkSettings& base, std::string name, const std::string& host,
                          std::uint16_t port) {
  LinkSettings settings = base;
  settings.name = std::move(name);
  settings.url.host = host;
  settings.url.port = port;
  return settings;
}

}  // namespace

Shard::Shard(net::EventLoop& loop, net::Resolver& resolver, const LinkSettings& base,
             std::string host_name, std::uint16_t port_number, LinkOwner& owner)
    : host(std::move(host_name)),
      port(port_number),
      publisher(loop, resolver, settings_for(base, "publisher", host, port), owner),
      subscriber(loop, resolver, settings_for(base, "subscriber", host, port), owner) {}

void Shard::append_channels(std::string_view verb, std::span<const std::string_view> names,
                            bool one_per_command) {
  const std::size_t most = one_per_command ? 1 : channels_per_command;
  while (!names.empty()) {
    const auto chunk = names.first(std::min(names.size(), most));
    names = names.subspan(chunk.size());
    append_array_header(commands_, chunk.size() + 1);
    append_bulk(commands_, verb);
    for (std::string_view name : chunk) append_bulk(commands_, name);
  }
}

}  // namespace fastws::redis::detail
