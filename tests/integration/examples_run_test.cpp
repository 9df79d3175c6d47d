// Starts each example program as users would (--port 0, wait for the printed URL), talks to
// it, then stops it with SIGTERM and expects a clean exit.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <regex>

#include "tls_test_support.hpp"

namespace fastws::testing {
namespace {

// A running example: started with --port 0 (and `flags`), its port read from the line it prints.
class Example {
 public:
  explicit Example(const std::string& name, const std::vector<std::string>& flags = {}) {
    path_ = std::string(FASTWS_BINARY_DIR) + "/examples/" + name;
    if (::access(path_.c_str(), X_OK) != 0) return;
    int out[2];
    if (::pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      std::vector<const char*> argv = {path_.c_str(), "--port", "0", "--threads", "1"};
      for (const std::string& flag : flags) argv.push_back(flag.c_str());
      argv.push_back(nullptr);
      ::execv(path_.c_str(), const_cast<char* const*>(argv.data()));
      std::_Exit(127);
    }
    ::close(out[1]);
    output_ = ::fdopen(out[0], "r");
    char line[512];
    if (output_ != nullptr && std::fgets(line, sizeof line, output_) != nullptr) {
      std::smatch match;
      const std::string text(line);
      if (std::regex_search(text, match,
                            std::regex(R"(listening on wss?://127\.0\.0\.1:(\d+)/)"))) {
        port_ = static_cast<std::uint16_t>(std::stoi(match[1]));
      }
    }
  }
  ~Example() {
    if (pid_ > 0 && !stopped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (output_ != nullptr) std::fclose(output_);
  }

  bool built() const { return pid_ > 0; }
  std::uint16_t port() const { return port_; }

  // Asks for a graceful stop: the example closes its connections with 1001.
  void terminate() { ::kill(pid_, SIGTERM); }
  // SIGTERM (again), then the exit status within 5 s (-1 if it had to be killed). Peers that are
  // still open should be gone by now, or the server waits for them up to its close timeout.
  int stop() {
    stopped_ = true;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 500; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_)
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      std::this_thread::sleep_for(10ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    return -1;
  }

 private:
  std::string path_;
  pid_t pid_ = -1;
  FILE* output_ = nullptr;
  std::uint16_t port_ = 0;
  bool stopped_ = false;
};

#define START_EXAMPLE(variable, name, ...)                             \
  Example variable(name __VA_OPT__(, ) __VA_ARGS__);                   \
  if (!variable.built()) GTEST_SKIP() << name << " is not built here"; \
  ASSERT_NE(variable.port(), 0) << name << " did not print its URL"

TEST(Examples, EchoEchoesAndStopsCleanly) {
  START_EXAMPLE(echo, "echo");
  RawPeer peer(echo.port());
  ASSERT_NE(peer.handshake().find(" 101 "), std::string::npos);
  peer.send_text("hello example");
  auto frame = peer.read_frame();
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->payload_text(), "hello example");
  echo.terminate();
  EXPECT_EQ(peer.read_close_code(), close_code::going_away);
  peer.send_frame(Frame::close(close_code::going_away));
  EXPECT_TRUE(peer.wait_closed());
  EXPECT_EQ(echo.stop(), 0);
}

TEST(Examples, EchoOverTlsWithCertificateFlags) {
  const TestCertificate& files = TestCertificate::get();
  START_EXAMPLE(echo, "echo", {"--cert", files.certificate_file, "--key", files.key_file});
  ClientTlsContext client = client_tls_context();
  RawPeer peer(echo.port());
  ASSERT_TRUE(peer.start_tls(client.get()));
  ASSERT_NE(peer.handshake().find(" 101 "), std::string::npos);
  peer.send_text("hello over tls");
  auto frame = peer.read_frame();
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->payload_text(), "hello over tls");
  peer.send_frame(Frame::close(close_code::normal));
  EXPECT_EQ(peer.read_close_code(), close_code::normal);
  EXPECT_EQ(echo.stop(), 0);
}

TEST(Examples, AuthRefusesWithoutTheKeyAndWelcomesWithIt) {
  START_EXAMPLE(auth, "auth");
  RawPeer refused(auth.port());
  EXPECT_EQ(refused.handshake().rfind("HTTP/1.1 403 ", 0), 0u);
  ::shutdown(refused.fd(), SHUT_RDWR);  // the server lingers for our end after a refusal
  RawPeer allowed(auth.port());
  EXPECT_NE(allowed.handshake("/room", "private-key: 1234\r\n").find(" 101 "), std::string::npos);
  auto welcome = allowed.read_frame();
  ASSERT_TRUE(welcome);
  EXPECT_EQ(welcome->payload_text(), "welcome, you asked for /room");
  ::shutdown(allowed.fd(), SHUT_RDWR);
  EXPECT_EQ(auth.stop(), 0);
}

TEST(Examples, RawFramesAnswersWithTwoCraftedFrames) {
  START_EXAMPLE(raw, "raw_frames");
  RawPeer peer(raw.port());
  peer.handshake();
  peer.send_text("abc");
  auto first = peer.read_frame();
  auto second = peer.read_frame();
  ASSERT_TRUE(first && second);
  EXPECT_FALSE(first->fin);
  EXPECT_EQ(first->payload_text(), "echo: ");
  EXPECT_EQ(second->opcode, Opcode::continuation);
  EXPECT_EQ(second->payload_text(), "abc");
  ::shutdown(peer.fd(), SHUT_RDWR);
  EXPECT_EQ(raw.stop(), 0);
}

TEST(Examples, RttPingsWithATimestamp) {
  START_EXAMPLE(rtt, "rtt");
  RawPeer peer(rtt.port(), 4s);
  peer.handshake();
  auto ping = peer.read_frame();
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->opcode, Opcode::ping);
  EXPECT_EQ(ping->payload.size(), 8u);
  ::shutdown(peer.fd(), SHUT_RDWR);
  EXPECT_EQ(rtt.stop(), 0);
}

TEST(Examples, BroadcastReachesAClientWithinTwoSeconds) {
  START_EXAMPLE(broadcast, "broadcast");
  RawPeer peer(broadcast.port(), 3s);
  peer.handshake();
  auto frame = peer.read_frame();
  ASSERT_TRUE(frame);
  EXPECT_TRUE(frame->payload_text().starts_with("the time is ")) << frame->payload_text();
  ::shutdown(peer.fd(), SHUT_RDWR);
  EXPECT_EQ(broadcast.stop(), 0);
}

TEST(Examples, ChatServesThePageAndRelaysToTheRoom) {
  START_EXAMPLE(chat, "chat");
  RawPeer browser(chat.port());
  browser.send_raw("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string page = browser.read_all();
  EXPECT_NE(page.find("HTTP/1.1 200 OK"), std::string::npos);
  EXPECT_NE(page.find("new WebSocket("), std::string::npos);
  ::shutdown(browser.fd(), SHUT_RDWR);
  RawPeer ann(chat.port()), bob(chat.port());
  ASSERT_NE(ann.handshake("/ws").find(" 101 "), std::string::npos);
  ASSERT_NE(bob.handshake("/ws").find(" 101 "), std::string::npos);
  ann.send_text("name ann");
  ann.send_text("join lobby");
  EXPECT_EQ(ann.read_frame()->payload_text(), "who lobby ann");
  bob.send_text("name bob");
  bob.send_text("join lobby");
  EXPECT_EQ(bob.read_frame()->payload_text(), "who lobby ann,bob");
  EXPECT_EQ(ann.read_frame()->payload_text(), "who lobby ann,bob");
  bob.send_text("say hi ann");
  EXPECT_EQ(ann.read_frame()->payload_text(), "msg lobby bob: hi ann");
  ::shutdown(ann.fd(), SHUT_RDWR);
  ::shutdown(bob.fd(), SHUT_RDWR);
  EXPECT_EQ(chat.stop(), 0);
}

}  // namespace
}  // namespace fastws::testing
