// Every I/O error path of a server connection, the way Beast tests its streams: a scripted
// session (handshake, messages both ways, a ping, the close handshake) runs again and again, and
// run n makes the n-th socket read or write of that connection fail (ECONNRESET) or come up short
// (net/io_fault_injection.hpp; on io_uring a "read" is the n-th delivery of received bytes). A
// failure must end the connection once, as 1006 with a reason; a short read or write must change
// nothing the peer or the application sees. Meanwhile another
// client of the same loop keeps being served. Leaks show under ASan (detect_leaks=1). All of it
// runs over plain TCP and over TLS, where OpenSSL's own reads and writes (handshake flights,
// records split across calls) meet the faults.
//
// Allocation failures are not injected: the library does not promise to survive std::bad_alloc
// (a throwing operator new inside the noexcept loop paths ends the process by design).
#include <gtest/gtest.h>

#include <atomic>
#include <map>

#include "net/io_fault_injection.hpp"
#include "server_test_support.hpp"
#include "tls_test_support.hpp"

namespace fastws::testing {
namespace {

using net::testing::IoFault;
using net::testing::IoOperation;

enum class Mode : std::uint8_t {
  fail,             // the target call fails with ECONNRESET
  short_one,        // the target call moves one byte
  short_then_fail,  // the target call moves one byte, the next one fails (the backlog's write)
  short_all,        // every call moves at most a few bytes
};

// The plan the hook follows. The hook runs on the loop thread, the test sets it between runs.
struct FaultPlan {
  std::atomic<std::uint16_t> victim_port{0};  // the client port of the connection to hurt
  std::atomic<int> victim_fd{-1};             // its server-side socket, once seen
  std::atomic<IoOperation> operation{IoOperation::read};
  std::atomic<Mode> mode{Mode::fail};
  std::atomic<int> target{-1};  // which call of `operation` on the victim, counting from 0
  std::atomic<int> calls{0};    // calls of `operation` on the victim so far
  std::atomic<bool> fired{false};
};
FaultPlan plan;

std::uint16_t peer_port(int fd) {
  sockaddr_in peer{};
  socklen_t size = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &size) != 0) return 0;
  return peer.sin_family == AF_INET ? ntohs(peer.sin_port) : 0;
}

IoFault inject(IoOperation operation, int fd) {
  // Identified by its peer's port, not by the fd number: numbers are reused between runs.
  if (fd != plan.victim_fd.load()) {
    if (plan.victim_port.load() == 0 || peer_port(fd) != plan.victim_port.load()) return {};
    plan.victim_fd = fd;
  }
  if (operation != plan.operation.load()) return {};
  const int call = plan.calls++;
  switch (plan.mode.load()) {
    case Mode::short_all:
      plan.fired = true;
      return {0, 1 + static_cast<std::size_t>(call * 37 % 97)};
    case Mode::short_one:
      if (call != plan.target.load()) return {};
      plan.fired = true;
      return {0, 1};
    case Mode::short_then_fail:
      if (call == plan.target.load()) return {0, 1};
      if (call != plan.target.load() + 1) return {};
      plan.fired = true;
      return {ECONNRESET, 0};
    case Mode::fail:
      if (call != plan.target.load()) return {};
      plan.fired = true;
      return {ECONNRESET, 0};
  }
  return {};
}

// Installs the hook for one test and removes it after.
class FaultHookInstalled {
 public:
  FaultHookInstalled() { net::testing::set_io_fault_hook(&inject); }
  ~FaultHookInstalled() {
    net::testing::set_io_fault_hook(nullptr);
    plan.victim_port = 0;
    plan.victim_fd = -1;
  }
};

// How far the victim's script got.
struct ScriptResult {
  bool upgraded = false;
  bool completed = false;  // every step answered as expected, up to the server closing TCP
  std::string failed_step;
};

std::vector<std::byte> large_payload() {
  std::vector<std::byte> payload(100 * 1024);  // > the cork buffer and the socket's first window
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::byte>(i * 7 + 3);
  return payload;
}

// The victim's side: each step must get its answer, else the script stops there.
ScriptResult run_script(RawPeer& peer, SSL_CTX* tls) {
  ScriptResult result;
  auto step = [&](const char* name, bool ok) {
    if (!ok && result.failed_step.empty()) result.failed_step = name;
    return ok;
  };
  if (tls != nullptr && !step("TLS handshake", peer.start_tls(tls))) return result;
  auto next_text = [&]() -> std::string {
    auto frame = peer.read_frame();
    return frame && frame->opcode == Opcode::text ? std::string(frame->payload_text()) : "<none>";
  };
  if (!step("101", status_of(peer.handshake("/victim")) == 101)) return result;
  result.upgraded = true;
  if (!step("greeting", next_text() == "welcome")) return result;
  peer.send_text("small");
  if (!step("small echo", next_text() == "small")) return result;
  const std::vector<std::byte> large = large_payload();
  peer.send_frame(Frame::binary(large));
  auto echo = peer.read_frame();
  if (!step("large echo", echo && echo->payload == large)) return result;
  peer.send_frame(Frame::ping(to_bytes("p")));
  auto pong = peer.read_frame();
  if (!step("pong", pong && pong->opcode == Opcode::pong && pong->payload_text() == "p")) {
    return result;
  }
  peer.send_frame(Frame::text("frag", false));
  peer.send_frame(Frame::continuation(to_bytes("ment"), true));
  if (!step("fragmented echo", next_text() == "fragment")) return result;
  peer.send_frame(Frame::close(close_code::normal));
  if (!step("close reply", peer.read_close_code() == close_code::normal)) return result;
  result.completed = step("end of connection", peer.wait_closed());
  return result;
}

// A server of one loop: the victim and the bystander share it.
class FaultServer {
 public:
  explicit FaultServer(bool tls)
      : client_tls_(tls ? client_tls_context() : ClientTlsContext(nullptr, SSL_CTX_free)),
        server_(options(tls)) {
    server_.server().on_open([this](const Conn& conn) {
      std::lock_guard lock(mutex_);
      paths_[conn.id()] = std::string(conn.request()->path());
      conn.send("welcome");
    });
    server_.server().on_message(
        [](const Conn& conn, Message message) { conn.send(message.data(), message.opcode()); });
    server_.server().on_close([this](const Conn& conn, const CloseStatus& status) {
      std::lock_guard lock(mutex_);
      closes_[conn.id()].push_back(status);
    });
    server_.start();
  }
  static ServerOptions options(bool tls) {
    ServerOptions options = tls ? tls_server_options() : TestServer::default_options();
    options.close_timeout = 1000ms;
    return options;
  }
  std::uint16_t port() const { return server_.port(); }
  SSL_CTX* client_tls() const { return client_tls_.get(); }  // null for plain TCP

  // The bystander: connected, upgraded on /bystander, greeted.
  std::unique_ptr<RawPeer> connect_bystander() {
    auto peer = std::make_unique<RawPeer>(port());
    if (client_tls() != nullptr) {
      EXPECT_TRUE(peer->start_tls(client_tls()));
    }
    EXPECT_EQ(status_of(peer->handshake("/bystander")), 101);
    EXPECT_TRUE(peer->read_frame());
    return peer;
  }
  Server& server() { return server_.server(); }

  // The on_close reports of the connections opened on `path` (waits until each opened one
  // reported, bounded).
  std::vector<CloseStatus> closes_of(const std::string& path, std::size_t& opened) {
    std::vector<CloseStatus> found;
    wait_until([&] {
      std::lock_guard lock(mutex_);
      opened = 0;
      found.clear();
      for (const auto& [id, opened_path] : paths_) {
        if (opened_path != path) continue;
        ++opened;
        auto closes = closes_.find(id);
        if (closes != closes_.end())
          found.insert(found.end(), closes->second.begin(), closes->second.end());
      }
      return found.size() >= opened;
    });
    return found;
  }
  void forget(const std::string& path) {
    std::lock_guard lock(mutex_);
    std::erase_if(paths_, [&](const auto& entry) { return entry.second == path; });
  }

 private:
  std::mutex mutex_;
  std::map<std::uint64_t, std::string> paths_;
  std::map<std::uint64_t, std::vector<CloseStatus>> closes_;
  ClientTlsContext client_tls_;
  TestServer server_;  // last: stopped before the maps go
};

// One run of the script against `server` under the current plan; checks what the victim and
// the application saw. Returns whether the fault fired (false: n is past the session's end).
bool run_once(FaultServer& server, RawPeer& bystander, IoOperation operation, Mode mode,
              int target) {
  RawPeer victim(server.port(), 2s);
  sockaddr_in local{};
  socklen_t size = sizeof local;
  ::getsockname(victim.fd(), reinterpret_cast<sockaddr*>(&local), &size);
  plan.victim_fd = -1;
  plan.operation = operation;
  plan.mode = mode;
  plan.target = target;
  plan.calls = 0;
  plan.fired = false;
  plan.victim_port = ntohs(local.sin_port);

  const ScriptResult script = run_script(victim, server.client_tls());
  if (!script.completed) {
    EXPECT_TRUE(victim.wait_closed()) << "the server left the victim open";
  }
  const bool fired = plan.fired.load();
  std::size_t opened = 0;
  const std::vector<CloseStatus> closes = server.closes_of("/victim", opened);
  plan.victim_port = 0;
  server.forget("/victim");

  EXPECT_EQ(closes.size(), opened) << "on_close once per opened connection";
  const bool failing = mode == Mode::fail || mode == Mode::short_then_fail;
  if (!fired || !failing) {
    // Nothing failed: short reads and writes are invisible.
    EXPECT_TRUE(script.completed) << "stopped at: " << script.failed_step;
    EXPECT_EQ(opened, 1u);
    for (const CloseStatus& status : closes) {
      EXPECT_EQ(status.code, close_code::normal);
      EXPECT_EQ(status.error, "");
    }
  } else {
    EXPECT_FALSE(script.completed);
    for (const CloseStatus& status : closes) {
      // RFC 6455 7.1.5: once the peer's close frame arrived, its code is the close code; before
      // that the connection closed abnormally (1006). Either way it did not end cleanly.
      if (script.failed_step != "close reply") {
        EXPECT_EQ(status.code, close_code::abnormal);
      }
      EXPECT_NE(status.error, "") << "a failed connection reported as a clean close "
                                  << status.code;
    }
  }
  // The loop serves its other connection as before.
  bystander.send_text("still served");
  auto echo = bystander.read_frame();
  EXPECT_TRUE(echo && echo->payload_text() == "still served");
  EXPECT_TRUE(wait_until([&] { return server.server().stats().connections == 1; }));
  return fired;
}

const char* name_of(IoOperation operation) {
  return operation == IoOperation::read ? "read" : "write";
}

using FaultCase = std::tuple<IoOperation, Mode, bool /* TLS */>;
class FaultInjection : public ::testing::TestWithParam<FaultCase> {};

TEST_P(FaultInjection, EveryCallOfTheSessionInTurn) {
  const auto [operation, mode, tls] = GetParam();
  FaultHookInstalled installed;
  FaultServer server(tls);
  auto bystander = server.connect_bystander();

  // TLS takes more calls: a record is two reads, and the handshake has its own flights.
  const int limit = 400;
  int runs = 0;
  for (int n = 0; n < limit; ++n, ++runs) {
    SCOPED_TRACE(std::string(name_of(operation)) + " call " + std::to_string(n));
    if (!run_once(server, *bystander, operation, mode, n)) break;
    if (::testing::Test::HasFailure()) break;  // one broken path is enough to report
  }
  // The session has several calls of each kind: the loop ran past some before it ended.
  EXPECT_GE(runs, 4);
  EXPECT_LT(runs, limit);
}

std::string case_name(const ::testing::TestParamInfo<FaultCase>& info) {
  const auto [operation, mode, tls] = info.param;
  const char* modes[] = {"Failing", "Shortening", "ShorteningThenFailing"};
  return std::string(modes[static_cast<int>(mode)]) + "The" +
         (operation == IoOperation::read ? "Read" : "Write") + (tls ? "OverTls" : "");
}

INSTANTIATE_TEST_SUITE_P(
    Session, FaultInjection,
    ::testing::Combine(::testing::Values(IoOperation::read, IoOperation::write),
                       ::testing::Values(Mode::fail, Mode::short_one, Mode::short_then_fail),
                       ::testing::Bool()),
    case_name);

class ShortIo : public ::testing::TestWithParam<bool /* TLS */> {};

TEST_P(ShortIo, EveryReadOrEveryWriteOfASessionShort) {
  FaultHookInstalled installed;
  FaultServer server(GetParam());
  auto bystander = server.connect_bystander();
  EXPECT_TRUE(run_once(server, *bystander, IoOperation::read, Mode::short_all, 0));
  EXPECT_TRUE(run_once(server, *bystander, IoOperation::write, Mode::short_all, 0));
}

std::string transport_name(const ::testing::TestParamInfo<bool>& tls) {
  return tls.param ? "OverTls" : "OverTcp";
}

INSTANTIATE_TEST_SUITE_P(Session, ShortIo, ::testing::Bool(), transport_name);

}  // namespace
}  // namespace fastws::testing
