// The fastws client against real third-party servers on 127.0.0.1: the echo servers of Python's
// websockets (Debian's python3-websockets, tests/interop/ws_echo_server.py) and Node's ws
// package (tests/interop/node/ws_echo_server.mjs), each started as a child process on a free
// port. Text, binary and empty messages, 16 MiB, a message streamed in fragments by a Writer,
// permessage-deflate offered and accepted, ping and pong, and a close code in each direction.
// (The fastws server meets the same libraries as clients in python_interop_test.cpp and
// node_interop_test.cpp.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "client_test_support.hpp"
#include "interop_report.hpp"
#include "support/child_process.hpp"

namespace fastws::testing {
namespace {

using test::ChildProcess;

struct EchoPeer {
  std::string name;
  std::vector<std::string> command;  // the server, without --compress
  // Why it cannot run here ("" when it can): what scripts/install-deps.sh installs is missing.
  std::string (*missing)();
};

std::string python_missing() {
  if (::access("/usr/bin/python3", X_OK) != 0) return "/usr/bin/python3 is not installed";
  ChildProcess check({"/usr/bin/python3", "-c", "import websockets"});
  if (check.wait_exit(10s) != 0) return "/usr/bin/python3 has no websockets module";
  return {};
}

std::string node_missing() {
  if (::access("/usr/bin/node", X_OK) != 0) return "/usr/bin/node is not installed";
  const std::string modules = FASTWS_TEST_DATA_DIR "/interop/node/node_modules/ws";
  if (::access(modules.c_str(), F_OK) != 0) return modules + " is missing (npm ci there)";
  return {};
}

const EchoPeer python_peer{"PythonWebsockets",
                           {"/usr/bin/python3", FASTWS_TEST_DATA_DIR "/interop/ws_echo_server.py"},
                           python_missing};
const EchoPeer node_peer{"NodeWs",
                         {"/usr/bin/node", FASTWS_TEST_DATA_DIR "/interop/node/ws_echo_server.mjs"},
                         node_missing};

void PrintTo(const EchoPeer& peer, std::ostream* out) {
  *out << peer.name;
}

struct Got {
  Opcode opcode;
  std::vector<std::byte> payload;
};

// A fastws client whose callbacks record what they see, with its opcode and bytes.
class InteropClient {
 public:
  explicit InteropClient(bool compress) : client_(options(compress)) {
    client_.on_message([this](const Conn&, Message message) {
      messages.add({message.opcode(), {message.data().begin(), message.data().end()}});
    });
    client_.on_pong(
        [this](const Conn&, std::span<const std::byte> data) { pongs.add(to_string(data)); });
    client_.on_close([this](const Conn&, const CloseStatus& status) { closes.add(status); });
  }
  Client& client() { return client_; }

  Recorded<Got> messages;
  Recorded<std::string> pongs;
  Recorded<CloseStatus> closes;

 private:
  static ClientOptions options(bool compress) {
    ClientOptions options;
    options.compression.enabled = compress;
    return options;
  }
  Client client_;  // last: its loop stops before the recordings go
};

class ClientInterop : public ::testing::TestWithParam<EchoPeer> {
 protected:
  // Starts the peer's echo server and connects to it; false (after a skip or a failure) if
  // either could not be done.
  void open(bool compress = false) {
    if (const std::string missing = GetParam().missing(); !missing.empty()) {
      GTEST_SKIP() << GetParam().name << " cannot run: " << missing
                   << " (scripts/install-deps.sh installs it)";
    }
    std::vector<std::string> command = GetParam().command;
    if (compress) command.emplace_back("--compress");
    server_ = std::make_unique<ChildProcess>(command);
    const std::uint16_t port = server_->wait_for_port("listening on 127.0.0.1:", 10s);
    ASSERT_NE(port, 0) << "the echo server did not start: " << server_->output();
    client_ = std::make_unique<InteropClient>(compress);
    const ConnectResult result =
        client_->client().connect_and_wait("ws://127.0.0.1:" + std::to_string(port) + "/");
    ASSERT_TRUE(result) << result.error.error;
    conn_ = result.conn;
  }

  // Waits for the `count`-th echo (bounded) and returns it.
  Got echo(std::size_t count) {
    EXPECT_TRUE(client_->messages.wait_for(count, 10s * slowdown)) << "no echo " << count;
    const auto all = client_->messages.all();
    return all.size() >= count ? all[count - 1] : Got{Opcode::close, {}};
  }

  // For the interop matrix: what this test checked, in the words the other peers use.
  void TearDown() override {
    if (IsSkipped()) return;
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    const std::string base = test.substr(0, test.find('/'));
    const std::string verdict = HasFailure() ? "FAIL " : "ok   ";
    std::string lines;
    for (const char* check : checks_of(base)) lines += verdict + check + "\n";
    keep_for_interop_report(lines, HasFailure() ? 1 : 0,
                            "ClientInterop." + GetParam().name + "." + base);
  }

  std::unique_ptr<ChildProcess> server_;
  std::unique_ptr<InteropClient> client_;  // after the server: it disconnects first
  Conn conn_;

 private:
  static std::vector<const char*> checks_of(const std::string& test) {
    if (test == "EchoesTextBinaryAndEmptyMessages") {
      return {"text echo of 5 to 24 bytes, UTF-8 included", "binary echo of 4 and 70000 bytes",
              "text and binary echo of 0 bytes"};
    }
    if (test == "EchoesA16MiBMessage") return {"binary echo of 16777216 bytes"};
    if (test == "EchoesAMessageStreamedInFragmentsByAWriter") {
      return {"text sent in 4 fragments by a Writer echoed whole"};
    }
    if (test == "CompressesWhenThePeerAcceptsPermessageDeflate") {
      return {"extensions \"permessage-deflate\" negotiated, 200 kB echoes twice"};
    }
    if (test == "APingGetsItsPongWithThePayload") {
      return {"ping answered with a pong carrying its payload"};
    }
    if (test == "TheClientsCloseCodeReachesThePeer") return {"close 4001 from the client"};
    if (test == "ThePeersCloseCodeReachesOnClose") return {"server-initiated close 4002"};
    return {};
  }
};

TEST_P(ClientInterop, EchoesTextBinaryAndEmptyMessages) {
  open();
  if (IsSkipped() || HasFatalFailure()) return;
  const std::vector<Got> sent = {
      {Opcode::text, to_bytes("hello")},
      {Opcode::text, to_bytes("κόσμε, grüße, 你好")},
      {Opcode::binary, {std::byte{0}, std::byte{0x80}, std::byte{0xFF}, std::byte{'\n'}}},
      {Opcode::text, {}},
      {Opcode::binary, {}},
      {Opcode::binary, std::vector<std::byte>(70'000, std::byte{0x5A})},  // 64-bit length
  };
  for (const Got& message : sent) {
    EXPECT_NE(conn_.send(message.payload, message.opcode), SendStatus::closed);
  }
  for (std::size_t i = 0; i < sent.size(); ++i) {
    const Got got = echo(i + 1);
    EXPECT_EQ(got.opcode, sent[i].opcode) << "message " << i;
    EXPECT_TRUE(got.payload == sent[i].payload) << "message " << i;
  }
}

TEST_P(ClientInterop, EchoesA16MiBMessage) {
  open();
  if (IsSkipped() || HasFatalFailure()) return;
  std::vector<std::byte> large(16u << 20);
  for (std::size_t i = 0; i < large.size(); ++i) large[i] = std::byte(i * 131 % 251);
  EXPECT_NE(conn_.send(large), SendStatus::closed);
  const Got got = echo(1);
  EXPECT_EQ(got.opcode, Opcode::binary);
  EXPECT_EQ(got.payload.size(), large.size());
  EXPECT_TRUE(got.payload == large);
}

TEST_P(ClientInterop, EchoesAMessageStreamedInFragmentsByAWriter) {
  open();
  if (IsSkipped() || HasFatalFailure()) return;
  {
    Writer writer = conn_.writer(Opcode::text);
    writer.write("frag");
    writer.write("κό");  // a character whole in one fragment, then one split across two
    writer.write(std::string_view("\xcf"));
    writer.finish(std::string_view("\x83mented"));
  }
  const Got got = echo(1);
  EXPECT_EQ(got.opcode, Opcode::text);
  EXPECT_EQ(to_string(got.payload), "fragκόσmented");
}

TEST_P(ClientInterop, CompressesWhenThePeerAcceptsPermessageDeflate) {
  open(true);
  if (IsSkipped() || HasFatalFailure()) return;
  EXPECT_NE(conn_.extensions().find("permessage-deflate"), std::string_view::npos)
      << "negotiated: " << conn_.extensions();
  std::string text;
  for (int i = 0; text.size() < 200'000; ++i) text += "line " + std::to_string(i) + " of text\n";
  conn_.send(text);
  conn_.send(text);  // the second goes with the context the first left
  conn_.send("short");
  EXPECT_EQ(to_string(echo(1).payload), text);
  EXPECT_EQ(to_string(echo(2).payload), text);
  EXPECT_EQ(to_string(echo(3).payload), "short");
}

TEST_P(ClientInterop, APingGetsItsPongWithThePayload) {
  open();
  if (IsSkipped() || HasFatalFailure()) return;
  EXPECT_NE(conn_.ping("are you there"), SendStatus::closed);
  ASSERT_TRUE(client_->pongs.wait_for(1, 5s));
  EXPECT_EQ(client_->pongs.all()[0], "are you there");
}

TEST_P(ClientInterop, TheClientsCloseCodeReachesThePeer) {
  open();
  if (IsSkipped() || HasFatalFailure()) return;
  EXPECT_NE(conn_.close(4001, "bye"), SendStatus::closed);
  EXPECT_TRUE(server_->wait_for_line("closed 4001 bye", 5s)) << server_->output();
  ASSERT_TRUE(client_->closes.wait_for(1, 5s));
  EXPECT_EQ(client_->closes.all()[0].code, 4001);  // the peer's answer echoes the code
}

TEST_P(ClientInterop, ThePeersCloseCodeReachesOnClose) {
  open();
  if (IsSkipped() || HasFatalFailure()) return;
  conn_.send("close please");
  ASSERT_TRUE(client_->closes.wait_for(1, 5s));
  const CloseStatus status = client_->closes.all()[0];
  EXPECT_EQ(status.code, 4002);
  EXPECT_EQ(status.reason, "as you asked");
  EXPECT_EQ(status.error, "");
  // Our answer echoes the code (without the reason).
  EXPECT_TRUE(server_->wait_for_line("closed 4002", 5s)) << server_->output();
}

INSTANTIATE_TEST_SUITE_P(Peers, ClientInterop, ::testing::Values(python_peer, node_peer),
                         [](const auto& peer) { return peer.param.name; });

}  // namespace
}  // namespace fastws::testing
