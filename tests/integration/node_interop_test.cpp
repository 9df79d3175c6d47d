// fastws against a real peer: Node's ws package (tests/interop/node/ws_peer.mjs, ws pinned in
// tests/interop/node/package.json and installed by scripts/install-deps.sh) runs echo checks of
// every length class, multi-byte UTF-8, fragmented messages, ping with payload, the subprotocol
// the server prefers, a burst of small messages, and both close directions; permessage-deflate
// declined, with context takeover, without it at the client's request and at the server's; and
// once over TLS (wss). The same echo server meets python3-websockets in python_interop_test.cpp
// and the browsers in chat_browser_test.cpp.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "interop_echo_server.hpp"

namespace fastws::testing {
namespace {

const std::string node = "/usr/bin/node";
const std::string node_project = FASTWS_TEST_DATA_DIR "/interop/node";

// Runs ws_peer.mjs against an echo server with `options` (wss:// when they enable TLS);
// `peer_flags` tell it what to expect.
void run_against_echo(const ServerOptions& options, const std::string& peer_flags) {
  const bool secure = options.tls.enabled();
  if (::access(node.c_str(), X_OK) != 0) {
    GTEST_SKIP() << node << " is not installed (scripts/install-deps.sh installs nodejs)";
  }
  if (::access((node_project + "/node_modules/ws").c_str(), F_OK) != 0) {
    GTEST_SKIP() << node_project << "/node_modules/ws is missing (scripts/install-deps.sh runs "
                 << "npm ci there)";
  }
  InteropEchoServer server(options);
  std::string flags = peer_flags;
  if (secure) flags += " --tls " + TestCertificate::get().certificate_file;
  std::vector<std::string> required = {"ok   clean close 1000", "ok   server-initiated close 4001",
                                       "ok   burst of 1000 small messages echoed in order"};
  if (secure) required.emplace_back("with ALPN http/1.1");
  expect_peer_passes(
      node + " " + node_project + "/ws_peer.mjs " + std::to_string(server.port()) + flags,
      required);
}

TEST(NodeInterop, EchoFragmentsPingSubprotocolAndCloseWithoutCompression) {
  run_against_echo(interop_server_options(false), "");
}

TEST(NodeInterop, PermessageDeflateWithContextTakeover) {
  run_against_echo(interop_server_options(true), " --deflate takeover");
}

TEST(NodeInterop, PermessageDeflateWithNoContextTakeoverAskedByTheClient) {
  run_against_echo(interop_server_options(true), " --deflate no-context-takeover");
}

TEST(NodeInterop, PermessageDeflateWithNoContextTakeoverImposedByTheServer) {
  ServerOptions options = interop_server_options(true);
  options.compression.server_no_context_takeover = true;
  options.compression.client_no_context_takeover = true;
  run_against_echo(options, " --deflate server-no-context-takeover");
}

TEST(NodeInterop, PermessageDeflateWithContextTakeoverOverTls) {
  run_against_echo(interop_server_options(true, true), " --deflate takeover");
}

}  // namespace
}  // namespace fastws::testing
