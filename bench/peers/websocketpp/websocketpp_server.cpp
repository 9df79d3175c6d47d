// websocketpp peer for bench/compare: echo on any path, broadcast on /broadcast (every message any
// /broadcast connection sends goes to every /broadcast connection, as binary). The asio transport
// without TLS, run by one thread; logging off.
//
// Usage: websocketpp_server [--port N] [--compress]   (prints "listening on 127.0.0.1:N")
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/extensions/permessage_deflate/enabled.hpp>
#include <websocketpp/server.hpp>

namespace {

// The stock asio configuration with permessage-deflate switched on (websocketpp's own
// permessage_deflate example does the same on its debug configuration).
struct DeflateConfig : websocketpp::config::asio {
  using type = DeflateConfig;
  using base = websocketpp::config::asio;
  struct permessage_deflate_config {};
  using permessage_deflate_type =
      websocketpp::extensions::permessage_deflate::enabled<permessage_deflate_config>;
};

template <typename Config>
int serve(unsigned short port) {
  using Server = websocketpp::server<Config>;
  using Handle = websocketpp::connection_hdl;
  Server server;
  std::set<Handle, std::owner_less<Handle>> subscribers;
  server.clear_access_channels(websocketpp::log::alevel::all);
  server.clear_error_channels(websocketpp::log::elevel::all);
  server.init_asio();
  // Once accepted (the socket init handler runs before the socket is open).
  server.set_tcp_post_init_handler([&server](Handle handle) {
    boost::system::error_code ignored;
    server.get_con_from_hdl(handle)->get_raw_socket().set_option(
        boost::asio::ip::tcp::no_delay(true), ignored);
  });
  server.set_open_handler([&](Handle handle) {
    if (server.get_con_from_hdl(handle)->get_resource() == "/broadcast") subscribers.insert(handle);
  });
  server.set_close_handler([&](Handle handle) { subscribers.erase(handle); });
  server.set_fail_handler([&](Handle handle) { subscribers.erase(handle); });
  server.set_message_handler([&](Handle handle, typename Server::message_ptr message) {
    websocketpp::lib::error_code ignored;
    if (subscribers.count(handle) == 0) {
      server.send(handle, message->get_payload(), message->get_opcode(), ignored);
      return;
    }
    for (const Handle& subscriber : subscribers) {
      server.send(subscriber, message->get_payload(), websocketpp::frame::opcode::binary, ignored);
    }
  });
  server.listen(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  server.start_accept();
  boost::asio::signal_set signals(server.get_io_service(), SIGINT, SIGTERM);
  signals.async_wait([&server](const boost::system::error_code&, int) { server.stop(); });
  std::printf("listening on 127.0.0.1:%u\n", port);
  std::fflush(stdout);
  server.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 9001;
  bool compress = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      port = static_cast<unsigned short>(std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--compress") == 0) {
      compress = true;
    }
  }
  return compress ? serve<DeflateConfig>(port) : serve<websocketpp::config::asio>(port);
}
