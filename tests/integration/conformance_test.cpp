// fastws-conformance (tools/conformance) against the echo example, with and without
// permessage-deflate: every case passes, OK or INFORMATIONAL where that is the only outcome
// (7.1.6, 7.13.x). And against deliberately wrong servers, so that the runner's verdicts are
// seen to fail: one echoes invalid UTF-8 and answers a close with the wrong code (FAILED,
// WRONG CODE), one checks UTF-8 only once a message is complete (NON-STRICT on fail-fast).
//
// And as the fuzzing server (test-client mode) with fastws's own Client as the client under
// test, echoing every message as the official suite's testee clients do.
//
// Both roles over TLS too (wss://, the test certificate made at test time), and the fuzzing
// client refusing a certificate it was not told to trust unless --insecure.
//
// The limits cases (9.x: messages up to 16 MiB, 1 MiB in 64-octet writes) run in optimised
// builds without sanitizers only; so do the larger compression cases.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "example_process.hpp"
#include "fastws/fastws.hpp"
#include "net_test_support.hpp"
#include "protocol/handshake.hpp"
#include "protocol/utf8.hpp"
#include "server_test_support.hpp"
#include "support/child_process.hpp"
#include "support/command_output.hpp"
#include "tls_test_support.hpp"

namespace fastws::testing {
namespace {

#if defined(NDEBUG) && !defined(FASTWS_UNDER_ASAN) && !defined(FASTWS_UNDER_TSAN)
constexpr bool optimised_build = true;
#else
constexpr bool optimised_build = false;
#endif

const std::string runner_path = std::string(FASTWS_BINARY_DIR) + "/tools/fastws-conformance";

struct Verdicts {
  std::string behavior;
  std::string close;
};

struct RunnerRun {
  int status = -1;
  std::string output;
  std::map<std::string, Verdicts> cases;  // from index.json
};

// Case id -> verdicts, from a report directory's index.json.
std::map<std::string, Verdicts> read_index(const std::string& directory) {
  std::map<std::string, Verdicts> cases;
  std::ifstream index(directory + "/index.json");
  const std::regex row(
      R"re("([0-9.]+)": \{"behavior": "([A-Z -]+)", "behaviorClose": "([A-Z -]+)")re");
  for (std::string line; std::getline(index, line);) {
    std::smatch match;
    if (std::regex_search(line, match, row)) cases[match[1]] = {match[2], match[3]};
  }
  return cases;
}

// Runs the fuzzing client against `url` on `cases` (with `flags`) and reads its index.json.
RunnerRun run_runner_at(const std::string& url, const std::string& cases,
                        const std::string& flags = {}) {
  RunnerRun run;
  if (::access(runner_path.c_str(), X_OK) != 0) return run;
  const net::test::TempDir reports;
  const std::string directory = reports.file("report");
  run.status =
      test::run_command("timeout 240 " + runner_path + " test-server " + url + " --cases '" +
                            cases + "' --report " + directory + " " + flags + " 2>&1",
                        run.output);
  run.cases = read_index(directory);
  return run;
}

// Runs the fuzzing client against ws://127.0.0.1:`port`/.
RunnerRun run_runner(std::uint16_t port, const std::string& cases) {
  return run_runner_at("ws://127.0.0.1:" + std::to_string(port) + "/", cases);
}

// The cases the spec leaves open; everything else must be OK.
bool only_informational(const std::string& id) {
  return id == "7.1.6" || id == "7.13.1" || id == "7.13.2";
}

// How many catalogue cases the patterns below name (the runner must have run every one).
constexpr std::size_t cases_1_to_7_and_10 = 16 + 11 + 7 + 10 + 20 + 145 + 37 + 1;

void expect_every_case_passes(const RunnerRun& run, std::size_t expected_count) {
  ASSERT_EQ(run.cases.size(), expected_count) << run.output;
  EXPECT_EQ(run.status, 0) << run.output;
  for (const auto& [id, verdicts] : run.cases) {
    const std::string wanted = only_informational(id) ? "INFORMATIONAL" : "OK";
    EXPECT_EQ(verdicts.behavior, wanted) << "case " << id;
    EXPECT_EQ(verdicts.close, wanted) << "case " << id;
  }
}

#define START_ECHO(variable, ...)                                                                  \
  if (::access(runner_path.c_str(), X_OK) != 0) GTEST_SKIP() << "fastws-conformance is not built"; \
  START_EXAMPLE(variable, "echo" __VA_OPT__(, ) __VA_ARGS__)

TEST(Conformance, EchoPassesFramingPingsReservedBitsOpcodesFragmentationUtf8CloseAndMisc) {
  START_ECHO(echo);
  expect_every_case_passes(run_runner(echo.port(), "1.*,2.*,3.*,4.*,5.*,6.*,7.*,10.*"),
                           cases_1_to_7_and_10);
}

TEST(Conformance, CompressingEchoPassesFramingPingsReservedBitsOpcodesFragmentationUtf8Close) {
  START_ECHO(echo, {"--compress"});
  expect_every_case_passes(run_runner(echo.port(), "1.*,2.*,3.*,4.*,5.*,6.*,7.*,10.*"),
                           cases_1_to_7_and_10);
}

TEST(Conformance, EchoPassesLimitsAndPerformance) {
  if (!optimised_build) GTEST_SKIP() << "9.x runs in optimised builds without sanitizers";
  START_ECHO(echo);
  expect_every_case_passes(run_runner(echo.port(), "9.*"), 54);
}

TEST(Conformance, CompressingEchoPassesLimitsAndPerformance) {
  if (!optimised_build) GTEST_SKIP() << "9.x runs in optimised builds without sanitizers";
  START_ECHO(echo, {"--compress"});
  expect_every_case_passes(run_runner(echo.port(), "9.*"), 54);
}

// 12.x and 13.x: 1000 compressed messages per case. Every payload kind and every offer variant
// with 16-octet messages; optimised builds add messages up to 1 KiB and 8 KiB messages whose
// compressed payload goes out in 256-octet frames.
TEST(Conformance, CompressingEchoPassesCompressionCases) {
  START_ECHO(echo, {"--compress"});
  const std::string sizes = optimised_build ? "1,2,3,4,11" : "1";
  std::string patterns;
  std::size_t count = 0;
  std::istringstream list(sizes);
  for (std::string size; std::getline(list, size, ',');) {
    if (!patterns.empty()) patterns += ',';
    patterns.append("12.*.").append(size).append(",13.*.").append(size);
    count += 5 + 7;
  }
  expect_every_case_passes(run_runner(echo.port(), patterns), count);
}

TEST(Conformance, EchoWithoutCompressionDeclinesTheCompressionCases) {
  START_ECHO(echo);
  const RunnerRun run = run_runner(echo.port(), "12.1.1,13.7.1");
  ASSERT_EQ(run.cases.size(), 2u) << run.output;
  EXPECT_EQ(run.status, 0) << run.output;
  for (const auto& [id, verdicts] : run.cases) {
    EXPECT_EQ(verdicts.behavior, "UNIMPLEMENTED") << id;
    EXPECT_EQ(verdicts.close, "OK") << id;
  }
}

// wss://: cases over TLS against the echo example with the test certificate, which the runner
// is told to trust (--ca). Among them cases whose frames go out in pieces with pauses between
// (5.x, 6.4.x: TLS records of their own) and two compression cases.
constexpr const char* cases_over_tls = "1.1.*,2.*,5.*,6.4.*,7.1.*,12.1.1,13.3.1";
constexpr std::size_t cases_over_tls_count = 8 + 11 + 20 + 4 + 6 + 2;

std::string wss_url(std::uint16_t port) {
  return "wss://127.0.0.1:" + std::to_string(port) + "/";
}

#define START_TLS_ECHO(variable)                                                       \
  const TestCertificate& certificate = TestCertificate::get();                         \
  START_ECHO(variable, {"--compress", "--cert", certificate.certificate_file, "--key", \
                        certificate.key_file})

TEST(Conformance, CompressingEchoOverTlsPassesCasesOverWss) {
  START_TLS_ECHO(echo);
  expect_every_case_passes(
      run_runner_at(wss_url(echo.port()), cases_over_tls, "--ca " + certificate.certificate_file),
      cases_over_tls_count);
}

TEST(Conformance, RunnerOverWssRefusesAnUntrustedCertificateUnlessInsecure) {
  START_TLS_ECHO(echo);
  // The system's CAs do not know the test certificate: no case can start.
  const RunnerRun refused = run_runner_at(wss_url(echo.port()), "1.1.1,1.1.2");
  ASSERT_EQ(refused.cases.size(), 2u) << refused.output;
  EXPECT_EQ(refused.status, 1) << refused.output;
  EXPECT_EQ(refused.cases.at("1.1.1").behavior, "FAILED");
  EXPECT_NE(refused.output.find("certificate verification failed"), std::string::npos)
      << refused.output;
  expect_every_case_passes(run_runner_at(wss_url(echo.port()), "1.1.1,1.1.2", "--insecure"), 2);
}

// A deliberately wrong WebSocket server on 127.0.0.1, one connection at a time on its own
// thread. It echoes data frames, answers pings, and answers a close frame with
// `close_reply_code`. With `check_utf8_at_end` it holds each message until it is complete and
// only then checks its text (closing with 1007 when invalid): right verdict, but not fail-fast.
// Without, it echoes every frame as it came, invalid text included.
class WrongServer {
 public:
  WrongServer(bool check_utf8_at_end, std::uint16_t close_reply_code)
      : check_utf8_at_end_(check_utf8_at_end), close_reply_code_(close_reply_code) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
        ::listen(listener_, 8) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      return;
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~WrongServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(listener_);
  }

  std::uint16_t port() const { return port_; }

 private:
  struct Frame {
    bool fin = false;
    unsigned opcode = 0;
    std::string payload;
  };

  void serve() {
    while (!stop_) {
      pollfd ready{listener_, POLLIN, 0};
      if (::poll(&ready, 1, 50) != 1) continue;
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      const timeval timeout{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      if (upgrade(fd)) serve_connection(fd);
      ::close(fd);
    }
  }

  static bool read_exact(int fd, std::string& out, std::size_t size) {
    out.resize(size);
    for (std::size_t at = 0; at < size;) {
      const ssize_t n = ::recv(fd, out.data() + at, size - at, 0);
      if (n <= 0) return false;
      at += static_cast<std::size_t>(n);
    }
    return true;
  }

  static void send_frame(int fd, unsigned opcode, bool fin, std::string_view payload) {
    std::string wire(1, static_cast<char>((fin ? 0x80u : 0u) | opcode));
    if (payload.size() < 126) {
      wire += static_cast<char>(payload.size());
    } else {
      wire += static_cast<char>(127);
      for (int shift = 56; shift >= 0; shift -= 8) {
        wire += static_cast<char>((payload.size() >> shift) & 0xFFu);
      }
    }
    wire += payload;
    ::send(fd, wire.data(), wire.size(), MSG_NOSIGNAL);
  }

  static void send_close(int fd, std::uint16_t code) {
    send_frame(fd, 8, true,
               std::string{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)});
  }

  static bool upgrade(int fd) {
    std::string head;
    char c = 0;
    while (head.find("\r\n\r\n") == std::string::npos && ::recv(fd, &c, 1, 0) == 1) head += c;
    std::smatch key;
    if (!std::regex_search(head, key, std::regex("Sec-WebSocket-Key: ([^\r]+)"))) return false;
    const std::string response =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        protocol::compute_accept_key(key[1].str()) + "\r\n\r\n";
    return ::send(fd, response.data(), response.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(response.size());
  }

  static bool read_frame(int fd, Frame& frame) {
    std::string bytes;
    if (!read_exact(fd, bytes, 2)) return false;
    frame.fin = (static_cast<unsigned char>(bytes[0]) & 0x80u) != 0;
    frame.opcode = static_cast<unsigned char>(bytes[0]) & 0x0Fu;
    std::uint64_t length = static_cast<unsigned char>(bytes[1]) & 0x7Fu;
    const std::size_t digits = length == 126 ? 2 : (length == 127 ? 8 : 0);
    if (digits != 0) {
      if (!read_exact(fd, bytes, digits)) return false;
      length = 0;
      for (const char digit : bytes) length = (length << 8) | static_cast<unsigned char>(digit);
    }
    std::string mask;
    if (!read_exact(fd, mask, 4) || !read_exact(fd, frame.payload, length)) return false;
    for (std::size_t i = 0; i < frame.payload.size(); ++i) {
      frame.payload[i] = static_cast<char>(frame.payload[i] ^ mask[i % 4]);
    }
    return true;
  }

  // Reads until the client's close frame (or the end), then the caller closes TCP.
  static void await_close(int fd) {
    Frame frame;
    while (read_frame(fd, frame) && frame.opcode != 8) {
    }
  }

  void serve_connection(int fd) {
    Frame frame;
    unsigned message_opcode = 0;
    std::string message;
    while (read_frame(fd, frame)) {
      if (frame.opcode == 8) {
        send_close(fd, close_reply_code_);
        return;
      }
      if (frame.opcode == 9) {
        send_frame(fd, 10, true, frame.payload);
        continue;
      }
      if (frame.opcode == 10) continue;
      if (!check_utf8_at_end_) {
        send_frame(fd, frame.opcode, frame.fin, frame.payload);
        continue;
      }
      if (frame.opcode != 0) message_opcode = frame.opcode;
      message += frame.payload;
      if (!frame.fin) continue;
      if (message_opcode == 1 && !protocol::is_valid_utf8(message)) {
        send_close(fd, 1007);
        await_close(fd);
        return;
      }
      send_frame(fd, message_opcode, true, message);
      message.clear();
    }
  }

  bool check_utf8_at_end_;
  std::uint16_t close_reply_code_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(Conformance, RunnerFailsAServerThatEchoesInvalidUtf8AndAnswersCloseWithTheWrongCode) {
  if (::access(runner_path.c_str(), X_OK) != 0) GTEST_SKIP() << "fastws-conformance is not built";
  WrongServer server(false, 1001);
  ASSERT_NE(server.port(), 0);
  const RunnerRun run = run_runner(server.port(), "1.1.1,6.3.1,7.3.3");
  ASSERT_EQ(run.cases.size(), 3u) << run.output;
  EXPECT_EQ(run.status, 1) << run.output;
  // The echo is right, the close code is not (1000 expected).
  EXPECT_EQ(run.cases.at("1.1.1").behavior, "OK");
  EXPECT_EQ(run.cases.at("1.1.1").close, "WRONG CODE");
  // The invalid text came back: the fuzzer had to fail the connection itself.
  EXPECT_EQ(run.cases.at("6.3.1").behavior, "FAILED");
  EXPECT_EQ(run.cases.at("6.3.1").close, "FAILED");
  // A close case with the wrong code fails the behaviour too.
  EXPECT_EQ(run.cases.at("7.3.3").behavior, "FAILED");
  EXPECT_EQ(run.cases.at("7.3.3").close, "WRONG CODE");
}

TEST(Conformance, RunnerGivesNonStrictToAServerThatChecksUtf8OnlyAtTheMessageEnd) {
  if (::access(runner_path.c_str(), X_OK) != 0) GTEST_SKIP() << "fastws-conformance is not built";
  WrongServer server(true, 1000);
  ASSERT_NE(server.port(), 0);
  const RunnerRun run = run_runner(server.port(), "6.3.1,6.4.1");
  ASSERT_EQ(run.cases.size(), 2u) << run.output;
  EXPECT_EQ(run.status, 0) << run.output;  // NON-STRICT passes
  EXPECT_EQ(run.cases.at("6.3.1").behavior, "OK");
  EXPECT_EQ(run.cases.at("6.3.1").close, "OK");
  // 1007 came, but only after the whole message: both pauses passed.
  EXPECT_EQ(run.cases.at("6.4.1").behavior, "NON-STRICT");
  EXPECT_EQ(run.cases.at("6.4.1").close, "OK");
}

// A listening socket that answers nothing: it sees when the runner connects.
class SilentListener {
 public:
  SilentListener() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), size) == 0 &&
        ::listen(listener_, 8) == 0 &&
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
      port_ = ntohs(address.sin_port);
    }
  }
  ~SilentListener() {
    for (const int fd : accepted_) ::close(fd);
    ::close(listener_);
  }

  std::uint16_t port() const { return port_; }

  // Accepts the next connection within `timeout` and reads its request head; false if none.
  bool accept_request(std::chrono::milliseconds timeout) {
    pollfd ready{listener_, POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(timeout.count())) != 1) return false;
    const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return false;
    accepted_.push_back(fd);
    const timeval read_timeout{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &read_timeout, sizeof read_timeout);
    std::string head;
    char c = 0;
    while (head.find("\r\n\r\n") == std::string::npos && ::recv(fd, &c, 1, 0) == 1) head += c;
    return head.starts_with("GET ");
  }

  // Closes every connection accepted so far without an answer: their handshakes fail.
  void drop_all() {
    for (const int fd : accepted_) ::close(fd);
    accepted_.clear();
  }

 private:
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::vector<int> accepted_;
};

TEST(Conformance, RunnerPlaysCasesAtTheSameTimeAndThe9xCasesAlone) {
  if (::access(runner_path.c_str(), X_OK) != 0) GTEST_SKIP() << "fastws-conformance is not built";
  SilentListener server;
  ASSERT_NE(server.port(), 0);
  const net::test::TempDir reports;
  test::ChildProcess runner(
      {runner_path, "test-server", "ws://127.0.0.1:" + std::to_string(server.port()) + "/",
       "--jobs", "2", "--cases", "1.1.1,1.1.2,9.7.1,9.7.2", "--report", reports.file("report")});
  // 1.1.1 and 1.1.2: the second connection comes while the first waits for its answer.
  ASSERT_TRUE(server.accept_request(5s)) << runner.output();
  ASSERT_TRUE(server.accept_request(5s)) << "the second case waited for the first";
  server.drop_all();
  // 9.7.1 and 9.7.2 are each played alone: no second connection while the first is open.
  ASSERT_TRUE(server.accept_request(5s));
  EXPECT_FALSE(server.accept_request(500ms)) << "a 9.x case was played beside another";
  server.drop_all();
  EXPECT_TRUE(server.accept_request(5s));
  server.drop_all();
  EXPECT_EQ(runner.wait_exit(10s), 1) << runner.output();  // every handshake failed
}

// The runner's rows in index.json, in file order.
std::vector<std::string> index_order(const std::string& directory) {
  std::vector<std::string> ids;
  std::ifstream index(directory + "/index.json");
  const std::regex row(R"re(^ *"([0-9.]+)": \{)re");
  for (std::string line; std::getline(index, line);) {
    std::smatch match;
    if (std::regex_search(line, match, row)) ids.push_back(match[1]);
  }
  return ids;
}

TEST(Conformance, FuzzingServerPlaysCasesAtTheSameTimeAndThe9xCasesAlone) {
  if (::access(runner_path.c_str(), X_OK) != 0) GTEST_SKIP() << "fastws-conformance is not built";
  const net::test::TempDir reports;
  const std::string directory = reports.file("report");
  test::ChildProcess runner({runner_path, "test-client", "--port", "0", "--once", "--cases",
                             "1.1.1,1.1.2,9.7.1", "--report", directory});
  const std::uint16_t port = runner.wait_for_port("ws://127.0.0.1:", 5s);
  ASSERT_NE(port, 0) << runner.output();
  // Case 1 (1.1.1) opens and sends its empty text message; it waits for the echo.
  RawPeer first(port);
  ASSERT_NE(first.handshake("/runCase?case=1&agent=t").find(" 101 "), std::string::npos);
  const auto first_message = first.read_frame();
  ASSERT_TRUE(first_message && first_message->opcode == Opcode::text);
  // Case 2 (1.1.2) opens meanwhile; echoed, case 1 still ends with a normal close.
  RawPeer second(port);
  ASSERT_NE(second.handshake("/runCase?case=2&agent=t").find(" 101 "), std::string::npos);
  ASSERT_TRUE(first.send_text(""));
  EXPECT_EQ(first.read_close_code(), 1000) << "case 1 was over before case 2 opened";
  // Case 3 (9.7.1) is played alone: its handshake is answered once case 2 is over.
  RawPeer third(port, 500ms);
  ASSERT_TRUE(third.send_raw(RawPeer::upgrade_request("/runCase?case=3&agent=t")));
  EXPECT_EQ(third.read_head(), "") << "a 9.x case was played beside another";
  const auto second_message = second.read_frame();
  ASSERT_TRUE(second_message && second_message->opcode == Opcode::text);
  ASSERT_TRUE(second.send_frame(Frame::text(to_string(second_message->payload))));
  EXPECT_EQ(second.read_close_code(), 1000);
  third.set_timeout(5s);
  EXPECT_NE(third.read_head().find(" 101 "), std::string::npos);
  ::shutdown(third.fd(), SHUT_RDWR);  // case 3 ends, the peer gone
  RawPeer report(port);
  ASSERT_NE(report.handshake("/updateReports?agent=t").find(" 101 "), std::string::npos);
  EXPECT_TRUE(runner.wait_exit(10s).has_value()) << runner.output();
  // Rows in catalogue order whatever order the cases ended in.
  EXPECT_EQ(index_order(directory), (std::vector<std::string>{"1.1.1", "1.1.2", "9.7.1"}));
  EXPECT_EQ(read_index(directory)["1.1.1"].behavior, "OK") << runner.output();
  EXPECT_EQ(read_index(directory)["1.1.2"].behavior, "OK") << runner.output();
}

// The client under test on fastws's Client: asks for the case count, runs every case on a
// connection of its own (echoing each message back, as is), then asks for the reports.
class FastwsTestee {
 public:
  // `ca_file`: connect with wss://, trusting these CAs.
  explicit FastwsTestee(const std::string& ca_file = {}) : scheme_(ca_file.empty() ? "ws" : "wss") {
    ClientOptions options;
    options.compression.enabled = true;  // the default offer, as fastws's users make it
    options.tls.ca_file = ca_file;
    client_ = std::make_unique<Client>(options);
    client_->on_message([this](const Conn& conn, Message message) {
      if (counting_) {
        const std::lock_guard lock(mutex_);
        count_text_ = std::string(message.text());
        return;
      }
      conn.send(message.data(), message.opcode());
    });
    client_->on_close([this](const Conn&, const CloseStatus&) {
      const std::lock_guard lock(mutex_);
      ++closed_;
      changed_.notify_all();
    });
  }

  // Plays every case; false with `error` set when a connection could not be opened.
  bool play(std::uint16_t port, std::string& error) {
    const std::string server = scheme_ + "://127.0.0.1:" + std::to_string(port);
    counting_ = true;
    if (!visit(server + "/getCaseCount", error)) return false;
    counting_ = false;
    const int count = std::atoi(count_text_.c_str());
    if (count <= 0) {
      error = "no case count, got '" + count_text_ + "'";
      return false;
    }
    for (int i = 1; i <= count; ++i) {
      if (!visit(server + "/runCase?case=" + std::to_string(i) + "&agent=fastws", error)) {
        return false;
      }
    }
    return visit(server + "/updateReports?agent=fastws", error);
  }

 private:
  // Opens `url` and waits until the connection has closed.
  bool visit(const std::string& url, std::string& error) {
    std::size_t before = 0;
    {
      const std::lock_guard lock(mutex_);
      before = closed_;
    }
    const ConnectResult result = client_->connect_and_wait(url);
    if (!result) {
      error = url + ": " + result.error.reason;
      return false;
    }
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, 60s, [&] { return closed_ > before; })) {
      error = url + ": not closed within 60 s";
      return false;
    }
    return true;
  }

  std::string scheme_;
  std::unique_ptr<Client> client_;
  std::atomic<bool> counting_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t closed_ = 0;
  std::string count_text_;
};

// Runs the fuzzing server (test-client, with `flags`) on `cases` and the fastws client testee
// against it (`ca_file`: over wss://, trusting these CAs); every case must pass.
void expect_fastws_client_passes(const std::string& cases, std::size_t count,
                                 const std::string& flags = {}, const std::string& ca_file = {}) {
  const net::test::TempDir reports;
  const std::string directory = reports.file("report");
  FILE* server = ::popen(("timeout 240 " + runner_path + " test-client --port 0 --once --cases '" +
                          cases + "' --report " + directory + " " + flags + " 2>&1")
                             .c_str(),
                         "r");
  ASSERT_NE(server, nullptr);
  std::string output;
  char line[512];
  std::uint16_t port = 0;
  if (std::fgets(line, sizeof line, server) != nullptr) {
    output = line;
    std::smatch match;
    if (std::regex_search(output, match, std::regex(R"(wss?://127\.0\.0\.1:(\d+)/)"))) {
      port = static_cast<std::uint16_t>(std::stoi(match[1]));
    }
  }
  std::string error;
  const bool played = port != 0 && FastwsTestee(ca_file).play(port, error);
  while (std::fgets(line, sizeof line, server) != nullptr) output += line;
  const int status = ::pclose(server);
  ASSERT_TRUE(played) << error << "\n" << output;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  const auto verdicts = read_index(directory);
  ASSERT_EQ(verdicts.size(), count) << output;
  for (const auto& [id, verdict] : verdicts) {
    const std::string wanted = only_informational(id) ? "INFORMATIONAL" : "OK";
    EXPECT_EQ(verdict.behavior, wanted) << "case " << id;
    EXPECT_EQ(verdict.close, wanted) << "case " << id;
  }
}

TEST(Conformance, FuzzingServerPlaysTheCasesWithTheFastwsClient) {
  if (::access(runner_path.c_str(), X_OK) != 0) GTEST_SKIP() << "fastws-conformance is not built";
  const std::string cases = std::string("1.*,2.*,3.*,4.*,5.*,6.*,7.*,10.*,12.*.1,13.*.1") +
                            (optimised_build ? ",9.*" : "");
  expect_fastws_client_passes(cases, cases_1_to_7_and_10 + 12 + (optimised_build ? 54 : 0));
}

TEST(Conformance, FuzzingServerOverTlsPlaysCasesWithTheFastwsClient) {
  if (::access(runner_path.c_str(), X_OK) != 0) GTEST_SKIP() << "fastws-conformance is not built";
  const TestCertificate& certificate = TestCertificate::get();
  expect_fastws_client_passes(
      cases_over_tls, cases_over_tls_count,
      "--cert " + certificate.certificate_file + " --key " + certificate.key_file,
      certificate.certificate_file);
}

}  // namespace
}  // namespace fastws::testing
