// Parser for Sec-WebSocket-Extensions values (RFC 6455 section 9.1), with the token and
// quoted-string rules of RFC 7230 section 3.2.6 and the list rule of RFC 7230 section 7.
//
//   extension-list = 1#extension
//   extension      = extension-token *( ";" extension-param )
//   extension-param = token [ "=" (token | quoted-string) ]
//
// One pass, linear in the input, no recursion. Names and values are string_views into the input;
// only a quoted value that contains backslash escapes is copied (unescaped) into storage owned by
// the ParsedExtensions, which is sized once to the input so views never move.
//
// Thread safety: a ParsedExtensions is a plain value; use one per thread.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace fastws::protocol {

struct ExtensionParam {
  std::string_view name;
  std::string_view value;  // unquoted and unescaped; empty when has_value is false
  bool has_value = false;
};

struct Extension {
  std::string_view name;
  std::span<const ExtensionParam> params;
};

enum class ExtensionHeaderError : std::uint8_t {
  none,
  empty,                   // no extension at all (RFC 6455 9.1: 1#extension)
  expected_token,          // a name is missing or holds a character outside tchar
  expected_value,          // "=" not followed by a token or a quoted-string
  unterminated_quote,      // a quoted-string without its closing DQUOTE
  invalid_quoted_char,     // a control character (or a bad escape) inside a quoted-string
  quoted_value_not_token,  // RFC 6455 9.1: the unescaped quoted value must be a token
  expected_separator,      // something other than ";" or "," after an element
};

// A readable reason for `error`, for logs and handshake failures.
const char* describe(ExtensionHeaderError error) noexcept;

// The extensions of one header value, in order. Views point into the parsed input (which must
// outlive this object) or into this object's own storage. Movable, not copyable (views).
class ParsedExtensions {
 public:
  ParsedExtensions() = default;
  ParsedExtensions(const ParsedExtensions&) = delete;
  ParsedExtensions& operator=(const ParsedExtensions&) = delete;
  ParsedExtensions(ParsedExtensions&&) noexcept = default;
  ParsedExtensions& operator=(ParsedExtensions&&) noexcept = default;

  std::span<const Extension> extensions() const noexcept { return extensions_; }

 private:
  friend ExtensionHeaderError parse_extension_header(std::string_view, ParsedExtensions&);

  std::vector<Extension> extensions_;
  std::vector<ExtensionParam> params_;
  std::vector<char> unescaped_;  // reserved to the input size before the first write
};

// Parses `text` into `out` (cleared first). Empty list elements (", ,") are skipped, as RFC 7230
// section 7 asks of recipients; optional whitespace is allowed around ",", ";" and "=".
// On failure `out` holds no extensions.
ExtensionHeaderError parse_extension_header(std::string_view text, ParsedExtensions& out);

}  // namespace fastws::protocol
