#include "conformance/utf8_vectors.hpp"

#include <string_view>

#include "protocol/utf8.hpp"

namespace fastws::conformance {

namespace {

using namespace std::string_literals;

// "κόσμε" (Greek), the vector the prefixes and several cases are cut from.
const std::string kosme = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";

std::vector<Utf8Vector> all_invalid(std::initializer_list<std::string> list) {
  std::vector<Utf8Vector> vectors;
  for (const std::string& bytes : list) vectors.push_back({false, bytes});
  return vectors;
}

std::vector<Utf8Vector> all_valid(std::initializer_list<std::string> list) {
  std::vector<Utf8Vector> vectors;
  for (const std::string& bytes : list) vectors.push_back({true, bytes});
  return vectors;
}

// Every byte from `first` up to (not including) `last`, each followed by a space.
std::string lonely_starts(unsigned first, unsigned last) {
  std::string bytes;
  for (unsigned byte = first; byte < last; ++byte) {
    bytes += static_cast<char>(byte);
    bytes += ' ';
  }
  return bytes;
}

}  // namespace

std::vector<Utf8VectorGroup> utf8_vector_groups() {
  std::vector<Utf8VectorGroup> groups;
  groups.push_back({"Some valid UTF-8 sequences",
                    all_valid({"hello\x24world", "hello\xc2\xa2world", "hello\xe2\x82\xacworld",
                               "hello\xf0\xa4\xad\xa2world", kosme})});

  Utf8VectorGroup prefixes{
      "All prefixes of a valid UTF-8 string that contains multi-byte code points", {}};
  for (std::size_t length = 1; length <= kosme.size(); ++length) {
    const std::string prefix = kosme.substr(0, length);
    prefixes.vectors.push_back({protocol::is_valid_utf8(prefix), prefix});
  }
  groups.push_back(prefixes);

  groups.push_back({"First possible sequence of a certain length",
                    all_valid({"\x00"s, "\xc2\x80", "\xe0\xa0\x80", "\xf0\x90\x80\x80"})});
  groups.push_back({"First possible sequence length 5/6 (invalid codepoints)",
                    all_invalid({"\xf8\x88\x80\x80\x80", "\xfc\x84\x80\x80\x80\x80"})});
  groups.push_back({"Last possible sequence of a certain length",
                    all_valid({"\x7f", "\xdf\xbf", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf"})});
  groups.push_back(
      {"Last possible sequence length 4/5/6 (invalid codepoints)",
       all_invalid({"\xf7\xbf\xbf\xbf", "\xfb\xbf\xbf\xbf\xbf", "\xfd\xbf\xbf\xbf\xbf\xbf"})});
  Utf8VectorGroup boundaries{
      "Other boundary conditions",
      all_valid({"\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbd", "\xf4\x8f\xbf\xbf"})};
  boundaries.vectors.push_back({false, "\xf4\x90\x80\x80"});
  groups.push_back(boundaries);

  Utf8VectorGroup continuations{
      "Unexpected continuation bytes",
      all_invalid({"\x80", "\xbf", "\x80\xbf", "\x80\xbf\x80", "\x80\xbf\x80\xbf",
                   "\x80\xbf\x80\xbf\x80", "\x80\xbf\x80\xbf\x80\xbf"})};
  std::string every_continuation;
  for (unsigned byte = 0x80; byte < 0xbf; ++byte) every_continuation += static_cast<char>(byte);
  continuations.vectors.push_back({false, every_continuation});
  groups.push_back(continuations);

  groups.push_back(
      {"Lonely start characters",
       all_invalid({lonely_starts(0xc0, 0xdf), lonely_starts(0xe0, 0xef), lonely_starts(0xf0, 0xf7),
                    lonely_starts(0xf8, 0xfb), lonely_starts(0xfc, 0xfd)})});
  const std::initializer_list<std::string> truncated = {
      "\xc0", "\xe0\x80", "\xf0\x80\x80", "\xf8\x80\x80\x80", "\xfc\x80\x80\x80\x80",
      "\xdf", "\xef\xbf", "\xf7\xbf\xbf", "\xfb\xbf\xbf\xbf", "\xfd\xbf\xbf\xbf\xbf"};
  groups.push_back({"Sequences with last continuation byte missing", all_invalid(truncated)});
  std::string concatenated;
  for (const std::string& bytes : truncated) concatenated += bytes;
  groups.push_back({"Concatenation of incomplete sequences", all_invalid({concatenated})});
  groups.push_back({"Impossible bytes", all_invalid({"\xfe", "\xff", "\xfe\xfe\xff\xff"})});
  groups.push_back({"Examples of an overlong ASCII character",
                    all_invalid({"\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf",
                                 "\xf8\x80\x80\x80\xaf", "\xfc\x80\x80\x80\x80\xaf"})});
  groups.push_back({"Maximum overlong sequences",
                    all_invalid({"\xc1\xbf", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf",
                                 "\xf8\x87\xbf\xbf\xbf", "\xfc\x83\xbf\xbf\xbf\xbf"})});
  groups.push_back({"Overlong representation of the NUL character",
                    all_invalid({"\xc0\x80", "\xe0\x80\x80", "\xf0\x80\x80\x80",
                                 "\xf8\x80\x80\x80\x80", "\xfc\x80\x80\x80\x80\x80"})});
  groups.push_back({"Single UTF-16 surrogates",
                    all_invalid({"\xed\xa0\x80", "\xed\xad\xbf", "\xed\xae\x80", "\xed\xaf\xbf",
                                 "\xed\xb0\x80", "\xed\xbe\x80", "\xed\xbf\xbf"})});
  groups.push_back({"Paired UTF-16 surrogates",
                    all_invalid({"\xed\xa0\x80\xed\xb0\x80", "\xed\xa0\x80\xed\xbf\xbf",
                                 "\xed\xad\xbf\xed\xb0\x80", "\xed\xad\xbf\xed\xbf\xbf",
                                 "\xed\xae\x80\xed\xb0\x80", "\xed\xae\x80\xed\xbf\xbf",
                                 "\xed\xaf\xbf\xed\xb0\x80", "\xed\xaf\xbf\xed\xbf\xbf"})});

  // Non-characters are valid UTF-8 (RFC 3629): U+FFFE, U+FFFF and the last two code points of
  // planes 1-16 (F0-F4 lead bytes; F0 8F is overlong and F4 above 8F past U+10FFFF).
  Utf8VectorGroup noncharacters{"Non-character code points (valid UTF-8)",
                                all_valid({"\xef\xbf\xbe", "\xef\xbf\xbf"})};
  for (const unsigned lead : {0xf0u, 0xf1u, 0xf2u, 0xf3u, 0xf4u}) {
    for (const unsigned second : {0x8fu, 0x9fu, 0xafu, 0xbfu}) {
      if (lead == 0xf4 && second != 0x8f) continue;
      if (lead == 0xf0 && second == 0x8f) continue;
      for (const unsigned last : {0xbeu, 0xbfu}) {
        noncharacters.vectors.push_back(
            {true, std::string{static_cast<char>(lead), static_cast<char>(second), '\xbf',
                               static_cast<char>(last)}});
      }
    }
  }
  groups.push_back(noncharacters);
  groups.push_back({"Unicode specials (i.e. replacement char)",
                    all_valid({"\xef\xbf\xb9", "\xef\xbf\xba", "\xef\xbf\xbb", "\xef\xbf\xbc",
                               "\xef\xbf\xbd", "\xef\xbf\xbe", "\xef\xbf\xbf"})});
  return groups;
}

}  // namespace fastws::conformance
