#include "protocol/http_parser.hpp"

#include <array>

namespace fastws::protocol {

namespace {

constexpr std::array<bool, 256> make_tchar_table() {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
  return table;
}
constexpr std::array<bool, 256> tchar_table = make_tchar_table();

constexpr char to_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool is_ows(char c) noexcept {
  return c == ' ' || c == '\t';
}

// Request targets are visible ASCII (RFC 7230 5.3 with RFC 3986: no spaces, no raw non-ASCII).
constexpr bool is_target_char(char c) noexcept {
  return c > 0x20 && c < 0x7f;
}

HeadParseResult fail(int http_status, const char* error) noexcept {
  return {HeadStatus::error, 0, http_status, error};
}

std::size_t token_length(std::string_view text) noexcept {
  std::size_t n = 0;
  while (n < text.size() && is_tchar(text[n])) ++n;
  return n;
}

// HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 7230 2.6). A major version other
// than 1 is well-formed but not ours: 505.
HeadParseResult parse_version(std::string_view text, std::uint8_t& minor) noexcept {
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  if (text.size() != 8 || !text.starts_with("HTTP/") || !is_digit(text[5]) || text[6] != '.' ||
      !is_digit(text[7])) {
    return fail(400, "malformed HTTP version");
  }
  if (text[5] != '1') return fail(505, "HTTP version not supported");
  minor = static_cast<std::uint8_t>(text[7] - '0');
  return {HeadStatus::complete};
}

// The header fields from `pos` (just after the start line) to the blank line. `head` is a whole
// head as HeadScanner accepted it, so every line ends with CRLF and there is no NUL.
HeadParseResult parse_fields(std::string_view head, std::size_t pos, std::span<HttpHeader> storage,
                             std::size_t& count) noexcept {
  count = 0;
  for (;;) {
    const std::size_t eol = head.find("\r\n", pos);
    if (eol == pos) return {HeadStatus::complete, eol + 2};
    const std::string_view line = head.substr(pos, eol - pos);
    const std::size_t name_end = token_length(line);
    if (name_end == 0 && is_ows(line.front())) {
      // obs-fold (RFC 7230 3.2.4), or whitespace before the first field (RFC 7230 3).
      return fail(400, "header line starts with whitespace (obs-fold)");
    }
    if (name_end < line.size() && is_ows(line[name_end])) {
      return fail(400, "whitespace before the colon of a header field");  // RFC 7230 3.2.4
    }
    if (name_end == 0 || name_end == line.size() || line[name_end] != ':') {
      return fail(400, "malformed header field name");
    }
    const std::string_view value = trim_ows(line.substr(name_end + 1));
    if (!is_valid_field_value(value)) return fail(400, "control character in a header value");
    if (count == storage.size()) return fail(431, "too many header fields");
    storage[count++] = HttpHeader{line.substr(0, name_end), value};
    pos = eol + 2;
  }
}

// request-line = method SP request-target SP HTTP-version (RFC 7230 3.1.1), exactly one space
// each.
HeadParseResult parse_request_line(std::string_view line, std::string_view& method,
                                   std::string_view& target, std::uint8_t& minor) noexcept {
  const std::size_t method_end = token_length(line);
  if (method_end == 0 || method_end == line.size() || line[method_end] != ' ') {
    return fail(400, "malformed request method");
  }
  std::size_t target_end = method_end + 1;
  while (target_end < line.size() && is_target_char(line[target_end])) ++target_end;
  if (target_end == method_end + 1 || target_end == line.size() || line[target_end] != ' ') {
    return fail(400, "malformed request target");
  }
  const HeadParseResult version = parse_version(line.substr(target_end + 1), minor);
  if (version.failed()) return version;
  method = line.substr(0, method_end);
  target = line.substr(method_end + 1, target_end - method_end - 1);
  // RFC 7230 5.3.4: the asterisk form is only for a server-wide OPTIONS request.
  if (target == "*" && method != "OPTIONS") {
    return fail(400, "the asterisk-form target is only for OPTIONS");
  }
  return {HeadStatus::complete};
}

// status-line = HTTP-version SP status-code SP reason-phrase (RFC 7230 3.1.2). An empty reason
// phrase without its space is accepted too: some servers send "HTTP/1.1 101". Sets every field of
// `out` but the headers.
HeadParseResult parse_status_line(std::string_view line, ResponseHead& out) noexcept {
  const HeadParseResult version = parse_version(line.substr(0, 8), out.minor_version);
  if (version.failed()) return version;
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  if (line.size() < 12 || line[8] != ' ' || !is_digit(line[9]) || !is_digit(line[10]) ||
      !is_digit(line[11]) || (line.size() > 12 && line[12] != ' ')) {
    return fail(400, "malformed status line");
  }
  out.reason = line.size() > 12 ? line.substr(13) : std::string_view{};
  if (!is_valid_field_value(out.reason)) return fail(400, "control character in the reason phrase");
  out.status_code = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  return {HeadStatus::complete};
}

// A request head and a response head differ only in their start line: both are a whole head as
// HeadScanner finds it, then the start line read by `parse_start_line` (which returns complete or
// an error), then the header fields. `headers` is set only when the head is complete.
template <typename ParseStartLine>
HeadParseResult parse_head(std::string_view buffer, std::span<HttpHeader> storage,
                           const HttpLimits& limits, ParseStartLine parse_start_line,
                           std::span<HttpHeader>& headers) noexcept {
  HeadScanner scanner(limits);
  const HeadParseResult scanned = scanner.scan(buffer);
  if (!scanned.complete()) return scanned;
  const std::string_view head = buffer.substr(0, scanned.consumed);
  const std::size_t line_end = head.find("\r\n");
  const HeadParseResult start_line = parse_start_line(head.substr(0, line_end));
  if (start_line.failed()) return start_line;
  std::size_t count = 0;
  const HeadParseResult fields = parse_fields(head, line_end + 2, storage, count);
  if (fields.complete()) headers = storage.first(count);
  return fields;
}

}  // namespace

bool is_tchar(char c) noexcept {
  return tchar_table[static_cast<unsigned char>(c)];
}

bool is_token(std::string_view text) noexcept {
  return !text.empty() && token_length(text) == text.size();
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

std::string_view trim_ows(std::string_view text) noexcept {
  while (!text.empty() && is_ows(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_ows(text.back())) text.remove_suffix(1);
  return text;
}

bool is_valid_field_value(std::string_view value) noexcept {
  for (char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t') || byte == 0x7f) return false;
  }
  return true;
}

std::string_view find_header(std::span<const HttpHeader> headers, std::string_view name) noexcept {
  for (const HttpHeader& field : headers) {
    if (iequals(field.name, name)) return field.value;
  }
  return {};
}

std::size_t count_header(std::span<const HttpHeader> headers, std::string_view name) noexcept {
  std::size_t n = 0;
  for (const HttpHeader& field : headers)
    if (iequals(field.name, name)) ++n;
  return n;
}

bool header_has_token(std::span<const HttpHeader> headers, std::string_view name,
                      std::string_view token) noexcept {
  for (const HttpHeader& field : headers) {
    if (!iequals(field.name, name)) continue;
    const bool absent =
        for_each_list_element(field.value, [&](std::string_view e) { return !iequals(e, token); });
    if (!absent) return true;
  }
  return false;
}

HeadParseResult HeadScanner::scan(std::string_view buffer) noexcept {
  const std::size_t limit = limits_.max_head_size;
  const std::size_t end = buffer.size() < limit ? buffer.size() : limit;
  // Progress is kept on every return, so that scanning again gives the same answer.
  std::size_t& i = scanned_;
  while (i < end) {
    const char c = buffer[i];
    if (c == '\r') {
      if (i + 1 == buffer.size()) break;  // the LF has not arrived yet
      if (buffer[i + 1] != '\n') return fail(400, "CR without LF in the head");
      if (i + 2 > limit) return fail(431, "head larger than the limit");
      if (i == line_start_) return {HeadStatus::complete, i + 2};
      // Field lines after the start line; counted here so that a flood of tiny fields is refused
      // before the head is complete.
      if (++lines_ > limits_.max_headers + 1) return fail(431, "too many header fields");
      i += 2;
      line_start_ = i;
      continue;
    }
    if (c == '\n') return fail(400, "LF without CR in the head");
    if (c == '\0') return fail(400, "NUL byte in the head");
    ++i;
  }
  if (i >= limit) return fail(431, "head larger than the limit");
  return {HeadStatus::partial};
}

HeadParseResult parse_request_head(std::string_view buffer, Request& out,
                                   std::span<HttpHeader> header_storage,
                                   const HttpLimits& limits) noexcept {
  std::string_view method;
  std::string_view target;
  std::uint8_t minor = 0;
  std::span<HttpHeader> headers;
  const HeadParseResult result = parse_head(
      buffer, header_storage, limits,
      [&](std::string_view line) { return parse_request_line(line, method, target, minor); },
      headers);
  if (result.complete()) out = Request(method, target, minor, headers);
  return result;
}

HeadParseResult parse_response_head(std::string_view buffer, ResponseHead& out,
                                    std::span<HttpHeader> header_storage,
                                    const HttpLimits& limits) noexcept {
  ResponseHead status;
  std::span<HttpHeader> headers;
  const HeadParseResult result = parse_head(
      buffer, header_storage, limits,
      [&](std::string_view line) { return parse_status_line(line, status); }, headers);
  if (result.complete()) {
    out = status;
    out.headers = headers;
  }
  return result;
}

}  // namespace fastws::protocol

namespace fastws {

// Request's accessors live with the parser that fills it.

std::string_view Request::path() const noexcept {
  std::string_view path = target_.substr(0, target_.find('?'));
  if (!path.empty() && path.front() != '/') {
    // absolute-form (RFC 7230 5.3.2): scheme "://" authority path-abempty.
    const std::size_t scheme_end = path.find("://");
    if (scheme_end != std::string_view::npos) {
      const std::size_t slash = path.find('/', scheme_end + 3);
      return slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
    }
  }
  return path;
}

std::string_view Request::query() const noexcept {
  const std::size_t mark = target_.find('?');
  return mark == std::string_view::npos ? std::string_view{} : target_.substr(mark + 1);
}

std::string_view Request::header(std::string_view name) const noexcept {
  return protocol::find_header(headers_, name);
}

std::size_t Request::header_count(std::string_view name) const noexcept {
  return protocol::count_header(headers_, name);
}

bool Request::has_token(std::string_view name, std::string_view token) const noexcept {
  return protocol::header_has_token(headers_, name, token);
}

bool Request::keep_alive() const noexcept {
  if (has_token("connection", "close")) return false;
  return minor_version_ >= 1 || has_token("connection", "keep-alive");
}

}  // namespace fastws
