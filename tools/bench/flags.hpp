// Command-line flags of the tools (fastws_bench, fastws_attack, fastws-cat, autobahn_client):
// "--name value" pairs (and bare "--name" switches) checked against a table, so each command
// lists its flags once and every value is range-checked before anything runs.
#pragma once

#include <charconv>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace fastws::bench {

struct Flag {
  std::string_view name;  // without the leading "--"
  // Stores the value; returns false (and leaves the target as it was) when it is invalid.
  std::function<bool(std::string_view)> set;
  std::string_view help;
  bool takes_value = true;  // false: a switch, "--name" alone; `set` gets an empty value
};

inline bool parse_uint(std::string_view text, std::uint64_t min, std::uint64_t max,
                       std::uint64_t& out) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < min || value > max) {
    return false;
  }
  out = value;
  return true;
}

// A flag that stores an unsigned integer in [min, max] into `target`.
template <typename Int>
Flag uint_flag(std::string_view name, Int& target, std::uint64_t min, std::uint64_t max,
               std::string_view help) {
  return {name,
          [&target, min, max](std::string_view text) {
            std::uint64_t value = 0;
            if (!parse_uint(text, min, max, value)) return false;
            target = static_cast<Int>(value);
            return true;
          },
          help};
}

// A switch: "--name" sets `target`.
inline Flag switch_flag(std::string_view name, bool& target, std::string_view help) {
  return {name,
          [&target](std::string_view) {
            target = true;
            return true;
          },
          help, false};
}

inline Flag string_flag(std::string_view name, std::string& target, std::string_view help) {
  return {name,
          [&target](std::string_view text) {
            target = text;
            return !text.empty();
          },
          help};
}

// Applies argv[first..argc) to `flags`. Returns false with a message on an unknown flag, a missing
// value or a value out of range.
inline bool apply_flags(int argc, char** argv, int first, const std::vector<Flag>& flags,
                        std::string& error) {
  for (int i = first; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (!arg.starts_with("--")) {
      error = "expected a --flag, got '" + std::string(arg) + "'";
      return false;
    }
    const std::string_view name = arg.substr(2);
    const Flag* flag = nullptr;
    for (const Flag& candidate : flags) {
      if (candidate.name == name) flag = &candidate;
    }
    if (flag == nullptr) {
      error = "unknown flag " + std::string(arg);
      return false;
    }
    if (!flag->takes_value) {
      flag->set({});
      continue;
    }
    if (i + 1 >= argc) {
      error = "missing value after " + std::string(arg);
      return false;
    }
    if (!flag->set(argv[i + 1])) {
      error = "invalid value '" + std::string(argv[i + 1]) + "' for " + std::string(arg);
      return false;
    }
    ++i;
  }
  return true;
}

// One line per flag: its name in a column `width` wide, then its help.
inline std::string flags_help(const std::vector<Flag>& flags, std::size_t width = 14) {
  std::string text;
  for (const Flag& flag : flags) {
    text += "  --";
    text += flag.name;
    text.append(flag.name.size() < width ? width - flag.name.size() : 1, ' ');
    text += flag.help;
    text += '\n';
  }
  return text;
}

}  // namespace fastws::bench
