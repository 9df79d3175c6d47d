#include "cat/message_printer.hpp"

#include <span>

namespace fastws::cat {

namespace {

void append_hex(std::string& out, std::span<const std::byte> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  const std::size_t at = out.size();
  out.resize(at + 2 * bytes.size());
  char* p = out.data() + at;
  for (const std::byte b : bytes) {
    *p++ = digits[std::to_integer<unsigned>(b) >> 4];
    *p++ = digits[std::to_integer<unsigned>(b) & 0xF];
  }
}

}  // namespace

bool MessagePrinter::print(const Message& message, std::string_view prefix) {
  if (message.is_binary() && binary_ == BinaryOutput::raw) {
    const auto data = message.data();
    return std::fwrite(data.data(), 1, data.size(), out_) == data.size() && std::fflush(out_) == 0;
  }
  line_.assign(prefix);
  if (message.is_binary()) {
    append_hex(line_, message.data());
  } else {
    line_.append(message.text());
  }
  line_.push_back('\n');
  return std::fwrite(line_.data(), 1, line_.size(), out_) == line_.size() && std::fflush(out_) == 0;
}

}  // namespace fastws::cat
