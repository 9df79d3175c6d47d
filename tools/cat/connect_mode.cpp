#include "cat/connect_mode.hpp"

#include <optional>
#include <stdexcept>
#include <string>

#include <fastws/client.hpp>

#include "cat/conversation.hpp"
#include "cat/diagnostics.hpp"
#include "cat/exit_codes.hpp"
#include "cat/message_printer.hpp"

namespace fastws::cat {

namespace {

ClientOptions client_options_from(const CatOptions& options) {
  ClientOptions client;
  client.threads = 1;
  client.connect_timeout = options.connect_timeout;
  client.handshake_timeout = options.connect_timeout;
  client.ping_interval = options.ping_interval;
  client.compression.enabled = options.compress;
  client.proxy = options.proxy;
  client.tls.ca_file = options.ca_file;
  client.tls.certificate_file = options.certificate_file;
  client.tls.key_file = options.key_file;
  client.tls.insecure_skip_verification = options.insecure;
  return client;
}

ConnectOptions connect_options_from(const CatOptions& options) {
  ConnectOptions connect;
  connect.headers = options.headers;
  connect.subprotocols = options.subprotocols;
  connect.origin = options.origin;
  return connect;
}

std::string describe_open(const CatOptions& options, const Conn& conn) {
  std::string text = "connected to " + options.url;
  if (!conn.subprotocol().empty()) text += ", subprotocol " + std::string(conn.subprotocol());
  if (!conn.extensions().empty()) text += ", extensions " + std::string(conn.extensions());
  return text;
}

}  // namespace

int run_connect(const CatOptions& options, const Wakeup& wakeup) {
  const ClientOptions client_options = client_options_from(options);
  MessagePrinter printer(options.binary_output);
  Conversation conversation(options, wakeup,
                            {client_options.max_message_size, client_options.close_timeout});
  std::optional<Client> client;  // after what its callbacks use: its loop stops first
  try {
    client.emplace(client_options);
  } catch (const std::invalid_argument& error) {  // a TLS file, the proxy URL
    print_error(error.what());
    return exit_usage;
  }
  client->on_message([&](const Conn& conn, Message message) {
    if (!printer.print(message)) conversation.output_failed(conn);
  });
  client->on_close([&](const Conn&, const CloseStatus& status) { conversation.closed(status); });
  client->on_drain([&](const Conn&) { wakeup.notify(); });
  client->on_pong(
      [&](const Conn&, std::span<const std::byte> payload) { conversation.pong(payload); });

  const ConnectResult result = client->connect_and_wait(options.url, connect_options_from(options));
  if (!result) {
    print_error("cannot connect to " + options.url + ": " + result.error.error);
    return exit_code_for(result.failure);
  }
  print_info(options, describe_open(options, result.conn));
  wake_on_interrupt(wakeup);
  return conversation.run(result.conn);
}

}  // namespace fastws::cat
