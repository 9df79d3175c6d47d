#include "conformance/compression_corpus.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>

namespace fastws::conformance {

namespace {

// splitmix64: a fixed, portable sequence, so every run sends the same bytes.
class Random {
 public:
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t bound) { return static_cast<std::size_t>(next() % bound); }
  template <typename T, std::size_t N>
  const T& pick(const std::array<T, N>& items) {
    return items[below(N)];
  }

 private:
  std::uint64_t state_ = 0x5EED;
};

// Cuts or pads (with spaces) to exactly `size` octets; the cut stays on a code point boundary.
std::string fit(std::string text, std::size_t size) {
  if (text.size() > size) {
    std::size_t end = size;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0u) == 0x80u) --end;
    text.resize(end);
  }
  text.append(size - text.size(), ' ');
  return text;
}

std::string json_document(std::size_t size) {
  Random random;
  const std::array<std::string_view, 12> names = {"Anna",  "Jürgen", "Zoë",   "Łukasz",
                                                  "Chen",  "Olivia", "Mateo", "Søren",
                                                  "Aisha", "Noah",   "Élise", "Kenji"};
  const std::array<std::string_view, 8> cities = {"Berlin", "São Paulo", "Kraków",  "Osaka",
                                                  "Lyon",   "Toronto",   "Nairobi", "Malmö"};
  const std::array<std::string_view, 10> tags = {"alpha", "beta",  "stable", "legacy", "urgent",
                                                 "ops",   "infra", "web",    "mobile", "data"};
  std::string out = "[\n";
  for (std::size_t id = 1; out.size() < size; ++id) {
    out += "  {\"id\": " + std::to_string(id) + ", \"name\": \"" + std::string(random.pick(names)) +
           " " + std::string(random.pick(names)) + "\", \"email\": \"user" +
           std::to_string(random.below(100000)) +
           "@example.org\", \"active\": " + (random.below(2) == 0 ? "true" : "false") +
           ", \"score\": " + std::to_string(static_cast<double>(random.below(10000)) / 100.0) +
           ", \"address\": {\"city\": \"" + std::string(random.pick(cities)) + "\", \"zip\": \"" +
           std::to_string(10000 + random.below(89999)) + "\"}, \"tags\": [";
    const std::size_t count = 1 + random.below(4);
    for (std::size_t t = 0; t < count; ++t) {
      out += (t == 0 ? "\"" : ", \"") + std::string(random.pick(tags)) + "\"";
    }
    out += "]},\n";
  }
  return fit(out, size - 2) + "\n]";
}

// A 512x512 8-bit BMP: 54-octet header, 256-entry grey palette, smooth shapes with some noise.
std::string grey_bitmap() {
  constexpr std::uint32_t side = 512;
  constexpr std::uint32_t pixels_at = 54 + 1024;
  constexpr std::uint32_t file_size = pixels_at + side * side;
  std::string out;
  const auto put16 = [&out](std::uint32_t v) {
    out += static_cast<char>(v & 0xFF);
    out += static_cast<char>((v >> 8) & 0xFF);
  };
  const auto put32 = [&](std::uint32_t v) {
    put16(v & 0xFFFF);
    put16(v >> 16);
  };
  out += "BM";
  put32(file_size);
  put32(0);
  put32(pixels_at);
  put32(40);
  put32(side);
  put32(side);
  put16(1);
  put16(8);
  put32(0);
  put32(side * side);
  put32(2835);
  put32(2835);
  put32(256);
  put32(0);
  for (std::uint32_t grey = 0; grey < 256; ++grey) {
    out += std::string(3, static_cast<char>(grey));
    out += '\0';
  }
  Random random;
  for (std::uint32_t y = 0; y < side; ++y) {
    for (std::uint32_t x = 0; x < side; ++x) {
      const double shade = 128 + 60 * std::sin(x / 37.0) * std::cos(y / 23.0) +
                           40 * std::sin((x + y) / 71.0) + static_cast<double>(random.below(17)) -
                           8.0;
      out += static_cast<char>(static_cast<int>(std::clamp(shade, 0.0, 255.0)));
    }
  }
  return out;
}

std::string german_verse(std::size_t size) {
  Random random;
  const std::array<std::string_view, 24> words = {
      "Geist", "Herz", "Nacht", "Welt",  "Licht",   "Träume", "Gefühl", "Wahrheit",
      "schön", "früh", "süß",   "Grüße", "Mädchen", "Blüte",  "Seele",  "Himmel",
      "Erde",  "Gott", "ewig",  "leise", "tönen",   "Freude", "Öde",    "Weisheit"};
  const std::array<std::string_view, 12> small = {"und", "die", "der",  "das", "mit", "im",
                                                  "wie", "so",  "doch", "ich", "du",  "wir"};
  const std::array<std::string_view, 4> speakers = {"FAUST.", "MEPHISTOPHELES.", "GRETCHEN.",
                                                    "WAGNER."};
  std::string out;
  while (out.size() < size) {
    out += "\n";
    out += random.pick(speakers);
    out += "\n";
    const std::size_t lines = 2 + random.below(6);
    for (std::size_t line = 0; line < lines; ++line) {
      const std::size_t count = 4 + random.below(5);
      for (std::size_t w = 0; w < count; ++w) {
        if (w > 0) out += ' ';
        out += (random.below(3) == 0) ? random.pick(words) : random.pick(small);
      }
      out += random.below(4) == 0 ? "!\n" : ",\n";
    }
  }
  return fit(out, size);
}

std::string html_page(std::size_t size) {
  Random random;
  const std::array<std::string_view, 10> words = {"network", "server", "request", "latency",
                                                  "message", "frame",  "client",  "buffer",
                                                  "socket",  "report"};
  std::string out =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Report</title>"
      "</head>\n<body>\n";
  for (std::size_t section = 1; out.size() < size; ++section) {
    out += "<div class=\"section\" id=\"s" + std::to_string(section) + "\">\n<h2>Section " +
           std::to_string(section) + "</h2>\n<table>\n";
    const std::size_t rows = 3 + random.below(6);
    for (std::size_t row = 0; row < rows; ++row) {
      out += "  <tr><td class=\"name\">" + std::string(random.pick(words)) +
             "</td><td class=\"value\">" + std::to_string(random.below(100000)) +
             "</td><td><a href=\"/item/" + std::to_string(random.below(1000)) + "\">" +
             std::string(random.pick(words)) + "</a></td></tr>\n";
    }
    out += "</table>\n<p>";
    for (std::size_t w = 0; w < 20; ++w) out += std::string(random.pick(words)) + " ";
    out += "</p>\n</div>\n";
  }
  return fit(out, size - 15) + "</body></html>\n";
}

// PDF-like: objects with text between streams of random octets, as compressed images and fonts
// look to a second compressor.
std::string pdf_like(std::size_t size) {
  Random random;
  std::string out = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n";
  for (std::size_t object = 1; out.size() < size; ++object) {
    const std::size_t stream = 2000 + random.below(12000);
    out += std::to_string(object) + " 0 obj\n<< /Length " + std::to_string(stream) +
           " /Filter /FlateDecode >>\nstream\n";
    for (std::size_t i = 0; i < stream; ++i) out += static_cast<char>(random.next() & 0xFF);
    out += "\nendstream\nendobj\n";
    out += "BT /F1 12 Tf 72 712 Td (Page " + std::to_string(object) +
           " of the generated document) Tj ET\n";
  }
  out.resize(size);
  return out;
}

}  // namespace

CompressionCorpus::CompressionCorpus(std::string_view title_, bool binary_, std::string data_)
    : title(title_), binary(binary_), data(std::move(data_)) {
  if (binary) return;
  for (std::size_t at = 0; at < data.size(); ++at) {
    if ((static_cast<unsigned char>(data[at]) & 0xC0u) != 0x80u) {
      code_point_starts.push_back(static_cast<std::uint32_t>(at));
    }
  }
}

const CompressionCorpus& compression_corpus(std::size_t index) {
  static std::array<std::unique_ptr<CompressionCorpus>, compression_corpus_count> built;
  static std::mutex building;
  const std::lock_guard lock(building);
  auto& corpus = built.at(index);
  if (!corpus) {
    switch (index) {
      case 0:
        corpus.reset(new CompressionCorpus{"Large JSON data file", false, json_document(194056)});
        break;
      case 1:
        corpus.reset(new CompressionCorpus{"Grey bitmap 512x512", true, grey_bitmap()});
        break;
      case 2:
        corpus.reset(
            new CompressionCorpus{"Human readable text, German verse", true, german_verse(222218)});
        break;
      case 3:
        corpus.reset(new CompressionCorpus{"Large HTML file", false, html_page(263647)});
        break;
      default:
        corpus.reset(new CompressionCorpus{"A larger PDF", true, pdf_like(1042328)});
        break;
    }
  }
  return *corpus;
}

std::string next_slice(const CompressionCorpus& corpus, std::size_t length, std::size_t& at) {
  const std::string& data = corpus.data;
  std::string slice;
  if (corpus.binary) {
    while (slice.size() < length) {
      const std::size_t take = std::min(length - slice.size(), data.size() - at);
      slice.append(data, at, take);
      at = (at + take) % data.size();
    }
    return slice;
  }
  // `at` is always where a code point starts: whole runs of code points up to the end of the
  // corpus, then on from its start.
  const std::vector<std::uint32_t>& starts = corpus.code_point_starts;
  std::size_t first =
      static_cast<std::size_t>(std::lower_bound(starts.begin(), starts.end(), at) - starts.begin());
  while (length > 0) {
    const std::size_t take = std::min(length, starts.size() - first);
    const std::size_t end = first + take == starts.size() ? data.size() : starts[first + take];
    slice.append(data, starts[first], end - starts[first]);
    length -= take;
    first = (first + take) % starts.size();
  }
  at = starts[first];
  return slice;
}

}  // namespace fastws::conformance
