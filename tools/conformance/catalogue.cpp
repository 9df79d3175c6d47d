#include "conformance/catalogue.hpp"

#include <algorithm>
#include <charconv>

namespace fastws::conformance {

namespace {

// Glob match where '*' stands for any run of characters; the whole id must match.
bool glob_matches(std::string_view pattern, std::string_view text) {
  if (pattern.empty()) return text.empty();
  if (pattern.front() == '*') {
    for (std::size_t skip = 0; skip <= text.size(); ++skip) {
      if (glob_matches(pattern.substr(1), text.substr(skip))) return true;
    }
    return false;
  }
  return !text.empty() && pattern.front() == text.front() &&
         glob_matches(pattern.substr(1), text.substr(1));
}

bool is_pattern(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789.*") == std::string_view::npos;
}

}  // namespace

std::vector<unsigned> case_number(std::string_view id) {
  std::vector<unsigned> number;
  while (!id.empty()) {
    const std::size_t dot = id.find('.');
    const std::string_view part = id.substr(0, dot);
    unsigned value = 0;
    std::from_chars(part.data(), part.data() + part.size(), value);
    number.push_back(value);
    if (dot == std::string_view::npos) break;
    id.remove_prefix(dot + 1);
  }
  return number;
}

void Catalogue::sort() {
  std::stable_sort(cases_.begin(), cases_.end(), [](const CaseSpec& a, const CaseSpec& b) {
    return case_number(a.id) < case_number(b.id);
  });
}

Catalogue build_catalogue() {
  Catalogue catalogue;
  add_framing_cases(catalogue);
  add_ping_cases(catalogue);
  add_reserved_bit_cases(catalogue);
  add_opcode_cases(catalogue);
  add_fragmentation_cases(catalogue);
  add_utf8_cases(catalogue);
  add_close_cases(catalogue);
  add_limit_cases(catalogue);
  add_auto_fragmentation_cases(catalogue);
  add_compression_cases(catalogue);
  catalogue.sort();
  return catalogue;
}

std::vector<const CaseSpec*> select_cases(const Catalogue& catalogue, std::string_view patterns,
                                          std::string& error) {
  std::vector<std::string_view> included;
  std::vector<std::string_view> excluded;
  while (!patterns.empty()) {
    const std::size_t comma = patterns.find(',');
    std::string_view item = patterns.substr(0, comma);
    patterns.remove_prefix(comma == std::string_view::npos ? patterns.size() : comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) continue;
    const bool exclude = item.front() == '-';
    if (exclude) item.remove_prefix(1);
    if (!is_pattern(item)) {
      error =
          std::string("'").append(item).append("' is not a case pattern (digits, dots and '*')");
      return {};
    }
    (exclude ? excluded : included).push_back(item);
  }
  // As the official suite: the included cases minus the excluded ones; exclusions alone apply
  // to the whole catalogue.
  if (included.empty()) included.push_back("*");
  const auto matches_any = [](const std::vector<std::string_view>& globs, std::string_view id) {
    return std::any_of(globs.begin(), globs.end(),
                       [id](std::string_view glob) { return glob_matches(glob, id); });
  };
  std::vector<const CaseSpec*> selected;
  for (const CaseSpec& spec : catalogue.cases()) {
    if (matches_any(included, spec.id) && !matches_any(excluded, spec.id)) {
      selected.push_back(&spec);
    }
  }
  if (selected.empty()) error = "no case matches the patterns";
  return selected;
}

}  // namespace fastws::conformance
