// Just enough JSON writing for the reports: quoted strings and objects built key by key, in the
// order given, so report files diff well between runs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fastws::conformance {

// `text` as a JSON string literal. Control characters are escaped; `text` must be UTF-8 (pass
// peer-supplied bytes through log_data first).
std::string json_quote(std::string_view text);

// Peer bytes for a report: the text itself when it is UTF-8 (cut to `max` bytes at a code point
// boundary, then " ..."), otherwise "0x" and the hex of the first `max` bytes.
std::string log_data(std::string_view bytes, std::size_t max = 64);

class JsonObject {
 public:
  JsonObject& raw(std::string_view key, std::string_view json);  // value is JSON already
  JsonObject& text(std::string_view key, std::string_view value);
  JsonObject& boolean(std::string_view key, bool value);
  JsonObject& number(std::string_view key, std::int64_t value);
  JsonObject& code(std::string_view key, std::optional<std::uint16_t> value);  // null if none
  // `separator` between members: ", " for one line, ",\n   " for a file.
  std::string str(std::string_view separator = ", ") const;

 private:
  std::vector<std::string> members_;
};

std::string json_array(const std::vector<std::string>& items, std::string_view separator = ", ");

}  // namespace fastws::conformance
