#include "net/interned_address.hpp"

#include <deque>
#include <limits>
#include <mutex>

namespace fastws::detail {
namespace {

// The hosts (PeerAddress with port 0) in order of first sight; entries are never removed, so
// an index stays valid for the life of the process.
struct HostTable {
  std::mutex mutex;
  std::deque<PeerAddress> hosts;
};

HostTable& host_table() {
  // Never destroyed: a Conn handle may ask for its address during static destruction.
  static HostTable* const table = new HostTable;
  return *table;
}

// The last host each thread interned: accepts on one listener find theirs without the lock.
struct LastInterned {
  PeerAddress host;
  std::uint16_t index = 0;
};
thread_local LastInterned last_interned;

}  // namespace

InternedAddress::InternedAddress(const PeerAddress& address) : port_(address.port()) {
  const PeerAddress host = address.with_port(0);
  if (last_interned.index != 0 && last_interned.host == host) {
    host_ = last_interned.index;
    return;
  }
  HostTable& table = host_table();
  const std::scoped_lock lock(table.mutex);
  std::size_t at = 0;
  while (at < table.hosts.size() && !(table.hosts[at] == host)) ++at;
  if (at == table.hosts.size()) {
    if (at == std::numeric_limits<std::uint16_t>::max()) return;  // full: unknown
    table.hosts.push_back(host);
  }
  host_ = static_cast<std::uint16_t>(at + 1);
  last_interned = {host, host_};
}

PeerAddress InternedAddress::get() const {
  if (host_ == 0) return {};
  HostTable& table = host_table();
  const std::scoped_lock lock(table.mutex);
  return table.hosts[host_ - 1].with_port(port_);
}

}  // namespace fastws::detail
