// fastws_bench against real servers on 127.0.0.1: the plain TCP echo server (tcp mode, and ws
// mode to see a failed upgrade), a Python `websockets` echo server (ws mode, with faults
// switched on to see that a wrong echo or a closed connection fails the run), and the two
// broadcast servers of bench/run_broadcast.sh (the plain TCP relay and fastws) for `broadcast`.
// And fastws_attack, which starts its own servers (the examples), on its cheapest attack.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "support/child_process.hpp"

namespace {

using namespace std::chrono_literals;

const std::string bench_binary = FASTWS_BINARY_DIR "/tools/fastws_bench";
const std::string attack_binary = FASTWS_BINARY_DIR "/tools/fastws_attack";
const std::string echo_example_binary = FASTWS_BINARY_DIR "/examples/echo";
const std::string tcp_echo_binary = FASTWS_BINARY_DIR "/bench/tcp_echo_server";
const std::string tcp_broadcast_binary = FASTWS_BINARY_DIR "/bench/tcp_broadcast_server";
const std::string fastws_broadcast_binary = FASTWS_BINARY_DIR "/bench/fastws_broadcast_server";
const std::string python = "/usr/bin/python3";
const std::string ws_echo_script = FASTWS_TEST_DATA_DIR "/interop/ws_echo_server.py";

bool is_executable(const std::string& path) {
  return access(path.c_str(), X_OK) == 0;
}

using Child = fastws::test::ChildProcess;

// The port in a server's "listening on 127.0.0.1:PORT" line (the examples print "listening on
// ws://127.0.0.1:PORT/"), once it printed one.
std::string wait_until_listening(Child& server) {
  const auto line = server.wait_for_line("listening on ", 10s);
  const std::string host = "127.0.0.1:";
  if (!line || line->find(host) == std::string::npos) return {};
  const auto begin = line->find(host) + host.size();
  return line->substr(begin, line->find_first_not_of("0123456789", begin) - begin);
}

// A port that was free a moment ago, for servers that must be told one.
std::string free_port() {
  Child probe({python, "-c",
               "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); "
               "print(s.getsockname()[1])"});
  probe.wait_exit(10s);
  return probe.output().substr(0, probe.output().find('\n'));
}

bool python_has_websockets() {
  if (!is_executable(python)) return false;
  Child check({python, "-c", "import websockets"});
  return check.wait_exit(10s) == 0;
}

// The value of `key=` in fastws_bench's result line, or -1.
double result_value(const std::string& output, const std::string& key) {
  const auto at = output.find(" " + key + "=");
  if (at == std::string::npos) return -1;
  return std::strtod(output.c_str() + at + key.size() + 2, nullptr);
}

struct BenchRun {
  std::optional<int> exit_code;
  std::string output;
};

BenchRun run_bench(std::vector<std::string> args) {
  args.insert(args.begin(), bench_binary);
  Child bench(args);
  BenchRun run;
  run.exit_code = bench.wait_exit(30s);
  run.output = bench.output();
  return run;
}

// A server of bench/load/ (`--port N`, then "listening on 127.0.0.1:N") on a free port, for the
// length of one test.
class BenchServer : public ::testing::Test {
 protected:
  explicit BenchServer(std::string binary, std::vector<std::string> args = {})
      : binary_(std::move(binary)), args_(std::move(args)) {}

  void SetUp() override {
    const std::string name = binary_.substr(binary_.rfind('/') + 1);
    if (!is_executable(bench_binary) || !is_executable(binary_)) {
      GTEST_SKIP() << "build fastws_bench and " << name << " first";
    }
    if (!is_executable(python)) GTEST_SKIP() << "no /usr/bin/python3 to find a free port";
    std::vector<std::string> argv{binary_, "--port", free_port()};
    argv.insert(argv.end(), args_.begin(), args_.end());
    server_.emplace(argv);
    port_ = wait_until_listening(*server_);
    ASSERT_FALSE(port_.empty()) << name << " did not start: " << server_->output();
  }

  std::string server_pid() const { return std::to_string(server_->pid()); }

  std::string binary_;
  std::vector<std::string> args_;
  std::optional<Child> server_;
  std::string port_;
};

class TcpEchoServer : public BenchServer {
 protected:
  TcpEchoServer() : BenchServer(tcp_echo_binary) {}
};

TEST_F(TcpEchoServer, PingPongInTcpModeMeasuresEchoes) {
  const BenchRun run =
      run_bench({"echo", "--mode", "tcp", "--port", port_, "--connections", "10", "--duration", "1",
                 "--warmup", "0", "--server-pid", server_pid()});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_GT(result_value(run.output, "msgs_per_s"), 0) << run.output;
  EXPECT_GT(result_value(run.output, "messages"), 0) << run.output;
  EXPECT_GE(result_value(run.output, "server_cpu_s"), 0) << run.output;
}

TEST_F(TcpEchoServer, UnlimitedPipelineInTcpModeMeasuresEchoes) {
  const BenchRun run = run_bench({"echo", "--mode", "tcp", "--port", port_, "--connections", "10",
                                  "--pipeline", "0", "--duration", "1", "--warmup", "0"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_GT(result_value(run.output, "msgs_per_s"), 0) << run.output;
}

// The server dies in the middle of the run: the connections end, and so must the run, with an
// error instead of a figure.
TEST_F(TcpEchoServer, ServerExitFailsTheRun) {
  Child bench({bench_binary, "echo", "--mode", "tcp", "--port", port_, "--connections", "10",
               "--duration", "10", "--warmup", "0"});
  std::this_thread::sleep_for(500ms);
  server_.reset();  // kills the server (SIGKILL) and reaps it
  EXPECT_EQ(bench.wait_exit(10s), 1) << bench.output();
  EXPECT_NE(bench.output().find("echo: connection "), std::string::npos) << bench.output();
  EXPECT_EQ(bench.output().find("msgs_per_s="), std::string::npos) << bench.output();
}

// A TCP echo server sends the upgrade request back: its first line is not "HTTP/1.1 101".
TEST_F(TcpEchoServer, WsModeFailsWithoutUpgrade) {
  const BenchRun run = run_bench({"echo", "--mode", "ws", "--port", port_, "--connections", "2",
                                  "--duration", "1", "--warmup", "0"});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("did not answer the upgrade with 101"), std::string::npos)
      << run.output;
}

TEST_F(TcpEchoServer, IdleReportsMemoryPerConnection) {
  const BenchRun run = run_bench({"idle", "--mode", "tcp", "--port", port_, "--connections", "200",
                                  "--settle", "0", "--server-pid", server_pid()});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(result_value(run.output, "connections"), 200) << run.output;
  EXPECT_GT(result_value(run.output, "rss_after"), 0) << run.output;
  EXPECT_NE(run.output.find("bytes_per_conn="), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("NOT included"), std::string::npos) << run.output;
}

class PythonWsEchoServer : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_executable(bench_binary)) GTEST_SKIP() << "build fastws_bench first";
    if (!python_has_websockets()) GTEST_SKIP() << "/usr/bin/python3 cannot import websockets";
  }

  // Starts tests/interop/ws_echo_server.py with `faults` and returns its port.
  std::string start(std::vector<std::string> faults = {}) {
    std::vector<std::string> argv{python, ws_echo_script, "--port", "0"};
    argv.insert(argv.end(), faults.begin(), faults.end());
    server_.emplace(argv);
    const std::string port = wait_until_listening(*server_);
    EXPECT_FALSE(port.empty()) << "ws_echo_server.py did not start: " << server_->output();
    return port;
  }

  BenchRun ping_pong(const std::string& port) {
    return run_bench({"echo", "--mode", "ws", "--pipeline", "1", "--port", port, "--connections",
                      "10", "--duration", "1", "--warmup", "0"});
  }

  std::optional<Child> server_;
};

TEST_F(PythonWsEchoServer, PingPongInWsModeMeasuresEchoes) {
  const BenchRun run = ping_pong(start());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_GT(result_value(run.output, "msgs_per_s"), 0) << run.output;
}

TEST_F(PythonWsEchoServer, PipelinedWsModeMeasuresEchoes) {
  const BenchRun run =
      run_bench({"echo", "--mode", "ws", "--pipeline", "16", "--size", "300", "--port", start(),
                 "--connections", "4", "--duration", "1", "--warmup", "0"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_GT(result_value(run.output, "msgs_per_s"), 0) << run.output;
}

// The server flips the last byte of every 50th message: the payload check must catch it.
TEST_F(PythonWsEchoServer, WrongEchoFailsTheRun) {
  const BenchRun run = ping_pong(start({"--corrupt-every", "50"}));
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("byte 17 is"), std::string::npos) << run.output;  // 2 + 16 - 1
}

// Every 30th echo repeats the message before it: the sequence number in the payload (its first
// bytes, right after the 2-byte header) must catch a stale echo whose length and bytes are right.
TEST_F(PythonWsEchoServer, StaleEchoFailsTheRun) {
  const BenchRun run = ping_pong(start({"--stale-every", "30"}));
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("message 29, byte 2 is 0x1c, expected 0x1d"), std::string::npos)
      << run.output;
}

// The server closes each connection after 20 echoes.
TEST_F(PythonWsEchoServer, ClosedConnectionFailsTheRun) {
  const BenchRun run = ping_pong(start({"--close-after", "20"}));
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("the server sent a close frame"), std::string::npos) << run.output;
}

class TcpBroadcastServer : public BenchServer {
 protected:
  TcpBroadcastServer() : BenchServer(tcp_broadcast_binary) {}
};

class FastwsBroadcastServer : public BenchServer {
 protected:
  FastwsBroadcastServer() : BenchServer(fastws_broadcast_binary) {}
};

// One measured second of broadcasts to 20 connections, 4 in flight, with the server's CPU time.
BenchRun broadcast_for_a_second(const std::string& mode, const std::string& port,
                                const std::string& server_pid) {
  return run_bench({"broadcast", "--mode", mode, "--port", port, "--connections", "20", "--window",
                    "4", "--duration", "1", "--warmup", "0", "--server-pid", server_pid});
}

// What broadcast_for_a_second must print: a positive rate, which (one sample) is the deliveries
// measured, and every broadcast delivered to each of the 20 connections: 20 deliveries per
// completed broadcast, give or take the 4 x 20 of the broadcasts in flight at either end.
void expect_fan_out_to_20(const BenchRun& run, const std::string& mode) {
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.output.rfind("mode=" + mode + " connections=20 ", 0), 0u) << run.output;
  EXPECT_EQ(result_value(run.output, "samples"), 1) << run.output;
  const double per_second = result_value(run.output, "deliveries_per_s");
  const double deliveries = result_value(run.output, "deliveries");
  EXPECT_GT(per_second, 0) << run.output;
  EXPECT_EQ(per_second, deliveries) << run.output;
  const double broadcasts =
      result_value(run.output, "broadcasts_per_s") * result_value(run.output, "seconds");
  ASSERT_GT(broadcasts, 100) << run.output;
  EXPECT_NEAR(deliveries / broadcasts, 20, 1) << run.output;
  EXPECT_GT(result_value(run.output, "server_cpu_s"), 0) << run.output;
  EXPECT_GT(result_value(run.output, "deliveries_per_server_cpu_s"), 0) << run.output;
  EXPECT_NE(run.output.find(" M deliveries/s (median of 1 one-second samples) to 20 connections"),
            std::string::npos)
      << run.output;
}

TEST_F(TcpBroadcastServer, ThroughputInTcpModeMeasuresDeliveries) {
  expect_fan_out_to_20(broadcast_for_a_second("tcp", port_, server_pid()), "tcp");
}

TEST_F(FastwsBroadcastServer, ThroughputInWsModeMeasuresDeliveries) {
  expect_fan_out_to_20(broadcast_for_a_second("ws", port_, server_pid()), "ws");
}

// 50 broadcasts for 20 connections that do not read: the figures are per delivery (20 x 50),
// and each frame (1024 payload bytes behind a 4-byte header, RFC 6455 5.2) is either in a
// kernel socket queue or left to the server.
TEST_F(FastwsBroadcastServer, QueuedBroadcastsReportMemoryPerDelivery) {
  const BenchRun run = run_bench({"broadcast", "--mode", "ws", "--port", port_, "--connections",
                                  "20", "--queued", "50", "--server-pid", server_pid()});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(result_value(run.output, "queued"), 50) << run.output;
  EXPECT_EQ(result_value(run.output, "frame_bytes"), 1028) << run.output;
  EXPECT_GT(result_value(run.output, "rss_before"), 0) << run.output;
  EXPECT_GT(result_value(run.output, "rss_after"), 0) << run.output;
  // RSS growth may be anything (even negative): only that it is there.
  EXPECT_NE(run.output.find(" user_bytes_per_delivery="), std::string::npos) << run.output;
  const double server_send = result_value(run.output, "server_send_queue");
  const double client_receive = result_value(run.output, "client_receive_queue");
  EXPECT_GT(client_receive, 0) << run.output;  // the server wrote, nobody read
  const double kernel = result_value(run.output, "kernel_bytes_per_delivery");
  const double held = result_value(run.output, "held_bytes_per_delivery");
  EXPECT_NEAR(kernel, (server_send + client_receive) / (20 * 50), 1) << run.output;
  EXPECT_GT(kernel, 0) << run.output;
  EXPECT_LE(kernel, 1028) << run.output;
  EXPECT_NEAR(kernel + held, 1028, 0.2) << run.output;
  EXPECT_NE(run.output.find("50 broadcasts of 1024 bytes queued for 20 connections"),
            std::string::npos)
      << run.output;
}

TEST_F(FastwsBroadcastServer, QueuedWithoutServerPidIsAUsageError) {
  const BenchRun run = run_bench(
      {"broadcast", "--mode", "ws", "--port", port_, "--connections", "2", "--queued", "5"});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("broadcast: --queued needs --server-pid"), std::string::npos)
      << run.output;
}

// The relay dies in the middle of the run: the connections end, and so must the run, with an
// error instead of a figure.
TEST_F(TcpBroadcastServer, ServerExitFailsTheRun) {
  Child bench({bench_binary, "broadcast", "--mode", "tcp", "--port", port_, "--connections", "20",
               "--duration", "10", "--warmup", "0"});
  std::this_thread::sleep_for(500ms);
  server_.reset();  // kills the server (SIGKILL) and reaps it
  EXPECT_EQ(bench.wait_exit(10s), 1) << bench.output();
  // "the server closed connection N", or a reset ("recv on connection N: ...").
  EXPECT_EQ(bench.output().rfind("broadcast: ", 0), 0u) << bench.output();
  EXPECT_NE(bench.output().find("connection "), std::string::npos) << bench.output();
  EXPECT_EQ(bench.output().find("deliveries_per_s="), std::string::npos) << bench.output();
}

// An echo server sends each publication back to the publisher only: no broadcast ever reaches
// every connection, and a run without a single one is a failure, not a rate of 0.
TEST_F(TcpEchoServer, BroadcastWithoutFanOutFailsTheRun) {
  const BenchRun run = run_bench({"broadcast", "--mode", "tcp", "--port", port_, "--connections",
                                  "3", "--duration", "1", "--warmup", "0"});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("broadcast: no broadcast reached every connection in 1 s"),
            std::string::npos)
      << run.output;
  EXPECT_EQ(run.output.find("deliveries_per_s="), std::string::npos) << run.output;
}

// The relay copies the upgrade request to every connection: its first line is not
// "HTTP/1.1 101".
TEST_F(TcpBroadcastServer, WsModeFailsWithoutUpgrade) {
  const BenchRun run = run_bench({"broadcast", "--mode", "ws", "--port", port_, "--connections",
                                  "2", "--duration", "1", "--warmup", "0"});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("did not answer the upgrade with 101"), std::string::npos)
      << run.output;
  EXPECT_EQ(run.output.find("deliveries_per_s="), std::string::npos) << run.output;
}

// Without an upgrade the WebSocket server answers the publisher's frame with an HTTP error: the
// first received byte already differs from the broadcast's frame.
TEST_F(FastwsBroadcastServer, TcpModeFailsOnWrongBytes) {
  const BenchRun run = run_bench({"broadcast", "--mode", "tcp", "--port", port_, "--connections",
                                  "2", "--duration", "1", "--warmup", "0"});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("broadcast: connection 0: wrong bytes in broadcast 0 at offset 0"),
            std::string::npos)
      << run.output;
  EXPECT_EQ(run.output.find("deliveries_per_s="), std::string::npos) << run.output;
}

// fastws_bench rate: tcpkali's rated test. 10 connections x 1,000 messages/s for one second is
// exactly 10,000 messages of 22 bytes (tcp mode: the bare message), every one echoed.
TEST_F(TcpEchoServer, RateSendsAtTheRateAndCountsWhatCameBack) {
  const BenchRun run =
      run_bench({"rate", "--mode", "tcp", "--port", port_, "--connections", "10", "--rate", "1000",
                 "--duration", "1", "--server-pid", server_pid()});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(result_value(run.output, "sent_messages"), 10'000) << run.output;
  EXPECT_EQ(result_value(run.output, "echoed_messages"), 10'000) << run.output;
  EXPECT_EQ(result_value(run.output, "sent_bytes"), 220'000) << run.output;
  EXPECT_EQ(result_value(run.output, "received_bytes"), 220'000) << run.output;
  EXPECT_EQ(result_value(run.output, "echoed_fraction"), 1) << run.output;
  EXPECT_GT(result_value(run.output, "echoed_per_server_cpu_s"), 0) << run.output;
  EXPECT_NE(run.output.find("Total data sent:     0.2 MiB (220000 bytes)"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("Messages: 10000 sent, 10000 echoed (100.00 %), target 10000"),
            std::string::npos)
      << run.output;
}

// A server that stops answering is measured, not failed: everything sent, nothing echoed.
TEST_F(TcpEchoServer, RateReportsAServerThatFallsBehind) {
  ASSERT_EQ(kill(server_->pid(), SIGSTOP), 0);  // the kernel still accepts the connections
  const BenchRun run = run_bench({"rate", "--mode", "tcp", "--port", port_, "--connections", "4",
                                  "--rate", "100", "--duration", "1", "--drain", "200"});
  kill(server_->pid(), SIGCONT);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(result_value(run.output, "sent_messages"), 400) << run.output;
  EXPECT_EQ(result_value(run.output, "echoed_messages"), 0) << run.output;
  EXPECT_EQ(result_value(run.output, "echoed_fraction"), 0) << run.output;
}

// In ws mode each message is a masked text frame (6 + 22 bytes) and its echo an unmasked one
// (2 + 22), RFC 6455 5.2.
TEST_F(PythonWsEchoServer, RateSendsTextFramesAndChecksTheirEchoes) {
  const BenchRun run = run_bench(
      {"rate", "--port", start(), "--connections", "4", "--rate", "200", "--duration", "1"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(result_value(run.output, "sent_messages"), 800) << run.output;
  EXPECT_EQ(result_value(run.output, "echoed_messages"), 800) << run.output;
  EXPECT_EQ(result_value(run.output, "sent_bytes"), 800 * 28) << run.output;
  EXPECT_EQ(result_value(run.output, "received_bytes"), 800 * 24) << run.output;
}

TEST_F(PythonWsEchoServer, RateFailsOnAWrongEcho) {
  const BenchRun run = run_bench({"rate", "--port", start({"--corrupt-every", "50"}),
                                  "--connections", "2", "--rate", "200", "--duration", "1"});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("the echo differs from what was sent"), std::string::npos)
      << run.output;
  // A changed echo, not the server giving up (a close frame also differs from the echo).
  EXPECT_EQ(run.output.find("close frame"), std::string::npos) << run.output;
}

// fastws_bench handshakes: each slot connects, upgrades, sends a close frame and waits for the
// server's before the next connection; the Python server does the closing handshake.
TEST_F(PythonWsEchoServer, HandshakesOpensAndClosesConnections) {
  const BenchRun run = run_bench(
      {"handshakes", "--port", start(), "--concurrency", "4", "--duration", "1", "--warmup", "0"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_GT(result_value(run.output, "handshakes"), 10) << run.output;
  EXPECT_EQ(result_value(run.output, "handshakes_per_s"), result_value(run.output, "handshakes"))
      << run.output;
}

// fastws_bench churn: the population is replaced at the asked rate with traffic on it, and the
// server's memory and descriptors are read at the start and the end.
TEST_F(PythonWsEchoServer, ChurnReplacesConnectionsAndReadsTheServersMemory) {
  const std::string port = start();
  const BenchRun run =
      run_bench({"churn", "--port", port, "--server-pid", std::to_string(server_->pid()),
                 "--connections", "50", "--churn", "40", "--messages", "200", "--duration", "2"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_GE(result_value(run.output, "replaced"), 60) << run.output;  // 40/s for 2 s, at least
  EXPECT_GE(result_value(run.output, "messages"), 300) << run.output;
  EXPECT_GT(result_value(run.output, "rss_start"), 0) << run.output;
  EXPECT_GT(result_value(run.output, "rss_end"), 0) << run.output;
  EXPECT_EQ(result_value(run.output, "server_closed"), 0) << run.output;
}

// Connections found ended that the run did not end fail it: here the server goes away midway.
TEST_F(PythonWsEchoServer, ChurnFailsWhenTheServerGoesAway) {
  const std::string port = start();
  std::thread killer([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // the run's first second
    ::kill(server_->pid(), SIGKILL);
  });
  const BenchRun run =
      run_bench({"churn", "--port", port, "--server-pid", std::to_string(server_->pid()),
                 "--connections", "20", "--churn", "0", "--messages", "200", "--duration", "3"});
  killer.join();
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("connections ended that this run did not end"), std::string::npos)
      << run.output;
}

// In tcp mode a slot connects and resets: the kernel's share of the work.
TEST_F(TcpEchoServer, HandshakesInTcpModeConnectAndReset) {
  const BenchRun run =
      run_bench({"handshakes", "--mode", "tcp", "--port", port_, "--concurrency", "4", "--duration",
                 "1", "--warmup", "0", "--server-pid", server_pid()});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_GT(result_value(run.output, "handshakes"), 100) << run.output;
  EXPECT_GT(result_value(run.output, "handshakes_per_server_cpu_s"), 0) << run.output;
}

TEST_F(TcpEchoServer, HandshakesInWsModeFailWithoutUpgrade) {
  const BenchRun run = run_bench({"handshakes", "--port", port_, "--duration", "1"});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("did not answer the upgrade with 101"), std::string::npos)
      << run.output;
}

// The echo example with permessage-deflate on: fastws_bench sends compressed frames (RSV1) and
// checks every echo against the server's compressed echo of the probe, in ping-pong and pipelined.
class CompressingEchoExample : public BenchServer {
 protected:
  CompressingEchoExample() : BenchServer(echo_example_binary, {"--threads", "1", "--compress"}) {}
};

TEST_F(CompressingEchoExample, DeflateEchoMeasuresCompressedEchoes) {
  for (const char* pipeline : {"1", "8"}) {
    const BenchRun run =
        run_bench({"echo", "--deflate", "--size", "1024", "--pipeline", pipeline, "--port", port_,
                   "--connections", "4", "--duration", "1", "--warmup", "0"});
    ASSERT_EQ(run.exit_code, 0) << run.output;
    EXPECT_GT(result_value(run.output, "messages"), 100) << run.output;
    // 1 KiB of a repeating alphabet compresses to a few dozen bytes, both ways.
    EXPECT_EQ(result_value(run.output, "echo_compressed"), 1) << run.output;
    EXPECT_LT(result_value(run.output, "frame_bytes"), 100) << run.output;
    EXPECT_LT(result_value(run.output, "echo_frame_bytes"), 100) << run.output;
  }
}

TEST_F(CompressingEchoExample, IdleWithDeflateHoldsCompressedConnections) {
  const BenchRun run = run_bench({"idle", "--deflate", "--port", port_, "--connections", "50",
                                  "--settle", "0", "--server-pid", server_pid()});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(result_value(run.output, "connections"), 50) << run.output;
}

// --message-size: every connection echoes one compressed message before the reading, with
// either offer; a connection whose echo does not come fails the run.
TEST_F(CompressingEchoExample, IdleWithAMessageEchoesOneOnEveryConnection) {
  for (const bool keeps_context : {false, true}) {
    std::vector<std::string> args = {
        "idle",          "--deflate", "--message-size",       "1024", "--port",   port_,
        "--connections", "50",        "--warmup-connections", "5",    "--settle", "0",
        "--server-pid",  server_pid()};
    if (keeps_context) args.emplace_back("--deflate-context");
    const BenchRun run = run_bench(args);
    ASSERT_EQ(run.exit_code, 0) << run.output;
    EXPECT_EQ(result_value(run.output, "message_size"), 1024) << run.output;
    EXPECT_EQ(result_value(run.output, "deflate"), 1) << run.output;
  }
}

class PlainEchoExample : public BenchServer {
 protected:
  PlainEchoExample() : BenchServer(echo_example_binary, {"--threads", "1"}) {}
};

// A server that answers the offer without the extension: the run fails instead of measuring
// uncompressed echoes as compressed ones.
TEST_F(PlainEchoExample, DeflateFailsWhereTheServerDoesNotAcceptIt) {
  const BenchRun run = run_bench({"echo", "--deflate", "--port", port_, "--connections", "2",
                                  "--duration", "1", "--warmup", "0"});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("the server did not accept permessage-deflate"), std::string::npos)
      << run.output;
}

class AttackTool : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_executable(attack_binary) || !is_executable(echo_example_binary)) {
      GTEST_SKIP() << "build fastws_attack and the echo example first";
    }
  }

  // fastws_attack in quick mode on the deflate bomb alone (well under a second of attack), with
  // `extra` flags.
  static BenchRun deflate_bomb(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{attack_binary,  "--quick",     "--only",
                                  "deflate-bomb", "--build-dir", FASTWS_BINARY_DIR};
    args.insert(args.end(), extra.begin(), extra.end());
    Child attack(args);
    BenchRun run;
    run.exit_code = attack.wait_exit(20s);
    run.output = attack.output();
    return run;
  }
};

// The deflate bomb holds on today's server: exit 0, and the result line carries every figure
// (peak RSS, fds before and after, CPU after, the well-behaved client's round trips) beside the
// attack's own (the close code), then one line per bound and the table. The memory bound is
// raised: a sanitized server (build/asan) takes more than the 64 MiB of a release build.
TEST_F(AttackTool, QuickDeflateBombPrintsItsFiguresAndHolds) {
  const BenchRun run = deflate_bomb({"--no-pin", "--rss-bound-mib", "512"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto line_at = run.output.find("attack=deflate-bomb server='echo --compress' seconds=");
  ASSERT_NE(line_at, std::string::npos) << run.output;
  const std::string line = run.output.substr(line_at, run.output.find('\n', line_at) - line_at);
  const double rss_before = result_value(line, "rss_before_mib");
  EXPECT_GT(rss_before, 0) << line;
  EXPECT_GE(result_value(line, "peak_rss_mib"), rss_before) << line;
  EXPECT_GT(result_value(line, "fds_before"), 0) << line;
  EXPECT_LE(result_value(line, "fds_after"), result_value(line, "fds_before")) << line;
  // Present (result_value gives -1 for a missing key), whatever the figure.
  EXPECT_GE(result_value(line, "cpu_after_pct"), 0) << line;
  EXPECT_GE(result_value(line, "rtt_samples"), 0) << line;
  EXPECT_LE(result_value(line, "rtt_p50_ms"), result_value(line, "rtt_p99_ms")) << line;
  EXPECT_LE(result_value(line, "rtt_p99_ms"), result_value(line, "rtt_max_ms")) << line;
  EXPECT_EQ(result_value(line, "failures"), 0) << line;
  EXPECT_EQ(result_value(line, "close"), 1009) << line;
  EXPECT_NE(line.find(" verdict=ok"), std::string::npos) << line;
  EXPECT_NE(run.output.find("  ok   closed 1009 (message too big)\n"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find(" MiB under 512 MiB\n"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("  ok   no fd leak ("), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("\nattack                 server"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("\nevery bound held (1 attacks)\n"), std::string::npos) << run.output;
}

// A memory bound the server cannot meet (1 MiB: its RSS is more before any attack) fails the
// run: exit 1, the bound named with the figure, and the attack listed as failed.
TEST_F(AttackTool, FailedMemoryBoundExitsOneAndSaysWhich) {
  const BenchRun run = deflate_bomb({"--rss-bound-mib", "1"});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find(" verdict=FAIL\n"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("  FAIL peak server RSS "), std::string::npos) << run.output;
  EXPECT_NE(run.output.find(" MiB under 1 MiB\n"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("\nFAILED: deflate-bomb\n"), std::string::npos) << run.output;
}

TEST_F(AttackTool, UnknownAttackIsAUsageError) {
  Child attack({attack_binary, "--only", "no-such-attack"});
  EXPECT_EQ(attack.wait_exit(10s), 2) << attack.output();
  EXPECT_NE(attack.output().find("no attack named 'no-such-attack'"), std::string::npos)
      << attack.output();
}

}  // namespace
