// CompactAddress: a connection's remote address in 8 bytes (IPv4 and Unix in the word, IPv6 on
// the heap), read from any thread.
#include "net/compact_address.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "net/socket_address.hpp"
#include "support/sample_addresses.hpp"

namespace fastws::detail {
namespace {

using fastws::testing::address_of;
using fastws::testing::ipv6_with_scope;

PeerAddress unix_socket(const char* path) {
  net::SocketAddress address;
  EXPECT_FALSE(net::SocketAddress::from_unix_path(path, address));
  return PeerAddress(address);
}

PeerAddress unnamed_unix_socket() {
  net::SocketAddress address;
  address.storage()->sa_family = AF_UNIX;
  address.set_size(sizeof(sa_family_t));
  return PeerAddress(address);
}

TEST(CompactAddress, GivesBackWhatItWasMadeFrom) {
  for (const PeerAddress& address :
       {address_of("127.0.0.1", 9001), address_of("255.255.255.255", 65535),
        address_of("10.1.2.3", 1), address_of("::1", 443), ipv6_with_scope(3, 8080),
        unix_socket("/run/app.sock"), unnamed_unix_socket()}) {
    EXPECT_EQ(CompactAddress(address).get(), address) << address.to_string();
    EXPECT_EQ(CompactAddress(address).get().to_string(), address.to_string());
  }
  EXPECT_EQ(CompactAddress(unix_socket("/run/app.sock")).get().to_string(), "unix:/run/app.sock");
  EXPECT_EQ(CompactAddress(unnamed_unix_socket()).get().to_string(), "unix");
}

TEST(CompactAddress, DefaultIsUnknown) {
  EXPECT_EQ(CompactAddress().get().family(), AF_UNSPEC);
  EXPECT_EQ(CompactAddress(PeerAddress()).get().family(), AF_UNSPEC);
}

TEST(CompactAddress, SetLaterReplacesUnknown) {
  for (const PeerAddress& address : {address_of("127.0.0.1", 80), address_of("::1", 80)}) {
    CompactAddress compact;
    compact.set(address);
    EXPECT_EQ(compact.get(), address) << address.to_string();
  }
}

// A client's connection learns its address while other threads may already ask for it: they
// see unknown or the whole address, never a mix (run under TSan as well).
TEST(CompactAddress, ReadersSeeUnknownOrTheWholeAddress) {
  for (const PeerAddress& address : {address_of("10.9.8.7", 4321), address_of("::1", 4321)}) {
    CompactAddress compact;
    std::atomic<bool> done{false};
    std::atomic<int> wrong{0};
    std::thread reader([&] {
      while (!done.load()) {
        const PeerAddress seen = compact.get();
        if (seen.family() != AF_UNSPEC && !(seen == address)) ++wrong;
      }
    });
    compact.set(address);
    done = true;
    reader.join();
    EXPECT_EQ(wrong.load(), 0);
    EXPECT_EQ(compact.get(), address);
  }
}

}  // namespace
}  // namespace fastws::detail
