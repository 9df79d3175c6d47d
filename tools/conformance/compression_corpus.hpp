// The payload sets of the compression cases (12.1-12.5, and 12.1's for 13.x), in the official
// order: a JSON document, a 512x512 grey bitmap, German verse (sent as binary), an HTML page and
// a PDF-like file with mostly incompressible streams. The official suite ships real files;
// these are generated here (deterministically, same sizes and the same kind of content), so
// compression ratios differ a little while every protocol path is the same.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace fastws::conformance {

struct CompressionCorpus {
  std::string_view title;  // "Large JSON data file"
  bool binary;             // sent as binary messages (text ones are cut on code points)
  std::string data;
};

inline constexpr std::size_t compression_corpus_count = 5;

// Built on first use, then kept.
const CompressionCorpus& compression_corpus(std::size_t index);

// `length` code points (text) or octets (binary) of `corpus` from `*at` on, wrapping around at
// the end; `*at` moves past them.
std::string next_slice(const CompressionCorpus& corpus, std::size_t length, std::size_t& at);

}  // namespace fastws::conformance
