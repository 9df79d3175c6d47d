// fastws against a real peer: the python3-websockets client from Debian (tests/interop/
// python_peer.py) runs echo checks of every length class up to 16 MiB, fragmented messages and
// pings both ways, subprotocol, and both close directions, with and without permessage-deflate,
// over TCP and over TLS (wss). The same echo server (interop_echo_server.hpp) meets Node's ws
// package in node_interop_test.cpp and the browsers in browser_interop_test.cpp.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "interop_echo_server.hpp"

namespace fastws::testing {
namespace {

bool python_websockets_available() {
  return std::system("/usr/bin/python3 -c 'import websockets' >/dev/null 2>&1") == 0;
}

void run_against_echo(bool compress, bool secure = false) {
  if (!python_websockets_available()) GTEST_SKIP() << "/usr/bin/python3 has no websockets module";
  InteropEchoServer server(interop_server_options(compress, secure));
  std::string flags = compress ? " --compress" : "";
  if (secure) flags += " --tls " + TestCertificate::get().certificate_file;
  const std::string command = "/usr/bin/python3 " FASTWS_TEST_DATA_DIR "/interop/python_peer.py " +
                              std::to_string(server.port()) + flags;
  std::vector<std::string> required = {"ok   clean close 1000"};
  if (secure) required.emplace_back("with ALPN http/1.1");
  expect_peer_passes(command, required);
}

TEST(PythonInterop, EchoPingSubprotocolAndCloseWithoutCompression) {
  run_against_echo(false);
}

TEST(PythonInterop, EchoPingSubprotocolAndCloseWithPermessageDeflate) {
  run_against_echo(true);
}

TEST(PythonInterop, EchoPingSubprotocolAndCloseOverTlsWithPermessageDeflate) {
  run_against_echo(true, true);
}

}  // namespace
}  // namespace fastws::testing
