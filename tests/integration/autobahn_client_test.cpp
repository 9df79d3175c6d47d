// autobahn_client, the built program, against a scripted stand-in for the Autobahn fuzzing
// server on 127.0.0.1: /getCaseCount answers "3"; each /runCase sends its case's messages (text,
// binary, empty, fragmented, 16 MiB, compressed when deflate was negotiated) and checks every echo
// for its opcode and bytes before closing; case 3 sends invalid UTF-8, which the testee must
// refuse with 1007; /updateReports is recorded. The real suite runs in fastws-conformance.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "server_test_support.hpp"
#include "support/child_process.hpp"

namespace fastws::testing {
namespace {

const std::string testee_binary = FASTWS_BINARY_DIR "/tools/autobahn_client";

#define REQUIRE_TESTEE()                                   \
  if (::access(testee_binary.c_str(), X_OK) != 0) {        \
    GTEST_SKIP() << testee_binary << " is not built here"; \
  }

// The value of `name` in a query string ("case=2&agent=x"), "" if absent.
std::string query_value(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const std::string_view pair = query.substr(0, query.find('&'));
    if (pair.starts_with(name) && pair.size() > name.size() && pair[name.size()] == '=') {
      return std::string(pair.substr(name.size() + 1));
    }
    query.remove_prefix(std::min(query.size(), pair.size() + 1));
  }
  return {};
}

struct Expected {
  Opcode opcode;
  std::vector<std::byte> payload;
};

// What one /runCase connection sent and what came back.
struct CaseRun {
  std::string agent;
  std::string extensions;  // negotiated
  std::size_t echoed = 0;  // echoes that matched, in order
  std::string mismatch;    // the first echo that did not
  std::uint16_t client_close = 0;
};

class FuzzingServerStandIn {
 public:
  FuzzingServerStandIn() : server_(options()) {
    server_.server().on_open([this](const Conn& conn) { opened(conn); });
    server_.server().on_message([this](const Conn& conn, Message message) { echo(conn, message); });
    server_.server().on_close([this](const Conn& conn, const CloseStatus& status) {
      if (const auto* number = conn.user_data<int>()) {
        std::lock_guard lock(mutex_);
        runs_[*number].client_close = status.code;
      }
    });
    server_.start();
  }

  std::string url() const { return "ws://127.0.0.1:" + std::to_string(server_.port()); }
  std::map<int, CaseRun> runs() const {
    std::lock_guard lock(mutex_);
    return runs_;
  }
  std::vector<std::string> reports() const {
    std::lock_guard lock(mutex_);
    return reports_;
  }
  int count_requests() const {
    std::lock_guard lock(mutex_);
    return count_requests_;
  }

 private:
  static ServerOptions options() {
    ServerOptions options = TestServer::default_options();
    options.compression.enabled = true;
    // Case 2 sends 16 MiB and a fragmented message at once: neither may be dropped.
    options.max_buffered_bytes = 64u << 20;
    return options;
  }

  static std::vector<std::byte> bytes(std::string_view text) { return to_bytes(text); }

  void opened(const Conn& conn) {
    const Request& request = *conn.request();
    std::lock_guard lock(mutex_);
    if (request.path() == "/getCaseCount") {
      ++count_requests_;
      conn.send("3");
      conn.close(close_code::normal);
    } else if (request.path() == "/updateReports") {
      reports_.push_back(query_value(request.query(), "agent"));
      conn.close(close_code::normal);
    } else if (request.path() == "/runCase") {
      const int number = std::stoi("0" + query_value(request.query(), "case"));
      conn.set_user_data(number);
      runs_[number] = {query_value(request.query(), "agent"), std::string(conn.extensions())};
      play(conn, number);
    } else {
      conn.close(4000, "unknown path");
    }
  }

  // Sends case `number`'s messages and notes the echoes it expects.
  void play(const Conn& conn, int number) {
    std::deque<Expected>& expected = expected_[conn.id()];
    const auto send = [&](Opcode opcode, std::vector<std::byte> payload) {
      conn.send(payload, opcode);
      expected.push_back({opcode, std::move(payload)});
    };
    switch (number) {
      case 1:
        send(Opcode::text, bytes("hello from case 1, grüße"));
        send(Opcode::binary, {std::byte{0}, std::byte{1}, std::byte{0xFF}});
        send(Opcode::text, {});
        send(Opcode::text, bytes(std::string(10'000, 'c')));  // compressed when negotiated
        return;
      case 2: {
        std::vector<std::byte> large(16u << 20);
        for (std::size_t i = 0; i < large.size(); ++i) large[i] = std::byte(i * 7 % 251);
        send(Opcode::binary, std::move(large));
        Writer writer = conn.writer(Opcode::text);
        writer.write("frag");
        writer.finish("mented");
        expected.push_back({Opcode::text, bytes("fragmented")});
        return;
      }
      case 3:  // invalid UTF-8: the testee must fail fast with 1007, echoing nothing
        conn.send_frame(Frame::text("\xC3\x28 not UTF-8"));
        return;
      default:
        conn.close(close_code::normal);
    }
  }

  void echo(const Conn& conn, Message message) {
    const int* number = conn.user_data<int>();
    if (number == nullptr) return;  // not a case
    std::lock_guard lock(mutex_);
    std::deque<Expected>& expected = expected_[conn.id()];
    CaseRun& run = runs_[*number];
    if (expected.empty() || expected.front().opcode != message.opcode() ||
        !std::equal(message.data().begin(), message.data().end(), expected.front().payload.begin(),
                    expected.front().payload.end())) {
      if (run.mismatch.empty()) run.mismatch = "echo " + std::to_string(run.echoed);
      conn.close(4000, "wrong echo");
      return;
    }
    expected.pop_front();
    ++run.echoed;
    if (expected.empty()) conn.close(close_code::normal);
  }

  mutable std::mutex mutex_;
  std::map<int, CaseRun> runs_;
  std::map<std::uint64_t, std::deque<Expected>> expected_;  // by connection
  std::vector<std::string> reports_;
  int count_requests_ = 0;
  TestServer server_;  // last: stopped before what its callbacks use goes
};

struct TesteeRun {
  std::optional<int> exit_code;
  std::string output;
};

TesteeRun run_testee(std::vector<std::string> args) {
  args.insert(args.begin(), testee_binary);
  test::ChildProcess testee(args);
  TesteeRun run;
  run.exit_code = testee.wait_exit(20s);
  run.output = testee.output();
  return run;
}

TEST(AutobahnClient, RunsEveryCaseEchoingWithTheOpcodeThenUpdatesReports) {
  REQUIRE_TESTEE();
  FuzzingServerStandIn server;
  const TesteeRun run = run_testee({server.url() + "/", "fastws test"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(server.count_requests(), 1);
  const auto runs = server.runs();
  ASSERT_EQ(runs.size(), 3u) << run.output;
  for (const auto& [number, case_run] : runs) {
    SCOPED_TRACE("case " + std::to_string(number));
    EXPECT_EQ(case_run.agent, "fastws%20test");
    EXPECT_NE(case_run.extensions.find("permessage-deflate"), std::string::npos);
    EXPECT_EQ(case_run.mismatch, "");
  }
  EXPECT_EQ(runs.at(1).echoed, 4u);
  EXPECT_EQ(runs.at(2).echoed, 2u);
  EXPECT_EQ(runs.at(1).client_close, close_code::normal);
  EXPECT_EQ(runs.at(2).client_close, close_code::normal);
  EXPECT_EQ(runs.at(3).echoed, 0u);
  EXPECT_EQ(runs.at(3).client_close, close_code::invalid_payload);
  EXPECT_EQ(server.reports(), std::vector<std::string>{"fastws%20test"});
  EXPECT_NE(run.output.find("case 3/3: 1007"), std::string::npos) << run.output;
}

TEST(AutobahnClient, NoCompressAndACaseRange) {
  REQUIRE_TESTEE();
  FuzzingServerStandIn server;
  const TesteeRun run = run_testee({server.url(), "fastws", "--no-compress", "--cases", "2-3"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto runs = server.runs();
  ASSERT_EQ(runs.size(), 2u) << run.output;
  EXPECT_EQ(runs.count(1), 0u);
  EXPECT_EQ(runs.at(2).extensions, "");
  EXPECT_EQ(runs.at(2).echoed, 2u);
  EXPECT_EQ(server.reports(), std::vector<std::string>{"fastws"});
}

// A fuzzing server stand-in that closes the case connections two at a time: each waits until a
// second one is open. A client that plays one case at a time is cut by its case timeout.
class PairingStandIn {
 public:
  PairingStandIn() {
    server_.server().on_open([this](const Conn& conn) {
      const Request& request = *conn.request();
      if (request.path() == "/getCaseCount") {
        conn.send("4");
        conn.close(close_code::normal);
        return;
      }
      if (request.path() != "/runCase") {
        conn.close(close_code::normal);
        return;
      }
      std::lock_guard lock(mutex_);
      waiting_.push_back(conn);
      most_open_ = std::max(most_open_, waiting_.size());
      if (waiting_.size() < 2) return;
      for (const Conn& held : waiting_) held.close(close_code::normal);
      waiting_.clear();
    });
    server_.start();
  }

  std::string url() const { return "ws://127.0.0.1:" + std::to_string(server_.port()); }
  std::size_t most_open() const {
    std::lock_guard lock(mutex_);
    return most_open_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Conn> waiting_;
  std::size_t most_open_ = 0;
  TestServer server_;  // last: stopped before what its callbacks use goes
};

TEST(AutobahnClient, PlaysJobsCasesAtTheSameTime) {
  REQUIRE_TESTEE();
  PairingStandIn server;
  const TesteeRun run = run_testee({server.url(), "fastws", "--jobs", "2", "--case-timeout", "3"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(server.most_open(), 2u);
  for (int n = 1; n <= 4; ++n) {
    EXPECT_NE(run.output.find("case " + std::to_string(n) + "/4: 1000"), std::string::npos)
        << run.output;
  }
}

TEST(AutobahnClient, BadArgumentsExit2AndAServerThatIsNotThereExits1) {
  REQUIRE_TESTEE();
  EXPECT_EQ(run_testee({}).exit_code, 2);
  EXPECT_EQ(run_testee({"ws://127.0.0.1:1", "fastws", "--cases", "5-2"}).exit_code, 2);
  EXPECT_EQ(run_testee({"ws://127.0.0.1:1", "fastws", "--unknown"}).exit_code, 2);
  EXPECT_EQ(run_testee({"ws://127.0.0.1:1", "fastws", "--jobs", "0"}).exit_code, 2);
  EXPECT_EQ(run_testee({"ws://127.0.0.1:1", "fastws", "--compress-level", "10"}).exit_code, 2);
  const TesteeRun refused = run_testee({"ws://127.0.0.1:1", "fastws"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("did not open"), std::string::npos) << refused.output;
}

}  // namespace
}  // namespace fastws::testing
