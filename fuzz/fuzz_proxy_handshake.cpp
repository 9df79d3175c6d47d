// libFuzzer target: the client's side of a proxy's answers (HTTP CONNECT, SOCKS5 with and
// without username/password), everything a hostile or broken proxy can send.
// Input: one settings byte (bit 0: SOCKS5 rather than HTTP, bit 1: credentials, bit 2: the
// target is an IPv6 literal, bit 3: an IPv4 literal), one byte choosing where the proxy's bytes
// are split into two reads, then the proxy's bytes.
// Properties:
//  1. Never crashes (ASan/UBSan), never reads past what it was offered.
//  2. read() takes whole answers only: it never claims more than it was offered, and 0 while
//     talking means "not complete yet".
//  3. A failed handshake says why; a finished one stops taking input.
//  4. Split or whole, the proxy's bytes end in the same state with the same error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "client/proxy_handshake.hpp"
#include "client/proxy_url.hpp"

namespace {

using namespace fastws::detail;

void require(bool condition) {
  if (!condition) std::abort();
}

struct Outcome {
  ProxyHandshake::State state;
  std::string error;
  std::size_t used;  // bytes of the proxy's input taken as answers
};

// Feeds `pieces` as the socket would deliver them: unanswered bytes stay buffered and are
// offered again with the next piece, as proxy_tunnel.cpp does.
Outcome converse(const ProxyUrl& proxy, std::string_view host,
                 std::initializer_list<std::string_view> pieces) {
  ProxyHandshake handshake(proxy, host, 443, 4096);
  std::string buffered;
  std::size_t used = 0;
  for (std::string_view piece : pieces) {
    if (handshake.state() != ProxyHandshake::State::talking) break;
    buffered.append(piece);
    while (handshake.state() == ProxyHandshake::State::talking) {
      handshake.sent(handshake.output().size());
      const std::size_t taken = handshake.read(buffered);
      require(taken <= buffered.size());
      if (taken == 0) break;
      buffered.erase(0, taken);
      used += taken;
    }
  }
  if (handshake.state() == ProxyHandshake::State::failed) require(!handshake.error().empty());
  return {handshake.state(), handshake.error(), used};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t settings = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
  const std::size_t split = input.empty() ? 0 : data[1] % (input.size() + 1);

  ProxyUrl proxy;
  proxy.kind = (settings & 1) != 0 ? ProxyKind::socks5 : ProxyKind::http;
  proxy.host = "127.0.0.1";
  proxy.port = 1080;
  if ((settings & 2) != 0) {
    proxy.has_credentials = true;
    proxy.username = "user";
    proxy.password = "secret";
  }
  const std::string_view host = (settings & 4) != 0   ? "::1"
                                : (settings & 8) != 0 ? "192.0.2.7"
                                                      : "feed.example";

  const Outcome whole = converse(proxy, host, {input});
  const Outcome split_in_two = converse(proxy, host, {input.substr(0, split), input.substr(split)});
  require(whole.state == split_in_two.state);
  require(whole.error == split_in_two.error);
  require(whole.used == split_in_two.used);
  return 0;
}
