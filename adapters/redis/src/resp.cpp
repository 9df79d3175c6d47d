#include "resp.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

namespace fastws::redis::detail {

namespace {

enum class Step : std::uint8_t { ok, incomplete, invalid };

class Reader {
 public:
  Reader(std::span<const std::byte> input, const RespLimits& limits) noexcept
      : data_(reinterpret_cast<const char*>(input.data())), size_(input.size()), limits_(limits) {}

  std::size_t position() const noexcept { return at_; }
  const char* error() const noexcept { return error_; }

  // One value at the current position; `top` receives the elements of an array at depth 0, and
  // `tree`, when set, the whole value.
  Step value(RespItem& item, RespReply* top, RespValue* tree, std::size_t depth) {
    const Step step = scalar_or_array(item, top, tree, depth);
    if (step == Step::ok && tree != nullptr) {
      tree->type = item.type;
      tree->text = item.text;
      tree->integer = item.integer;
    }
    return step;
  }

 private:
  Step scalar_or_array(RespItem& item, RespReply* top, RespValue* tree, std::size_t depth) {
    if (at_ >= size_) return Step::incomplete;
    const char type = data_[at_++];
    std::string_view line;
    if (const Step step = read_line(line); step != Step::ok) return step;
    switch (type) {
      case '+':
        item.type = RespType::simple;
        item.text = line;
        return Step::ok;
      case '-':
        item.type = RespType::error;
        item.text = line;
        return Step::ok;
      case ':':
        item.type = RespType::integer;
        return number(line, item.integer);
      case '$':
        return bulk(line, item);
      case '*':
        return array(line, item, top, tree, depth);
      default:
        return fail("unknown RESP type byte (RESP2 expected)");
    }
  }

  // The line from the current position up to CRLF, which is consumed.
  Step read_line(std::string_view& line) {
    const auto* cr = static_cast<const char*>(std::memchr(data_ + at_, '\r', size_ - at_));
    if (cr == nullptr) {
      // A line is a type's header or a short status: a long run without CRLF is not RESP.
      return size_ - at_ > limits_.max_bulk_length ? fail("line without CRLF") : Step::incomplete;
    }
    const auto end = static_cast<std::size_t>(cr - data_);
    if (end + 1 >= size_) return Step::incomplete;
    if (data_[end + 1] != '\n') return fail("CR without LF");
    line = {data_ + at_, end - at_};
    at_ = end + 2;
    return Step::ok;
  }

  Step number(std::string_view line, std::int64_t& out) {
    const char* end = line.data() + line.size();
    const auto [stop, error] = std::from_chars(line.data(), end, out);
    if (line.empty() || error != std::errc() || stop != end) return fail("malformed integer");
    return Step::ok;
  }

  // What a bulk string or an array announces after its type byte: a length within `limit`, or
  // -1 for null (the item is then null and `length` stays empty).
  struct LengthRule {
    std::uint64_t limit;
    const char* negative;
    const char* too_long;
  };
  Step announced_length(std::string_view line, const LengthRule& rule, RespItem& item,
                        std::optional<std::size_t>& length) {
    std::int64_t value = 0;
    if (number(line, value) != Step::ok) return Step::invalid;
    if (value == -1) {
      item.type = RespType::null;
      return Step::ok;
    }
    if (value < 0) return fail(rule.negative);
    if (static_cast<std::uint64_t>(value) > rule.limit) return fail(rule.too_long);
    length = static_cast<std::size_t>(value);
    return Step::ok;
  }

  Step bulk(std::string_view line, RespItem& item) {
    std::optional<std::size_t> length;
    const LengthRule rule{limits_.max_bulk_length, "negative bulk length",
                          "bulk string longer than the limit"};
    if (const Step step = announced_length(line, rule, item, length); step != Step::ok || !length) {
      return step;
    }
    const std::size_t size = *length;
    if (size_ - at_ < size + 2) return Step::incomplete;
    if (data_[at_ + size] != '\r' || data_[at_ + size + 1] != '\n') {
      return fail("bulk string not followed by CRLF");
    }
    item.type = RespType::bulk;
    item.text = {data_ + at_, size};
    at_ += size + 2;
    return Step::ok;
  }

  Step array(std::string_view line, RespItem& item, RespReply* top, RespValue* tree,
             std::size_t depth) {
    std::optional<std::size_t> count;
    const LengthRule rule{limits_.max_array_length, "negative array length",
                          "array longer than the limit"};
    if (const Step step = announced_length(line, rule, item, count); step != Step::ok || !count) {
      return step;
    }
    if (depth + 1 >= limits_.max_depth) return fail("arrays nested too deep");
    item.type = RespType::array;
    item.integer = static_cast<std::int64_t>(*count);
    if (tree != nullptr) {
      // Not the announced count at once: the elements may never come.
      tree->elements.reserve(std::min<std::size_t>(*count, 64));
    }
    for (std::size_t index = 0; index < *count; ++index) {
      RespItem element;
      RespValue* subtree = tree != nullptr ? &tree->elements.emplace_back() : nullptr;
      if (const Step step = value(element, nullptr, subtree, depth + 1); step != Step::ok) {
        return step;
      }
      if (top != nullptr && index < RespReply::max_items) {
        top->items[index] = element;
        top->item_count = index + 1;
      }
    }
    return Step::ok;
  }

  Step fail(const char* why) noexcept {
    error_ = why;
    return Step::invalid;
  }

  const char* data_;
  std::size_t size_;
  std::size_t at_ = 0;
  const RespLimits& limits_;
  const char* error_ = "";
};

void append_number(std::vector<std::byte>& out, char type, std::size_t value) {
  char text[24];
  text[0] = type;
  const auto result = std::to_chars(text + 1, text + sizeof text - 2, value);
  char* end = result.ptr;
  *end++ = '\r';
  *end++ = '\n';
  append_raw(out, std::string_view(text, static_cast<std::size_t>(end - text)));
}

}  // namespace

RespParse parse_reply(std::span<const std::byte> input, const RespLimits& limits,
                      RespReply& reply) {
  reply = RespReply{};
  Reader reader(input, limits);
  switch (reader.value(reply, &reply, nullptr, 0)) {
    case Step::ok:
      reply.raw = input.first(reader.position());
      return {RespStatus::complete, reader.position(), ""};
    case Step::incomplete:
      return {RespStatus::incomplete, 0, ""};
    case Step::invalid:
      break;
  }
  return {RespStatus::invalid, 0, reader.error()};
}

RespParse parse_tree(std::span<const std::byte> input, const RespLimits& limits, RespValue& value) {
  value = RespValue{};
  Reader reader(input, limits);
  RespItem top;
  switch (reader.value(top, nullptr, &value, 0)) {
    case Step::ok:
      return {RespStatus::complete, reader.position(), ""};
    case Step::incomplete:
      return {RespStatus::incomplete, 0, ""};
    case Step::invalid:
      break;
  }
  return {RespStatus::invalid, 0, reader.error()};
}

void append_array_header(std::vector<std::byte>& out, std::size_t count) {
  append_number(out, '*', count);
}

void append_bulk_header(std::vector<std::byte>& out, std::size_t length) {
  append_number(out, '$', length);
}

void append_raw(std::vector<std::byte>& out, std::string_view bytes) {
  const auto* begin = reinterpret_cast<const std::byte*>(bytes.data());
  out.insert(out.end(), begin, begin + bytes.size());
}

void append_raw(std::vector<std::byte>& out, std::span<const std::byte> bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

void append_crlf(std::vector<std::byte>& out) {
  append_raw(out, std::string_view("\r\n"));
}

void append_bulk(std::vector<std::byte>& out, std::string_view bytes) {
  append_bulk_header(out, bytes.size());
  append_raw(out, bytes);
  append_crlf(out);
}

void append_command(std::vector<std::byte>& out, std::span<const std::string_view> arguments) {
  append_array_header(out, arguments.size());
  for (std::string_view argument : arguments) append_bulk(out, argument);
}

}  // namespace fastws::redis::detail
