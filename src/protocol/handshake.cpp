#include "protocol/handshake.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <array>

#include "protocol/http_parser.hpp"

namespace fastws::protocol {

std::string compute_accept_key(std::string_view sec_websocket_key) {
  std::string input;
  input.reserve(sec_websocket_key.size() + websocket_guid.size());
  input.append(sec_websocket_key).append(websocket_guid);
  std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
  return base64_encode(digest);
}

std::string base64_encode(std::span<const unsigned char> bytes) {
  std::string out((bytes.size() + 2) / 3 * 4, '\0');
  // EVP_EncodeBlock writes the text plus a terminating NUL: give it room for the NUL too.
  out.push_back('\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                      static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "";
  }
}

namespace {

bool is_reserved(std::string_view name, UserHeaderRules rules) noexcept {
  // The fields that frame the message or the connection are the handshake's own.
  for (std::string_view reserved :
       {"connection", "upgrade", "host", "content-length", "transfer-encoding"}) {
    if (iequals(name, reserved)) return true;
  }
  constexpr std::string_view websocket_prefix = "sec-websocket-";
  return rules == UserHeaderRules::websocket_message && name.size() >= websocket_prefix.size() &&
         iequals(name.substr(0, websocket_prefix.size()), websocket_prefix);
}

}  // namespace

const char* check_user_headers(HeaderPairs headers, UserHeaderRules rules) noexcept {
  for (const auto& [name, value] : headers) {
    if (!is_token(name))
      return "header name is not a token (empty, or has a space, colon or CR/LF)";
    if (!is_valid_field_value(value))
      return "header value contains a control character (CR, LF, NUL)";
    if (is_reserved(name, rules))
      return "header is set by the handshake itself and cannot be added";
  }
  return nullptr;
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

}  // namespace fastws::protocol
