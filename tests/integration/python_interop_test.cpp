// fastws against a real peer: the python3-websockets client from Debian (tests/interop/
// python_peer.py) runs echo checks of every length class, ping, subprotocol, and both close
// directions, with and without permessage-deflate, over TCP and over TLS (wss).
#include <gtest/gtest.h>

#include <cstdlib>

#include "support/command_output.hpp"
#include "tls_test_support.hpp"

namespace fastws::testing {
namespace {

bool python_websockets_available() {
  return std::system("/usr/bin/python3 -c 'import websockets' >/dev/null 2>&1") == 0;
}

// Runs the peer script with `flags` and returns its exit status, with its output in `output`.
int run_peer(std::uint16_t port, const std::string& flags, std::string& output) {
  const std::string command = "/usr/bin/python3 " FASTWS_TEST_DATA_DIR "/interop/python_peer.py " +
                              std::to_string(port) + flags + " 2>&1";
  return test::run_command(command, output);
}

void run_against_echo(bool compress, bool secure = false) {
  if (!python_websockets_available()) GTEST_SKIP() << "/usr/bin/python3 has no websockets module";
  ServerOptions options = secure ? tls_server_options() : TestServer::default_options();
  options.compression.enabled = compress;
  options.subprotocols = {"chat.v1", "chat.v3"};
  TestServer server(options);
  server.server().on_message([](const Conn& conn, Message message) {
    if (message.text() == "close please") {
      conn.close(4001, "as you asked");
      return;
    }
    conn.send(message.data(), message.opcode());
  });
  server.start();
  std::string output;
  std::string flags = compress ? " --compress" : "";
  if (secure) flags += " --tls " + TestCertificate::get().certificate_file;
  const int status = run_peer(server.port(), flags, output);
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output.find("FAIL"), std::string::npos) << output;
  EXPECT_NE(output.find("ok   clean close 1000"), std::string::npos) << output;
  if (secure) {
    EXPECT_NE(output.find("with ALPN http/1.1"), std::string::npos) << output;
  }
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
