#include "client/proxy_handshake.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <span>

#include "protocol/handshake.hpp"
#include "protocol/http_parser.hpp"

namespace fastws::detail {

namespace {

// RFC 1928 section 3 and 4, RFC 1929 section 2.
constexpr char socks_version = 5;
constexpr char method_none = 0;
constexpr char method_username = 2;
constexpr unsigned char method_unacceptable = 0xff;
constexpr char username_version = 1;
constexpr char command_connect = 1;
constexpr char address_ipv4 = 1;
constexpr char address_name = 3;
constexpr char address_ipv6 = 4;

// An answer's size: VER REP RSV ATYP, the address, the port.
constexpr std::size_t socks_reply_size_most = 4 + 1 + 255 + 2;

std::string authority(std::string_view host, std::uint16_t port) {
  const bool ipv6 = host.find(':') != std::string_view::npos;
  std::string text;
  text.append(ipv6 ? "[" : "").append(host).append(ipv6 ? "]" : "");
  return text + ":" + std::to_string(port);
}

std::string connect_request(const ProxyUrl& proxy, std::string_view host, std::uint16_t port) {
  const std::string target = authority(host, port);
  std::string request = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n";
  if (proxy.has_credentials) {
    const std::string credentials = proxy.username + ":" + proxy.password;
    request +=
        "Proxy-Authorization: Basic " +
        protocol::base64_encode(std::span(
            reinterpret_cast<const unsigned char*>(credentials.data()), credentials.size())) +
        "\r\n";
  }
  return request + "\r\n";
}

// RFC 1928 section 6.
const char* socks_reply_text(unsigned code) {
  switch (code) {
    case 1:
      return "general SOCKS server failure";
    case 2:
      return "connection not allowed by the proxy's rules";
    case 3:
      return "network unreachable";
    case 4:
      return "host unreachable";
    case 5:
      return "connection refused by destination";
    case 6:
      return "TTL expired";
    case 7:
      return "command not supported";
    case 8:
      return "address type not supported";
    default:
      return "unknown reply";
  }
}

unsigned byte_at(std::string_view input, std::size_t index) {
  return static_cast<unsigned char>(input[index]);
}

}  // namespace

ProxyHandshake::ProxyHandshake(const ProxyUrl& proxy, std::string_view host, std::uint16_t port,
                               std::size_t max_answer_size)
    : proxy_(proxy), host_(host), port_(port), max_answer_size_(max_answer_size) {
  if (proxy_.kind == ProxyKind::http) {
    step_ = Step::http_answer;
    send(connect_request(proxy_, host_, port_));
    return;
  }
  step_ = Step::socks_method;
  // Offering "none" beside username/password lets a proxy that needs no credentials say so.
  if (proxy_.has_credentials) {
    send({socks_version, 2, method_none, method_username});
  } else {
    send({socks_version, 1, method_none});
  }
}

std::size_t ProxyHandshake::max_answer_size() const noexcept {
  // One byte over the HTTP limit, so that a head over it is seen as one.
  return proxy_.kind == ProxyKind::http ? max_answer_size_ + 1 : socks_reply_size_most;
}

std::size_t ProxyHandshake::read(std::string_view input) {
  if (state_ != State::talking || !output().empty()) return 0;
  switch (step_) {
    case Step::http_answer:
      return read_http_answer(input);
    case Step::socks_method:
      return read_socks_method(input);
    case Step::socks_authenticated:
      return read_socks_verdict(input);
    case Step::socks_connected:
      return read_socks_reply(input);
  }
  return 0;
}

std::size_t ProxyHandshake::read_http_answer(std::string_view input) {
  std::array<HttpHeader, 100> storage;
  protocol::ResponseHead head;
  const protocol::HeadParseResult result = protocol::parse_response_head(
      input, head, storage, protocol::HttpLimits{max_answer_size_, storage.size()});
  if (result.partial()) return 0;
  if (result.failed()) return fail(std::string("malformed answer to CONNECT: ") + result.error);
  // RFC 9110 9.3.6: any 2xx means the tunnel is open.
  if (head.status_code / 100 != 2) {
    const std::string_view reason =
        head.reason.empty() ? protocol::reason_phrase(head.status_code) : head.reason;
    std::string error = "refused CONNECT: " + std::to_string(head.status_code);
    error.append(reason.empty() ? "" : " ").append(reason);
    if (head.status_code == 407 && !proxy_.has_credentials) {
      error += " (the proxy URL has no user:password)";
    }
    return fail(std::move(error));
  }
  state_ = State::done;
  return result.consumed;
}

std::size_t ProxyHandshake::read_socks_method(std::string_view input) {
  if (input.size() < 2) return 0;
  if (input[0] != socks_version) {
    return fail("not a SOCKS5 proxy (version " + std::to_string(byte_at(input, 0)) + ")");
  }
  const unsigned method = byte_at(input, 1);
  if (method == method_unacceptable) {
    return fail(proxy_.has_credentials
                    ? "accepts none of the offered authentication methods"
                    : "wants authentication (the proxy URL has no user:password)");
  }
  if (method == static_cast<unsigned>(method_none)) {
    send_socks_connect();
  } else if (method == static_cast<unsigned>(method_username) && proxy_.has_credentials) {
    step_ = Step::socks_authenticated;
    std::string request{username_version, static_cast<char>(proxy_.username.size())};
    request += proxy_.username;
    request += static_cast<char>(proxy_.password.size());
    request += proxy_.password;
    send(std::move(request));
  } else {
    return fail("chose authentication method " + std::to_string(method) +
                ", which was not offered");
  }
  return 2;
}

std::size_t ProxyHandshake::read_socks_verdict(std::string_view input) {
  if (input.size() < 2) return 0;
  // RFC 1929: status 0 is success, anything else a failure (the version byte is not checked:
  // some servers answer with 5 there).
  if (input[1] != 0) {
    return fail("refused the user name and password (status " + std::to_string(byte_at(input, 1)) +
                ")");
  }
  send_socks_connect();
  return 2;
}

void ProxyHandshake::send_socks_connect() {
  step_ = Step::socks_connected;
  std::string request{socks_version, command_connect, 0};
  in_addr ipv4;
  in6_addr ipv6;
  if (::inet_pton(AF_INET, host_.c_str(), &ipv4) == 1) {
    request += address_ipv4;
    request.append(reinterpret_cast<const char*>(&ipv4), sizeof ipv4);
  } else if (::inet_pton(AF_INET6, host_.c_str(), &ipv6) == 1) {
    request += address_ipv6;
    request.append(reinterpret_cast<const char*>(&ipv6), sizeof ipv6);
  } else if (host_.size() <= 255) {
    request += address_name;  // resolved by the proxy
    request += static_cast<char>(host_.size());
    request += host_;
  } else {
    fail("a host name of over 255 bytes cannot be sent to a SOCKS5 proxy");
    return;
  }
  request += static_cast<char>(port_ >> 8);
  request += static_cast<char>(port_ & 0xff);
  send(std::move(request));
}

std::size_t ProxyHandshake::read_socks_reply(std::string_view input) {
  if (input.size() < 5) return 0;
  if (input[0] != socks_version) {
    return fail("not a SOCKS5 proxy (version " + std::to_string(byte_at(input, 0)) + ")");
  }
  const unsigned reply = byte_at(input, 1);
  if (reply != 0) {
    return fail(std::string(socks_reply_text(reply)) + " (" + std::to_string(reply) + ")");
  }
  std::size_t address_size = 0;
  switch (input[3]) {
    case address_ipv4:
      address_size = 4;
      break;
    case address_ipv6:
      address_size = 16;
      break;
    case address_name:
      address_size = 1 + byte_at(input, 4);
      break;
    default:
      return fail("answered with an unknown address type " + std::to_string(byte_at(input, 3)));
  }
  const std::size_t size = 4 + address_size + 2;
  if (input.size() < size) return 0;
  state_ = State::done;
  return size;
}

std::size_t ProxyHandshake::fail(std::string error) {
  state_ = State::failed;
  error_ = std::move(error);
  return 0;
}

void ProxyHandshake::send(std::string bytes) {
  output_ = std::move(bytes);
  sent_ = 0;
}

}  // namespace fastws::detail
