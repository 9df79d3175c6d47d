// Proxies for the client tests, on 127.0.0.1: real ones (Debian's tinyproxy and dante-server's
// danted) started as processes with their own configuration in a temporary directory, and a
// scripted peer that runs a test's own proxy conversation on each connection it accepts.
//
// A missing proxy program fails the test (scripts/install-deps.sh installs them), unless
// FASTWS_ALLOW_MISSING_PEERS=1 says to skip instead, for machines that cannot install them.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "net/socket.hpp"
#include "net/socket_address.hpp"
#include "net_test_support.hpp"
#include "server_test_support.hpp"

extern char** environ;

namespace fastws::testing {

// The program's path: the first executable `name` in PATH or the sbin directories (which a
// non-root PATH often lacks), or "" when there is none.
inline std::string find_program(const std::string& name) {
  std::string directories = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  directories += ":/usr/sbin:/sbin:/usr/local/sbin";
  std::stringstream list(directories);
  for (std::string directory; std::getline(list, directory, ':');) {
    const std::string path = directory + "/" + name;
    if (!directory.empty() && ::access(path.c_str(), X_OK) == 0) return path;
  }
  return {};
}

inline bool missing_peers_allowed() {
  const char* allowed = std::getenv("FASTWS_ALLOW_MISSING_PEERS");
  return allowed != nullptr && std::string(allowed) == "1";
}

// In a test or SetUp(): the path of `name`, or a failure (a skip when allowed) and a return.
#define FASTWS_REQUIRE_PROGRAM(path_variable, name, package)                             \
  const std::string path_variable = ::fastws::testing::find_program(name);               \
  if (path_variable.empty()) {                                                           \
    if (::fastws::testing::missing_peers_allowed()) {                                    \
      GTEST_SKIP() << name << " is missing (FASTWS_ALLOW_MISSING_PEERS=1)";              \
    }                                                                                    \
    FAIL() << name << " is missing: install " << package                                 \
           << " (scripts/install-deps.sh), or set FASTWS_ALLOW_MISSING_PEERS=1 to skip"; \
  }

// A TCP port on 127.0.0.1 that nobody listened on a moment ago (for a program that takes its
// port from a configuration file; a clash shows as that program failing to start).
inline std::uint16_t free_loopback_port() {
  const net::SocketAddress any = net::test::address_of("127.0.0.1", 0);
  net::UniqueFd socket;
  EXPECT_FALSE(net::listen_on(any, {}, socket));
  return net::test::bound_address(socket.get()).port();
}

// A proxy program (or another peer: redis-server) run with a configuration file written into a
// temporary directory, its output kept in a log there. The constructor returns once the proxy
// accepts connections; the destructor ends it: SIGTERM to its process group (danted forks
// helpers), SIGKILL after 2 s.
class ProxyProcess {
 public:
  // `arguments` may name "{config}"; `config` may name "{port}". A proxy that exits at once
  // (another process took the port meanwhile) gets two more tries on other ports. A nonzero
  // `port` is used as it is (to start a peer again where it was).
  ProxyProcess(const std::string& program, const std::vector<std::string>& arguments,
               const std::string& config, std::uint16_t port = 0)
      : fixed_port_(port) {
    for (int attempt = 0; attempt < 3 && !ready_; ++attempt) {
      ready_ = launch(program, arguments, config);
    }
    EXPECT_TRUE(ready_) << program << " did not start on port " << port_ << ":\n" << log();
  }

  ~ProxyProcess() { stop(); }
  ProxyProcess(const ProxyProcess&) = delete;
  ProxyProcess& operator=(const ProxyProcess&) = delete;

  bool ready() const { return ready_; }
  std::uint16_t port() const { return port_; }
  // Ends it at once with SIGKILL, as a crash would.
  void kill_now() {
    if (pid_ == 0) return;
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }
  std::string log() const {
    std::ifstream file(log_file_);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }

 private:
  void stop() {
    if (pid_ == 0) return;
    // The group's leader is not reaped yet, so its id cannot name anyone else's processes.
    ::kill(-pid_, SIGTERM);
    int status = 0;
    if (!wait_until([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, 2s)) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    pid_ = 0;
  }

  bool launch(const std::string& program, const std::vector<std::string>& arguments,
              const std::string& config) {
    port_ = fixed_port_ != 0 ? fixed_port_ : free_loopback_port();
    std::string text = config;
    for (std::size_t at; (at = text.find("{port}")) != std::string::npos;) {
      text.replace(at, 6, std::to_string(port_));
    }
    const std::string config_file = directory_.file("proxy.conf");
    std::ofstream(config_file) << text;
    std::vector<std::string> argv_text{program};
    for (const std::string& argument : arguments) {
      argv_text.push_back(argument == "{config}" ? config_file : argument);
    }
    std::vector<char*> argv;
    for (std::string& argument : argv_text) argv.push_back(argument.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&files, 1, log_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&files, 1, 2);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attributes, 0);  // a group of its own, for its helpers too
    const int error =
        ::posix_spawn(&pid_, program.c_str(), &files, &attributes, argv.data(), environ);
    posix_spawn_file_actions_destroy(&files);
    posix_spawnattr_destroy(&attributes);
    if (error != 0) {
      pid_ = 0;
      ADD_FAILURE() << "cannot start " << program << ": " << std::strerror(error);
      return false;
    }
    const bool started = wait_until(
        [&] {
          int status = 0;
          if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = 0;  // exited: nothing to end later
            return true;
          }
          return accepts_connections();
        },
        5s);
    if (started && pid_ != 0) return true;
    stop();  // still running but not serving: not this one
    return false;
  }

  bool accepts_connections() const {
    const net::SocketAddress address = net::test::address_of("127.0.0.1", port_);
    net::UniqueFd probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    return probe && ::connect(probe.get(), address.get(), address.size()) == 0;
  }

  net::test::TempDir directory_;
  std::string log_file_ = directory_.file("proxy.log");
  std::uint16_t fixed_port_ = 0;
  std::uint16_t port_ = 0;
  pid_t pid_ = 0;
  bool ready_ = false;
};

// tinyproxy in the foreground, for 127.0.0.1, every CONNECT port allowed (no ConnectPort line);
// with BasicAuth when `user` is set.
inline std::unique_ptr<ProxyProcess> start_tinyproxy(const std::string& program,
                                                     const std::string& user = {},
                                                     const std::string& password = {}) {
  std::string config =
      "Port {port}\nListen 127.0.0.1\nTimeout 10\nMaxClients 16\nLogLevel Info\n"
      "Allow 127.0.0.1\n";
  if (!user.empty()) config += "BasicAuth " + user + " " + password + "\n";
  return std::make_unique<ProxyProcess>(program, std::vector<std::string>{"-d", "-c", "{config}"},
                                        config);
}

// danted in the foreground with one mother process, connecting out from 127.0.0.1 only (so a
// name that also resolves to ::1 is reached over IPv4, where the test servers are).
// `socks_method`: "none", or "username" (system users: none of the tests' names exists).
inline std::unique_ptr<ProxyProcess> start_danted(const std::string& program,
                                                  const std::string& socks_method = "none") {
  const std::string config =
      "logoutput: stderr\ninternal: 127.0.0.1 port = {port}\nexternal: 127.0.0.1\n"
      "clientmethod: none\nsocksmethod: " +
      socks_method +
      "\nclient pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }\n"
      "socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }\n";
  return std::make_unique<ProxyProcess>(
      program, std::vector<std::string>{"-f", "{config}", "-N", "1"}, config);
}

// Accepts connections on 127.0.0.1 and runs `script` on each, with a blocking socket, on a
// thread per connection. The destructor stops accepting and joins them all.
class ScriptedPeer {
 public:
  using Script = std::function<void(int fd)>;

  explicit ScriptedPeer(Script script) : script_(std::move(script)) {
    EXPECT_FALSE(net::listen_on(net::test::address_of("127.0.0.1", 0), {}, listener_));
    port_ = net::test::bound_address(listener_.get()).port();
    acceptor_ = std::thread([this] { accept_all(); });
  }
  ~ScriptedPeer() {
    stopping_ = true;
    acceptor_.join();
    for (std::thread& connection : connections_) connection.join();
  }
  ScriptedPeer(const ScriptedPeer&) = delete;
  ScriptedPeer& operator=(const ScriptedPeer&) = delete;

  std::uint16_t port() const { return port_; }

 private:
  void accept_all() {
    while (!stopping_) {
      pollfd entry{listener_.get(), POLLIN, 0};
      if (::poll(&entry, 1, 20) != 1) continue;
      net::UniqueFd accepted;
      if (net::accept_connection(listener_.get(), accepted, nullptr)) continue;
      const int flags = ::fcntl(accepted.get(), F_GETFL);
      ::fcntl(accepted.get(), F_SETFL, flags & ~O_NONBLOCK);
      connections_.emplace_back([this, socket = std::move(accepted)] { script_(socket.get()); });
    }
  }

  Script script_;
  net::UniqueFd listener_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> connections_;  // the acceptor's until it is joined
  std::thread acceptor_;
};

// Copies bytes both ways between two blocking sockets until one side ends (or 5 s of silence).
inline void relay(int a, int b) {
  pollfd entries[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  char buffer[65536];
  while (::poll(entries, 2, 5000) > 0) {
    for (int i = 0; i < 2; ++i) {
      if (entries[i].revents == 0) continue;
      const ssize_t n = ::recv(entries[i].fd, buffer, sizeof buffer, 0);
      if (n <= 0) return;
      if (::send(entries[1 - i].fd, buffer, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) {
        return;
      }
    }
  }
}

// A blocking connection to the first of `host`'s addresses that accepts one, or an empty fd.
inline net::UniqueFd connect_to(const std::string& host, std::uint16_t port) {
  std::vector<net::SocketAddress> addresses;
  if (net::resolve(host, port, addresses)) return {};
  for (const net::SocketAddress& address : addresses) {
    net::UniqueFd socket(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (socket && ::connect(socket.get(), address.get(), address.size()) == 0) return socket;
  }
  return {};
}

}  // namespace fastws::testing
