// What the interop tests share (python_interop_test.cpp, node_interop_test.cpp): the echo server
// that the outside peers of tests/interop/ talk to, and running such a peer to the end.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "interop_report.hpp"
#include "support/command_output.hpp"
#include "tls_test_support.hpp"

namespace fastws::testing {

// ServerOptions for the interop echo server: the test defaults, TLS with the test certificate
// when `secure`, and permessage-deflate when `compress` (with the other compression settings
// left as they are, for a test to change them).
inline ServerOptions interop_server_options(bool compress, bool secure = false) {
  ServerOptions options = secure ? tls_server_options() : TestServer::default_options();
  options.compression.enabled = compress;
  return options;
}

inline constexpr std::string_view kPingPayload = "are you there?";

// The interop echo's answers (python_peer.py, the Node peer): echo, plus "close please",
// "fragments please", "ping me" and "pong received" after our ping's pong.
inline void serve_interop_echo(Server& server) {
  server.on_message([](const Conn& conn, Message message) {
    if (message.text() == "close please") {
      conn.close(4001, "as you asked");
    } else if (message.text() == "fragments please") {
      Writer writer = conn.writer(Opcode::text);
      writer.write("frag");
      writer.write("mented ");
      writer.finish("\u2713");
    } else if (message.text() == "ping me") {
      conn.ping(kPingPayload);
    } else {
      conn.send(message.data(), message.opcode());
    }
  });
  server.on_pong([](const Conn& conn, std::span<const std::byte> payload) {
    if (std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()) ==
        kPingPayload) {
      conn.send("pong received");
    }
  });
}

// A started server that echoes every message with its opcode, prefers the subprotocols chat.v1
// then chat.v3, and answers three requests in text, for peers that cannot provoke these
// otherwise (a browser sends no fragments and no pings):
//   "close please"     closes with 4001 "as you asked";
//   "fragments please" sends "fragmented ✓" as three frames (a Writer's pieces);
//   "ping me"          sends a ping "are you there?", and "pong received" once its pong came.
// With a `page`, plain HTTP GET / answers with it (the browsers' checks run in it).
class InteropEchoServer {
 public:
  explicit InteropEchoServer(ServerOptions options, std::string page = {})
      : server_(with_subprotocols(std::move(options))) {
    if (!page.empty()) {
      server_.server().on_http(
          [page = std::move(page)](const Request& request, Response& response) {
            if (request.path() == "/") {
              response.send(200, "text/html; charset=utf-8", page);
            } else {
              response.send(404, "text/plain", "not found");
            }
          });
    }
    serve_interop_echo(server_.server());
    server_.start();
  }

  std::uint16_t port() const { return server_.port(); }
  Server& server() { return server_.server(); }

 private:
  static ServerOptions with_subprotocols(ServerOptions options) {
    options.subprotocols = {"chat.v1", "chat.v3"};
    return options;
  }

  TestServer server_;
};

// Runs a peer (`command`: program and arguments), bounded by coreutils `timeout` (SIGTERM after
// `seconds`, SIGKILL 5 s later), and expects it to exit 0, print no "FAIL" line and print every
// line of `required`. Returns what it printed.
inline std::string expect_peer_passes(const std::string& command,
                                      const std::vector<std::string>& required, int seconds = 120) {
  std::string output;
  const int status = test::run_command(
      "timeout -k 5 " + std::to_string(seconds) + " " + command + " 2>&1", output);
  keep_for_interop_report(output, status);
  EXPECT_EQ(status, 0) << (status == 124 ? "timed out after " + std::to_string(seconds) + " s\n"
                                         : std::string())
                       << output;
  EXPECT_EQ(output.find("FAIL"), std::string::npos) << output;
  for (const std::string& line : required) {
    EXPECT_NE(output.find(line), std::string::npos) << "no \"" << line << "\" in:\n" << output;
  }
  return output;
}

}  // namespace fastws::testing
