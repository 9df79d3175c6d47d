#include "cat/listen_mode.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>

#include <fastws/server.hpp>

#include "cat/conversation.hpp"
#include "cat/diagnostics.hpp"
#include "cat/exit_codes.hpp"
#include "cat/input_lines.hpp"
#include "cat/message_printer.hpp"

namespace fastws::cat {

namespace {

ServerOptions server_options_from(const CatOptions& options) {
  ServerOptions server;
  server.host = options.listen_host;
  server.port = options.listen_port;
  server.threads = 1;
  server.idle_timeout = std::chrono::milliseconds(0);  // a quiet client is no reason to leave
  server.ping_interval = options.ping_interval;
  server.compression.enabled = options.compress;
  server.subprotocols = options.subprotocols;
  server.tls.certificate_file = options.certificate_file;
  server.tls.key_file = options.key_file;
  return server;
}

std::string url_of(const CatOptions& options, std::uint16_t port) {
  const bool ipv6 = options.listen_host.find(':') != std::string::npos;
  const std::string host = ipv6 ? "[" + options.listen_host + "]" : options.listen_host;
  return std::string(options.certificate_file.empty() ? "ws://" : "wss://") + host + ":" +
         std::to_string(port) + "/";
}

std::string tag(const Conn& conn) {
  std::string text = "[";  // built piece by piece: g++ 12 warns (wrongly) about "[" + ...
  text += std::to_string(conn.id());
  text += "] ";
  return text;
}

// The one client of --one, handed from its loop to the main thread.
class OneClient {
 public:
  void opened(const Conn& conn) {
    std::lock_guard lock(mutex_);
    conn_ = conn;
  }
  std::optional<Conn> get() const {
    std::lock_guard lock(mutex_);
    return conn_ ? std::optional<Conn>(conn_) : std::nullopt;
  }
  // True for the first request only: the others are refused.
  bool take() { return !taken_.exchange(true); }

 private:
  mutable std::mutex mutex_;
  Conn conn_;
  std::atomic<bool> taken_{false};
};

// Waits for the client, then converses with it as connect mode does with its server.
int serve_one(const Wakeup& wakeup, const OneClient& client, Conversation& conversation) {
  std::optional<Conn> conn;
  while (!(conn = client.get())) {
    if (interrupted()) return exit_ok;
    wakeup.wait(std::chrono::milliseconds(-1));
  }
  return conversation.run(*conn);
}

// Sends each input line to every client until the end of input (with --close-on-eof), an
// interrupt, or a failed output.
int serve_many(const CatOptions& options, const Wakeup& wakeup, Server& server,
               const std::atomic<bool>& output_failed) {
  InputLines input(STDIN_FILENO, ServerOptions{}.max_message_size);
  std::string line;
  bool reading = true;
  while (!interrupted() && !output_failed) {
    if (!reading) {
      wakeup.wait(std::chrono::milliseconds(-1));
      continue;
    }
    switch (input.next(wakeup, line)) {
      case InputLines::Event::line:
        if (options.binary_input) {
          server.broadcast(std::as_bytes(std::span(line.data(), line.size())), Opcode::binary);
        } else {
          server.broadcast(line);
        }
        break;
      case InputLines::Event::woken:
        break;
      case InputLines::Event::end:
        if (options.close_on_eof) return exit_ok;
        reading = false;
        break;
      case InputLines::Event::too_long:
        print_error("a line of input is longer than the largest message");
        return exit_failure;
      case InputLines::Event::error:
        print_error(std::string("cannot read standard input: ") + std::strerror(errno));
        return exit_failure;
    }
  }
  if (output_failed) {
    print_error("cannot write to standard output");
    return exit_failure;
  }
  return exit_ok;
}

}  // namespace

int run_listen(const CatOptions& options, const Wakeup& wakeup) {
  const ServerOptions server_options = server_options_from(options);
  MessagePrinter printer(options.binary_output);
  Conversation conversation(options, wakeup,
                            {server_options.max_message_size, server_options.close_timeout});
  OneClient one;
  std::atomic<bool> output_failed{false};
  std::optional<Server> server;  // after what its callbacks use
  try {
    server.emplace(server_options);
  } catch (const std::invalid_argument& error) {  // a TLS file
    print_error(error.what());
    return exit_usage;
  }
  if (options.one) {
    server->on_upgrade([&](const Request&, Upgrade& upgrade) {
      if (!one.take()) upgrade.reject(503, "fastws-cat --one serves another client\n");
    });
  }
  server->on_open([&](const Conn& conn) {
    print_info(options, tag(conn) + "connected from " + conn.remote_address());
    if (options.one) {
      one.opened(conn);
      wakeup.notify();
    }
  });
  server->on_message([&](const Conn& conn, Message message) {
    if (printer.print(message, options.one ? std::string() : tag(conn))) return;
    if (options.one) {
      conversation.output_failed(conn);
    } else {
      output_failed = true;
      wakeup.notify();
    }
  });
  server->on_close([&](const Conn& conn, const CloseStatus& status) {
    if (options.one) {
      conversation.closed(status);
      return;
    }
    std::string text = tag(conn) + "closed: " + std::to_string(status.code);
    if (!status.reason.empty()) text += " " + status.reason;
    if (!status.error.empty()) text += " (" + status.error + ")";
    if (options.show_close) {
      print_error(text);
    } else {
      print_info(options, text);
    }
  });
  server->on_drain([&](const Conn&) { wakeup.notify(); });
  server->on_pong(
      [&](const Conn&, std::span<const std::byte> payload) { conversation.pong(payload); });

  if (const std::error_code error = server->listen()) {
    print_error("cannot listen on " + options.listen_host + ":" +
                std::to_string(options.listen_port) + ": " + error.message());
    return exit_failure;
  }
  print_info(options, "listening on " + url_of(options, server->port()));
  wake_on_interrupt(wakeup);
  std::thread loop([&] { server->run(); });
  const int code = options.one ? serve_one(wakeup, one, conversation)
                               : serve_many(options, wakeup, *server, output_failed);
  server->stop();
  loop.join();
  return code;
}

}  // namespace fastws::cat
