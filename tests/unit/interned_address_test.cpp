// InternedAddress: a connection's local address in 4 bytes, the host part shared in a table.
#include "net/interned_address.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>
#include <thread>
#include <vector>

#include "net/socket_address.hpp"
#include "support/sample_addresses.hpp"

namespace fastws::detail {
namespace {

using fastws::testing::address_of;
using fastws::testing::ipv6_with_scope;

TEST(InternedAddress, GivesBackWhatItWasMadeFrom) {
  for (const PeerAddress& address : {address_of("127.0.0.1", 9001), address_of("::1", 443),
                                     address_of("10.1.2.3", 65535), ipv6_with_scope(3, 8080)}) {
    EXPECT_EQ(InternedAddress(address).get(), address) << address.to_string();
    EXPECT_EQ(InternedAddress(address).get().to_string(), address.to_string());
  }
}

TEST(InternedAddress, KeepsPortsAndScopesApartOnOneHost) {
  const InternedAddress first(address_of("127.0.0.1", 1000));
  const InternedAddress second(address_of("127.0.0.1", 2000));
  EXPECT_EQ(first.get().to_string(), "127.0.0.1:1000");
  EXPECT_EQ(second.get().to_string(), "127.0.0.1:2000");
  // Same address, another interface: another host.
  EXPECT_NE(InternedAddress(ipv6_with_scope(1, 80)).get(),
            InternedAddress(ipv6_with_scope(2, 80)).get());
}

TEST(InternedAddress, DefaultIsUnknown) {
  EXPECT_EQ(InternedAddress().get().family(), AF_UNSPEC);
  EXPECT_EQ(InternedAddress(PeerAddress()).get().family(), AF_UNSPEC);
}

TEST(InternedAddress, ThreadsInterningTheSameHostsAgree) {
  std::vector<std::thread> threads;
  std::vector<std::string> seen(8);
  for (std::size_t t = 0; t < seen.size(); ++t) {
    threads.emplace_back([&seen, t] {
      for (std::uint16_t port = 1; port <= 200; ++port) {
        const char* host = port % 2 == 0 ? "127.0.0.2" : "::2";
        const PeerAddress address = address_of(host, port);
        if (!(InternedAddress(address).get() == address)) seen[t] = address.to_string();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const std::string& wrong : seen) EXPECT_EQ(wrong, "");
}

}  // namespace
}  // namespace fastws::detail
