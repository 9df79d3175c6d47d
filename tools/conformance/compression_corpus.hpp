// The payload sets of the compression cases (12.1-12.5, and 12.1's for 13.x), in the official
// order: a JSON document, a 512x512 grey bitmap, German verse (sent as binary), an HTML page and
// a PDF-like file with mostly incompressible streams. The official suite ships real files;
// these are generated here (deterministically, same sizes and the same kind of content), so
// compression ratios differ a little while every protocol path is the same.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fastws::conformance {

struct CompressionCorpus {
  CompressionCorpus(std::string_view title, bool binary, std::string data);

  std::string_view title;  // "Large JSON data file"
  bool binary;             // sent as binary messages (text ones are cut on code points)
  std::string data;
  // Text: where each code point of `data` starts, so that a slice of N code points is found
  // without walking them (the 1000-message cases take up to 128 Ki code points a message).
  std::vector<std::uint32_t> code_point_starts;
};

inline constexpr std::size_t compression_corpus_count = 5;

// Built on first use, then kept.
const CompressionCorpus& compression_corpus(std::size_t index);

// `length` code points (text) or octets (binary) of `corpus` from `*at` on, wrapping around at
// the end; `*at` moves past them.
std::string next_slice(const CompressionCorpus& corpus, std::size_t length, std::size_t& at);

}  // namespace fastws::conformance
