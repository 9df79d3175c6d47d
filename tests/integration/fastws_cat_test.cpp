// fastws-cat, the built program, run as users run it against servers on 127.0.0.1: lines echoed,
// binary output as hex or raw, the request's headers, subprotocols and Origin as the server sees
// them, compression, pings, a proxy; each exit code from the failure it names (a name that does
// not resolve, a refused port, TLS, a refused upgrade, a broken answer, a silent server, an
// abnormal close, bad usage); and listen mode with one client and with several.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client_test_support.hpp"
#include "interop_echo_server.hpp"
#include "proxy_test_support.hpp"
#include "server_test_support.hpp"
#include "support/child_process.hpp"
#include "tls_test_support.hpp"

namespace fastws::testing {
namespace {

using test::ChildProcess;

const std::string cat_binary = FASTWS_BINARY_DIR "/tools/fastws-cat";

#define REQUIRE_CAT()                                   \
  if (::access(cat_binary.c_str(), X_OK) != 0) {        \
    GTEST_SKIP() << cat_binary << " is not built here"; \
  }

std::string ws_url(std::uint16_t port, std::string_view path = "/") {
  return "ws://127.0.0.1:" + std::to_string(port) + std::string(path);
}

// fastws-cat with `args`, standard input a pipe and standard error apart.
std::unique_ptr<ChildProcess> start_cat(std::vector<std::string> args) {
  args.insert(args.begin(), cat_binary);
  return std::make_unique<ChildProcess>(
      args, ChildProcess::Options{.input = true, .separate_errors = true});
}

struct CatRun {
  std::optional<int> exit_code;  // nothing: it did not exit within the limit
  std::string out;
  std::string err;
};

// Runs fastws-cat with `input` as its whole standard input, to its exit.
CatRun run_cat(std::vector<std::string> args, std::string_view input = {},
               std::chrono::milliseconds limit = 10s) {
  auto cat = start_cat(std::move(args));
  cat->write_input(input);
  cat->close_input();
  CatRun run;
  run.exit_code = cat->wait_exit(limit);
  run.out = cat->output();
  run.err = cat->errors();
  return run;
}

// An echo server (InteropEchoServer: echoes with the opcode, prefers subprotocols chat.v1 then
// chat.v3) on ws:// by default.
std::string echo_url(const InteropEchoServer& server) {
  return ws_url(server.port());
}

TEST(FastwsCat, EchoesEachLineAndClosesWith1000AtTheEndOfInput) {
  REQUIRE_CAT();
  Recorded<CloseStatus> closes;  // before the server: its callbacks run until it is gone
  TestServer server;
  server.server().on_message(
      [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
  server.server().on_close([&](const Conn&, const CloseStatus& status) { closes.add(status); });
  server.start();
  const CatRun run = run_cat({"--show-close", ws_url(server.port())},
                             "hello\nwörld\n\nlast line without a newline");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "hello\nwörld\n\nlast line without a newline\n");
  EXPECT_NE(run.err.find("closed: 1000"), std::string::npos) << run.err;
  ASSERT_TRUE(closes.wait_for(1));
  EXPECT_EQ(closes.all()[0].code, close_code::normal);
}

TEST(FastwsCat, BinaryLinesComeBackAsHexOrRaw) {
  REQUIRE_CAT();
  Recorded<Opcode> opcodes;
  TestServer server;
  server.server().on_message([&](const Conn& conn, Message message) {
    opcodes.add(message.opcode());
    conn.send(message.data(), message.opcode());
  });
  server.start();
  const CatRun hex = run_cat({"--binary", ws_url(server.port())}, "hello\nAB\x01\xff\n");
  ASSERT_EQ(hex.exit_code, 0) << hex.err;
  EXPECT_EQ(hex.out, "68656c6c6f\n414201ff\n");
  const CatRun raw =
      run_cat({"--binary", "--binary-output", "raw", ws_url(server.port())}, "hello\nAB\n");
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  EXPECT_EQ(raw.out, "helloAB");
  ASSERT_EQ(opcodes.size(), 4u);
  for (Opcode opcode : opcodes.all()) EXPECT_EQ(opcode, Opcode::binary);
}

TEST(FastwsCat, HeadersSubprotocolsAndOriginReachTheServer) {
  REQUIRE_CAT();
  ServerOptions options = TestServer::default_options();
  options.origin.mode = OriginPolicy::Mode::any;
  options.subprotocols = {"chat.v2"};
  struct Seen {
    std::string token, other, origin;
    std::vector<std::string> offered;
  };
  Recorded<Seen> seen;
  TestServer server(options);
  server.server().on_upgrade([&](const Request& request, Upgrade& upgrade) {
    seen.add({std::string(request.header("x-token")), std::string(request.header("x-other")),
              std::string(request.header("origin")), upgrade.offered_subprotocols()});
  });
  server.start();
  const CatRun run = run_cat({"-H", "X-Token: abc def", "--header", "X-Other:1", "--subprotocol",
                              "chat.v1", "--subprotocol", "chat.v2", "--origin",
                              "http://example.com", ws_url(server.port())});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_EQ(seen.size(), 1u);
  const Seen request = seen.all()[0];
  EXPECT_EQ(request.token, "abc def");
  EXPECT_EQ(request.other, "1");
  EXPECT_EQ(request.origin, "http://example.com");
  EXPECT_EQ(request.offered, (std::vector<std::string>{"chat.v1", "chat.v2"}));
  EXPECT_NE(run.err.find("subprotocol chat.v2"), std::string::npos) << run.err;
}

TEST(FastwsCat, CompressOffersPermessageDeflate) {
  REQUIRE_CAT();
  InteropEchoServer server(interop_server_options(true));
  const std::string line(20'000, 'z');
  const CatRun run = run_cat({"--compress", echo_url(server)}, line + "\n");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, line + "\n");
  EXPECT_NE(run.err.find("extensions permessage-deflate"), std::string::npos) << run.err;
  const CatRun plain = run_cat({echo_url(server)}, "x\n");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.err.find("permessage-deflate"), std::string::npos) << plain.err;
}

TEST(FastwsCat, PingIntervalSendsPings) {
  REQUIRE_CAT();
  Recorded<std::string> pings;
  TestServer server;
  server.server().on_ping(
      [&](const Conn&, std::span<const std::byte> data) { pings.add(to_string(data)); });
  server.start();
  auto cat = start_cat({"--ping-interval", "0.1", ws_url(server.port())});
  EXPECT_TRUE(pings.wait_for(2, 3s)) << "pings seen: " << pings.size();
  cat->close_input();
  EXPECT_EQ(cat->wait_exit(10s), 0) << cat->errors();
}

TEST(FastwsCat, ConnectsThroughAnHttpProxy) {
  REQUIRE_CAT();
  FASTWS_REQUIRE_PROGRAM(tinyproxy_path, "tinyproxy", "tinyproxy-bin");
  auto proxy = start_tinyproxy(tinyproxy_path);
  ASSERT_TRUE(proxy->ready());
  InteropEchoServer server(interop_server_options(false));
  const CatRun run =
      run_cat({"--proxy", "http://127.0.0.1:" + std::to_string(proxy->port()), echo_url(server)},
              "through the proxy\n");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "through the proxy\n");
}

// --- exit codes ----------------------------------------------------------------------------

TEST(FastwsCat, UsageErrorsExit2) {
  REQUIRE_CAT();
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {},
           {"--no-such-flag", "ws://127.0.0.1:1/"},
           {"--one", "ws://127.0.0.1:1/"},
           {"--cert", "x.pem", "ws://127.0.0.1:1/"},
           {"--listen", "0", "ws://127.0.0.1:1/"},
           {"--listen", "0", "-H", "A: b"},
           {"--binary-output", "octal", "ws://127.0.0.1:1/"},
           {"--ping-interval", "-1", "ws://127.0.0.1:1/"},
           {"http://127.0.0.1:1/"},
           {"--ca", "/nonexistent/ca.pem", "wss://127.0.0.1:1/"},
       }) {
    const CatRun run = run_cat(args);
    EXPECT_EQ(run.exit_code, 2) << ::testing::PrintToString(args) << ": " << run.err;
    EXPECT_NE(run.err.find("fastws-cat: "), std::string::npos) << run.err;
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << "one line: " << run.err;
  }
  const CatRun help = run_cat({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("exit codes:"), std::string::npos) << help.out;
}

TEST(FastwsCat, AnUnresolvableNameExits3) {
  REQUIRE_CAT();
  const CatRun run = run_cat({"ws://nonexistent.invalid/"});
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_NE(run.err.find("cannot resolve 'nonexistent.invalid'"), std::string::npos) << run.err;
}

TEST(FastwsCat, ARefusedPortExits4) {
  REQUIRE_CAT();
  const std::uint16_t port = free_loopback_port();
  const CatRun run = run_cat({ws_url(port)});
  EXPECT_EQ(run.exit_code, 4) << run.err;
  EXPECT_NE(run.err.find("refused"), std::string::npos) << run.err;
}

TEST(FastwsCat, AnUntrustedCertificateExits5AndInsecureOrTheCaConnects) {
  REQUIRE_CAT();
  InteropEchoServer server(interop_server_options(false, true));
  const std::string url = "wss://127.0.0.1:" + std::to_string(server.port()) + "/";
  const CatRun untrusted = run_cat({url}, "x\n");
  EXPECT_EQ(untrusted.exit_code, 5) << untrusted.err;
  EXPECT_NE(untrusted.err.find("certificate"), std::string::npos) << untrusted.err;
  EXPECT_EQ(untrusted.out, "");

  const CatRun insecure = run_cat({"--insecure", url}, "over tls\n");
  EXPECT_EQ(insecure.exit_code, 0) << insecure.err;
  EXPECT_EQ(insecure.out, "over tls\n");
  const CatRun trusted =
      run_cat({"--ca", TestCertificate::get().certificate_file, url}, "trusted\n");
  EXPECT_EQ(trusted.exit_code, 0) << trusted.err;
  EXPECT_EQ(trusted.out, "trusted\n");
}

TEST(FastwsCat, ARefusedUpgradeExits6AndPrintsTheStatus) {
  REQUIRE_CAT();
  TestServer server;
  server.server().on_upgrade(
      [](const Request&, Upgrade& upgrade) { upgrade.reject(403, "no entry"); });
  server.start();
  const CatRun run = run_cat({ws_url(server.port())}, "x\n");
  EXPECT_EQ(run.exit_code, 6) << run.err;
  EXPECT_NE(run.err.find("403"), std::string::npos) << run.err;
}

// Answers every request with a 101 whose Sec-WebSocket-Accept is wrong.
void answer_with_a_wrong_accept(int fd) {
  std::string request;
  while (request.find("\r\n\r\n") == std::string::npos) {
    char buffer[4096];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return;
    request.append(buffer, static_cast<std::size_t>(n));
  }
  const std::string answer =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: bm90IHRoZSByaWdodCBrZXk=\r\n\r\n";
  ::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
  read_to_end(fd, 2s);
}

TEST(FastwsCat, ABrokenHandshakeAnswerExits7) {
  REQUIRE_CAT();
  ScriptedPeer peer(answer_with_a_wrong_accept);
  const CatRun run = run_cat({ws_url(peer.port())}, "x\n");
  EXPECT_EQ(run.exit_code, 7) << run.err;
  EXPECT_NE(run.err.find("Accept"), std::string::npos) << run.err;
}

TEST(FastwsCat, ASilentServerExits8AfterTheConnectTimeout) {
  REQUIRE_CAT();
  ScriptedPeer peer([](int fd) { read_to_end(fd, 5s); });  // takes the request, says nothing
  const auto start = std::chrono::steady_clock::now();
  const CatRun run = run_cat({"--connect-timeout", "0.3", ws_url(peer.port())}, "x\n");
  EXPECT_EQ(run.exit_code, 8) << run.err;
  EXPECT_LT(since(start), 3s);
}

TEST(FastwsCat, TheServerClosingWith1000IsAClean0ButOtherCodesExit9) {
  REQUIRE_CAT();
  TestServer server;
  server.server().on_message([](const Conn& conn, Message message) {
    if (message.text() == "close normally") conn.close(close_code::normal, "bye");
    if (message.text() == "close with an error") conn.close(close_code::internal_error, "oops");
    if (message.text() == "drop") conn.terminate();
  });
  server.start();
  // Standard input stays open: the server's close ends fastws-cat.
  const auto closed_by_server = [&](const std::string& line) {
    auto cat = start_cat({"--show-close", ws_url(server.port())});
    cat->write_input(line + "\n");
    CatRun run;
    run.exit_code = cat->wait_exit(10s);
    run.err = cat->errors();
    return run;
  };
  const CatRun normal = closed_by_server("close normally");
  EXPECT_EQ(normal.exit_code, 0) << normal.err;
  EXPECT_NE(normal.err.find("closed: 1000 bye"), std::string::npos) << normal.err;
  const CatRun error = closed_by_server("close with an error");
  EXPECT_EQ(error.exit_code, 9) << error.err;
  EXPECT_NE(error.err.find("closed abnormally: 1011 oops"), std::string::npos) << error.err;
  const CatRun dropped = closed_by_server("drop");
  EXPECT_EQ(dropped.exit_code, 9) << dropped.err;
  EXPECT_NE(dropped.err.find("closed abnormally: 1006"), std::string::npos) << dropped.err;
}

// --- listen mode ---------------------------------------------------------------------------

// Starts `fastws-cat --listen 0 ...` and returns its port (0 if it did not say).
std::uint16_t listening_port(ChildProcess& cat) {
  return cat.wait_for_port("listening on ws://127.0.0.1:", 5s, ChildProcess::Stream::errors);
}

TEST(FastwsCat, ListenOneServesOneClientBothWaysAndRefusesOthers) {
  REQUIRE_CAT();
  auto cat = start_cat({"--listen", "0", "--one", "--show-close"});
  const std::uint16_t port = listening_port(*cat);
  ASSERT_NE(port, 0) << cat->errors();
  RecordingClient client;
  const ConnectResult result = client.client().connect_and_wait(ws_url(port));
  ASSERT_TRUE(result) << result.error.error;
  EXPECT_EQ(result.conn.send("from the client"), SendStatus::queued);
  EXPECT_TRUE(cat->wait_for_line("from the client", 3s)) << cat->output();
  ASSERT_TRUE(cat->write_input("to the client\n"));
  ASSERT_TRUE(client.received.wait_for(1));
  EXPECT_EQ(client.received.all()[0].text, "to the client");

  const ConnectResult second = client.client().connect_and_wait(ws_url(port));
  EXPECT_EQ(second.failure, ConnectError::http_status);
  EXPECT_EQ(second.http_status, 503);

  result.conn.close(4001, "bye");  // not a clean code: fastws-cat says so
  EXPECT_EQ(cat->wait_exit(10s), 9) << cat->errors();
  EXPECT_NE(cat->errors().find("closed: 4001 bye"), std::string::npos) << cat->errors();
}

TEST(FastwsCat, ListenPrefixesEachClientsMessagesAndSendsInputToAll) {
  REQUIRE_CAT();
  auto cat = start_cat({"--listen", "0"});
  const std::uint16_t port = listening_port(*cat);
  ASSERT_NE(port, 0) << cat->errors();
  RecordingClient clients;
  const ConnectResult ann = clients.client().connect_and_wait(ws_url(port));
  const ConnectResult bob = clients.client().connect_and_wait(ws_url(port));
  ASSERT_TRUE(ann && bob);
  ann.conn.send("I am ann");
  bob.conn.send("I am bob");
  const auto ann_line = cat->wait_for_line("I am ann", 3s);
  const auto bob_line = cat->wait_for_line("I am bob", 3s);
  ASSERT_TRUE(ann_line && bob_line) << cat->output();
  // "[ID] text", a different ID for each.
  ASSERT_EQ(ann_line->front(), '[');
  ASSERT_EQ(bob_line->front(), '[');
  const std::string ann_id = ann_line->substr(0, ann_line->find("] ") + 2);
  const std::string bob_id = bob_line->substr(0, bob_line->find("] ") + 2);
  EXPECT_EQ(*ann_line, ann_id + "I am ann");
  EXPECT_EQ(*bob_line, bob_id + "I am bob");
  EXPECT_NE(ann_id, bob_id);

  ASSERT_TRUE(cat->write_input("hello everyone\n"));
  ASSERT_TRUE(clients.received.wait_for(2));
  for (const Received& received : clients.received.all()) {
    EXPECT_EQ(received.text, "hello everyone");
  }
  cat->close_input();  // the end of input ends listen mode: the clients get 1001
  EXPECT_EQ(cat->wait_exit(10s), 0) << cat->errors();
  ASSERT_TRUE(clients.closes.wait_for(2));
  for (const CloseStatus& status : clients.closes.all()) {
    EXPECT_EQ(status.code, close_code::going_away);
  }
}

}  // namespace
}  // namespace fastws::testing
