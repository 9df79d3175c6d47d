#include "protocol/interned_text.hpp"

#include <deque>
#include <limits>
#include <mutex>
#include <string>
#include <unordered_map>

namespace fastws::protocol {
namespace {

// The texts in order of first sight; entries are never removed and a deque's never move, so an
// index and a view stay valid for the life of the process.
struct TextTable {
  std::mutex mutex;
  std::deque<std::string> texts;
  std::unordered_map<std::string_view, std::uint16_t> indexes;  // views of `texts`
};

TextTable& text_table() {
  // Never destroyed: a session may be asked for its text during static destruction.
  static TextTable* const table = new TextTable;
  return *table;
}

}  // namespace

InternedText::InternedText(std::string_view text) {
  if (text.empty()) return;
  TextTable& table = text_table();
  const std::scoped_lock lock(table.mutex);
  if (const auto found = table.indexes.find(text); found != table.indexes.end()) {
    index_ = found->second;
    return;
  }
  if (table.texts.size() == std::numeric_limits<std::uint16_t>::max()) return;  // full: empty
  const std::string& kept = table.texts.emplace_back(text);
  index_ = static_cast<std::uint16_t>(table.texts.size());
  table.indexes.emplace(kept, index_);
}

std::string_view InternedText::get() const {
  if (index_ == 0) return {};
  TextTable& table = text_table();
  const std::scoped_lock lock(table.mutex);
  return table.texts[index_ - 1u];
}

}  // namespace fastws::protocol
