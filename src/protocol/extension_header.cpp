#include "protocol/extension_header.hpp"

#include <algorithm>

#include "protocol/http_parser.hpp"

namespace fastws::protocol {

namespace {

bool is_ows(char c) noexcept {
  return c == ' ' || c == '\t';
}

// qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text (RFC 7230 3.2.6).
bool is_qdtext(char c) noexcept {
  const auto byte = static_cast<unsigned char>(c);
  return c == '\t' || c == ' ' || c == 0x21 || (byte >= 0x23 && byte <= 0x5B) ||
         (byte >= 0x5D && byte <= 0x7E) || byte >= 0x80;
}

// quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ): anything but other control characters.
bool is_quotable(char c) noexcept {
  const auto byte = static_cast<unsigned char>(c);
  return c == '\t' || (byte >= 0x20 && byte != 0x7F);
}

// A single forward scan over the header value. Every step advances `pos_` or returns, so the
// work is linear in the input whatever it holds.
class Scanner {
 public:
  Scanner(std::string_view text, std::vector<char>& unescaped)
      : text_(text), unescaped_(unescaped) {}

  bool at_end() const noexcept { return pos_ == text_.size(); }
  bool next_is(char c) const noexcept { return !at_end() && text_[pos_] == c; }
  void skip(char c) noexcept {
    if (next_is(c)) ++pos_;
  }
  void skip_ows() noexcept {
    while (!at_end() && is_ows(text_[pos_])) ++pos_;
  }

  std::string_view token() noexcept {
    const std::size_t start = pos_;
    while (!at_end() && is_tchar(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  // Reads a quoted-string starting at the DQUOTE. Without escapes the value is a view into the
  // input; with escapes it is unescaped into `unescaped_`, whose capacity is the input size
  // (reserved here on first use), so no earlier view is ever invalidated by a reallocation.
  ExtensionHeaderError quoted_string(std::string_view& value) {
    const std::size_t start = ++pos_;
    bool escaped = false;
    while (!at_end() && text_[pos_] != '"') {
      if (text_[pos_] == '\\') {
        escaped = true;
        if (++pos_ == text_.size()) return ExtensionHeaderError::unterminated_quote;
        if (!is_quotable(text_[pos_])) return ExtensionHeaderError::invalid_quoted_char;
      } else if (!is_qdtext(text_[pos_])) {
        return ExtensionHeaderError::invalid_quoted_char;
      }
      ++pos_;
    }
    if (at_end()) return ExtensionHeaderError::unterminated_quote;
    const std::string_view raw = text_.substr(start, pos_ - start);
    ++pos_;  // the closing DQUOTE
    value = escaped ? unescape(raw) : raw;
    return ExtensionHeaderError::none;
  }

 private:
  std::string_view unescape(std::string_view raw) {
    if (unescaped_.capacity() < text_.size()) unescaped_.reserve(text_.size());
    const std::size_t begin = unescaped_.size();
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\\') ++i;  // validated above: an escape is always followed by a character
      unescaped_.push_back(raw[i]);
    }
    return {unescaped_.data() + begin, unescaped_.size() - begin};
  }

  std::string_view text_;
  std::vector<char>& unescaped_;
  std::size_t pos_ = 0;
};

// extension-param = token [ "=" (token | quoted-string) ], the scanner past its leading ";".
ExtensionHeaderError read_param(Scanner& scan, ExtensionParam& param) {
  scan.skip_ows();
  param.name = scan.token();
  if (param.name.empty()) return ExtensionHeaderError::expected_token;
  scan.skip_ows();
  if (!scan.next_is('=')) return ExtensionHeaderError::none;
  scan.skip('=');
  scan.skip_ows();
  param.has_value = true;
  if (scan.next_is('"')) {
    const ExtensionHeaderError error = scan.quoted_string(param.value);
    if (error != ExtensionHeaderError::none) return error;
    // RFC 6455 9.1: "the value after quoted-string unescaping MUST conform to the token ABNF".
    if (!is_token(param.value)) return ExtensionHeaderError::quoted_value_not_token;
  } else {
    param.value = scan.token();
    if (param.value.empty()) return ExtensionHeaderError::expected_value;
  }
  scan.skip_ows();
  return ExtensionHeaderError::none;
}

ExtensionHeaderError parse_into(std::string_view text, std::vector<Extension>& extensions,
                                std::vector<ExtensionParam>& params, std::vector<char>& unescaped) {
  // Every parameter follows a ";" and every extension but the first a ",": reserving for those
  // counts keeps the spans handed out below valid while the vectors fill.
  params.reserve(static_cast<std::size_t>(std::count(text.begin(), text.end(), ';')));
  extensions.reserve(static_cast<std::size_t>(std::count(text.begin(), text.end(), ',')) + 1);
  Scanner scan(text, unescaped);
  for (;;) {
    scan.skip_ows();
    if (scan.at_end()) break;
    if (scan.next_is(',')) {  // an empty list element, or the separator after an extension
      scan.skip(',');
      continue;
    }
    const std::string_view name = scan.token();
    if (name.empty()) return ExtensionHeaderError::expected_token;
    const std::size_t first = params.size();
    scan.skip_ows();
    while (scan.next_is(';')) {
      scan.skip(';');
      ExtensionParam param;
      const ExtensionHeaderError error = read_param(scan, param);
      if (error != ExtensionHeaderError::none) return error;
      params.push_back(param);
    }
    if (!scan.at_end() && !scan.next_is(',')) return ExtensionHeaderError::expected_separator;
    extensions.push_back({name, {params.data() + first, params.size() - first}});
  }
  return extensions.empty() ? ExtensionHeaderError::empty : ExtensionHeaderError::none;
}

}  // namespace

const char* describe(ExtensionHeaderError error) noexcept {
  switch (error) {
    case ExtensionHeaderError::none:
      return "no error";
    case ExtensionHeaderError::empty:
      return "no extension in the list";
    case ExtensionHeaderError::expected_token:
      return "expected an extension or parameter name";
    case ExtensionHeaderError::expected_value:
      return "expected a token or a quoted-string after '='";
    case ExtensionHeaderError::unterminated_quote:
      return "quoted-string without its closing quote";
    case ExtensionHeaderError::invalid_quoted_char:
      return "control character in a quoted-string";
    case ExtensionHeaderError::quoted_value_not_token:
      return "quoted parameter value is not a token";
    case ExtensionHeaderError::expected_separator:
      return "expected ';' or ',' after an extension";
  }
  return "unknown error";
}

ExtensionHeaderError parse_extension_header(std::string_view text, ParsedExtensions& out) {
  out.extensions_.clear();
  out.params_.clear();
  out.unescaped_.clear();
  const ExtensionHeaderError error = parse_into(text, out.extensions_, out.params_, out.unescaped_);
  if (error != ExtensionHeaderError::none) out.extensions_.clear();
  return error;
}

}  // namespace fastws::protocol
