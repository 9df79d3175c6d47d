// Sec-WebSocket-Extensions parsing (RFC 6455 9.1 with the tokens, quoted-strings and lists of
// RFC 7230 3.2.6 and 7): structure, zero copy, unescaping, malformed input, linear time.
#include "protocol/extension_header.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fastws::protocol {
namespace {

using Error = ExtensionHeaderError;

// "name;p=v;q" renderings of the parsed extensions, to compare whole results in one line.
std::vector<std::string> render(const ParsedExtensions& parsed) {
  std::vector<std::string> out;
  for (const Extension& extension : parsed.extensions()) {
    std::string text(extension.name);
    for (const ExtensionParam& param : extension.params) {
      text.append(";").append(param.name);
      if (param.has_value) text.append("=").append(param.value);
    }
    out.push_back(text);
  }
  return out;
}

std::vector<std::string> parse_ok(std::string_view text) {
  ParsedExtensions parsed;
  EXPECT_EQ(parse_extension_header(text, parsed), Error::none) << text;
  return render(parsed);
}

Error parse_error(std::string_view text) {
  ParsedExtensions parsed;
  const Error error = parse_extension_header(text, parsed);
  EXPECT_TRUE(parsed.extensions().empty()) << "a failed parse must leave no extensions";
  return error;
}

bool points_into(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

TEST(ExtensionHeader, SingleExtensionWithoutParameters) {
  EXPECT_EQ(parse_ok("permessage-deflate"), std::vector<std::string>{"permessage-deflate"});
}

TEST(ExtensionHeader, ParametersWithAndWithoutValues) {
  EXPECT_EQ(parse_ok("permessage-deflate; client_max_window_bits; server_max_window_bits=10"),
            std::vector<std::string>{
                "permessage-deflate;client_max_window_bits;server_max_window_bits=10"});
}

TEST(ExtensionHeader, SeveralExtensionsInOrder) {
  EXPECT_EQ(parse_ok("permessage-deflate; server_max_window_bits=10, permessage-deflate, x-foo"),
            (std::vector<std::string>{"permessage-deflate;server_max_window_bits=10",
                                      "permessage-deflate", "x-foo"}));
}

// Implied *LWS of RFC 6455 9.1 / OWS of RFC 7230: spaces and tabs around every separator.
TEST(ExtensionHeader, WhitespaceAroundSeparators) {
  EXPECT_EQ(parse_ok(" \tfoo \t; a \t= \t1 \t;b\t, \tbar ;c=\"2\" "),
            (std::vector<std::string>{"foo;a=1;b", "bar;c=2"}));
}

// RFC 7230 7: recipients must accept and skip empty list elements.
TEST(ExtensionHeader, EmptyListElementsAreSkipped) {
  EXPECT_EQ(parse_ok(", ,foo,, ,bar,"), (std::vector<std::string>{"foo", "bar"}));
}

TEST(ExtensionHeader, NamesAndPlainValuesPointIntoTheInput) {
  const std::string text = "foo; bits=10; other=\"12\"";
  ParsedExtensions parsed;
  ASSERT_EQ(parse_extension_header(text, parsed), Error::none);
  const Extension& foo = parsed.extensions()[0];
  EXPECT_TRUE(points_into(foo.name, text));
  ASSERT_EQ(foo.params.size(), 2u);
  EXPECT_TRUE(points_into(foo.params[0].name, text));
  EXPECT_TRUE(points_into(foo.params[0].value, text));
  // A quoted value without escapes is the text between the quotes, not a copy.
  EXPECT_EQ(foo.params[1].value, "12");
  EXPECT_TRUE(points_into(foo.params[1].value, text));
}

TEST(ExtensionHeader, EscapedQuotedValuesAreUnescaped) {
  const std::string text = R"(foo; a="1\5"; b="\x\y\z", bar; c="\1")";
  ParsedExtensions parsed;
  ASSERT_EQ(parse_extension_header(text, parsed), Error::none);
  EXPECT_EQ(render(parsed), (std::vector<std::string>{"foo;a=15;b=xyz", "bar;c=1"}));
  // Unescaped values live in the parser's own storage; earlier ones stay valid as more arrive.
  EXPECT_FALSE(points_into(parsed.extensions()[0].params[0].value, text));
  EXPECT_EQ(parsed.extensions()[0].params[0].value, "15");
}

TEST(ExtensionHeader, ViewsSurviveAMove) {
  const std::string text = R"(foo; a="\1\2"; b=3)";
  ParsedExtensions parsed;
  ASSERT_EQ(parse_extension_header(text, parsed), Error::none);
  const ParsedExtensions moved = std::move(parsed);
  EXPECT_EQ(render(moved), std::vector<std::string>{"foo;a=12;b=3"});
}

TEST(ExtensionHeader, ReuseClearsThePreviousResult) {
  ParsedExtensions parsed;
  ASSERT_EQ(parse_extension_header(R"(a; x="\1", b)", parsed), Error::none);
  ASSERT_EQ(parse_extension_header("c", parsed), Error::none);
  EXPECT_EQ(render(parsed), std::vector<std::string>{"c"});
}

TEST(ExtensionHeader, EmptyHeaderIsRefused) {
  EXPECT_EQ(parse_error(""), Error::empty);
  EXPECT_EQ(parse_error(" , ,\t"), Error::empty);
}

TEST(ExtensionHeader, MissingNames) {
  EXPECT_EQ(parse_error(";"), Error::expected_token);
  EXPECT_EQ(parse_error("foo;"), Error::expected_token);
  EXPECT_EQ(parse_error("foo;;bar"), Error::expected_token);
  EXPECT_EQ(parse_error("foo; =1"), Error::expected_token);
  EXPECT_EQ(parse_error("\"foo\""), Error::expected_token);
  EXPECT_EQ(parse_error("foo, @bar"), Error::expected_token);
}

TEST(ExtensionHeader, MissingValues) {
  EXPECT_EQ(parse_error("foo; a="), Error::expected_value);
  EXPECT_EQ(parse_error("foo; a= ;b"), Error::expected_value);
  EXPECT_EQ(parse_error("foo; a=,bar"), Error::expected_value);
}

TEST(ExtensionHeader, CharactersWhereASeparatorBelongs) {
  EXPECT_EQ(parse_error("foo bar"), Error::expected_separator);
  EXPECT_EQ(parse_error("foo=1"), Error::expected_separator);  // the extension takes no value
  EXPECT_EQ(parse_error("foo; a=1 2"), Error::expected_separator);
  EXPECT_EQ(parse_error("foo; a=\"1\"2"), Error::expected_separator);
  EXPECT_EQ(parse_error(std::string_view("foo\0", 4)), Error::expected_separator);
  EXPECT_EQ(parse_error("foo\r\n bar"), Error::expected_separator);
  EXPECT_EQ(parse_error("f\xc3\xa9"), Error::expected_separator);
}

TEST(ExtensionHeader, BrokenQuotedStrings) {
  EXPECT_EQ(parse_error("foo; a=\"15"), Error::unterminated_quote);
  EXPECT_EQ(parse_error("foo; a=\"15\\\""), Error::unterminated_quote);  // the quote is escaped
  EXPECT_EQ(parse_error("foo; a=\"1\\"), Error::unterminated_quote);
  EXPECT_EQ(parse_error("foo; a=\"1\x01\""), Error::invalid_quoted_char);
  EXPECT_EQ(parse_error("foo; a=\"1\x7f\""), Error::invalid_quoted_char);
  EXPECT_EQ(parse_error("foo; a=\"\\\n\""), Error::invalid_quoted_char);
}

// RFC 6455 9.1: after unescaping, a quoted value must still be a token.
TEST(ExtensionHeader, QuotedValueMustBeAToken) {
  EXPECT_EQ(parse_error("foo; a=\"1 5\""), Error::quoted_value_not_token);
  EXPECT_EQ(parse_error("foo; a=\"\""), Error::quoted_value_not_token);
  EXPECT_EQ(parse_error("foo; a=\"a,b\""), Error::quoted_value_not_token);
  EXPECT_EQ(parse_error("foo; a=\"\\\"\""), Error::quoted_value_not_token);
}

TEST(ExtensionHeader, EveryErrorHasADescription) {
  for (Error error : {Error::none, Error::empty, Error::expected_token, Error::expected_value,
                      Error::unterminated_quote, Error::invalid_quoted_char,
                      Error::quoted_value_not_token, Error::expected_separator}) {
    EXPECT_STRNE(describe(error), "unknown error");
  }
}

// ANCHORS item 9: a 10 KiB quoted string is just a long value; far longer ones (escaped
// throughout, which exercises the copying path) and a million parameters stay linear. A
// quadratic parser would need hours for these sizes.
TEST(ExtensionHeader, HugeInputsParseInLinearTime) {
  const auto started = std::chrono::steady_clock::now();

  const std::string ten_kib = "foo; a=\"" + std::string(10 * 1024, '7') + "\"";
  ParsedExtensions parsed;
  ASSERT_EQ(parse_extension_header(ten_kib, parsed), Error::none);
  EXPECT_EQ(parsed.extensions()[0].params[0].value.size(), 10u * 1024);

  std::string escaped = "foo; a=\"";
  for (int i = 0; i < 2 * 1024 * 1024; ++i) escaped += "\\x";
  escaped += "\", bar; b=\"\\y\"";
  ASSERT_EQ(parse_extension_header(escaped, parsed), Error::none);
  EXPECT_EQ(parsed.extensions()[0].params[0].value, std::string(2 * 1024 * 1024, 'x'));
  EXPECT_EQ(parsed.extensions()[1].params[0].value, "y");

  std::string many = "foo";
  for (int i = 0; i < 1'000'000; ++i) many += ";p";
  ASSERT_EQ(parse_extension_header(many, parsed), Error::none);
  EXPECT_EQ(parsed.extensions()[0].params.size(), 1'000'000u);

  const std::string unterminated = "foo; a=\"" + std::string(4 * 1024 * 1024, 'x');
  EXPECT_EQ(parse_extension_header(unterminated, parsed), Error::unterminated_quote);

  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

}  // namespace
}  // namespace fastws::protocol
