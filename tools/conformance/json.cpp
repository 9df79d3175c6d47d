#include "conformance/json.hpp"

#include <cstdio>

#include "protocol/utf8.hpp"

namespace fastws::conformance {

std::string json_quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (byte < 0x20 || byte == 0x7F) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string log_data(std::string_view bytes, std::size_t max) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string_view head = bytes.substr(0, max);
  if (protocol::is_valid_utf8(bytes)) {
    // Back up to a code point boundary: continuation bytes are 10xxxxxx.
    while (head.size() < bytes.size() && !head.empty() &&
           (static_cast<unsigned char>(bytes[head.size()]) & 0xC0u) == 0x80u) {
      head.remove_suffix(1);
    }
    return std::string(head) + (head.size() < bytes.size() ? " ..." : "");
  }
  std::string hex = "0x";
  for (const char c : head) {
    const auto byte = static_cast<unsigned char>(c);
    hex += digits[byte >> 4];
    hex += digits[byte & 0xFu];
  }
  return hex + (head.size() < bytes.size() ? " ..." : "");
}

JsonObject& JsonObject::raw(std::string_view key, std::string_view json) {
  members_.push_back(json_quote(key) + ": " + std::string(json));
  return *this;
}

JsonObject& JsonObject::text(std::string_view key, std::string_view value) {
  return raw(key, json_quote(value));
}

JsonObject& JsonObject::boolean(std::string_view key, bool value) {
  return raw(key, value ? "true" : "false");
}

JsonObject& JsonObject::number(std::string_view key, std::int64_t value) {
  return raw(key, std::to_string(value));
}

JsonObject& JsonObject::code(std::string_view key, std::optional<std::uint16_t> value) {
  return raw(key, value ? std::to_string(*value) : "null");
}

std::string JsonObject::str(std::string_view separator) const {
  std::string out = "{";
  for (std::size_t i = 0; i < members_.size(); ++i) {
    if (i > 0) out += separator;
    out += members_[i];
  }
  return out + "}";
}

std::string json_array(const std::vector<std::string>& items, std::string_view separator) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  return out + "]";
}

}  // namespace fastws::conformance
