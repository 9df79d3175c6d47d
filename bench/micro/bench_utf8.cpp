// UTF-8 validation against memcpy of the same 64 KiB buffer, for ASCII text and for a mix of
// Greek, CJK and emoji. memcpy is the peer: it touches every byte once, as validation must, so
// the ratio validation/memcpy (printed at the end, from timings of this very run) says how close
// validation comes to the cost of merely reading the message.
//
//   bench_utf8 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "micro/timing_reporter.hpp"
#include "protocol/utf8.hpp"

namespace {

constexpr std::size_t text_size = 64 * 1024;

struct Text {
  std::string name;
  std::string bytes;
};

// Repeats `piece` to text_size bytes, cut at the last code point boundary that fits.
std::string repeat_to_size(const std::string& piece) {
  std::string text;
  while (text.size() < text_size) text += piece;
  std::size_t end = text_size;
  while ((static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  return text;
}

const std::vector<Text>& texts() {
  static const std::vector<Text> all = {
      {"ascii", repeat_to_size("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do "
                               "eiusmod tempor incididunt ut labore et dolore magna aliqua.\n")},
      // Two-, three- and four-byte code points with the spaces and punctuation of real text.
      {"mixed", repeat_to_size("\xce\x9a\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce\xb1 "
                               "\xce\xba\xcf\x8c\xcf\x83\xce\xbc\xce\xb5! "
                               "\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c\xe4\xb8\x96\xe7\x95\x8c\xe3"
                               "\x80\x82\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe6\x96"
                               "\x87\xe7\xab\xa0 \xf0\x9f\x98\x80\xf0\x9f\x9a\x80\xf0\x9f\x8c\x8d"
                               " ok\n")},
  };
  return all;
}

void validate(benchmark::State& state, const Text& text) {
  if (!fastws::protocol::is_valid_utf8(text.bytes)) {
    state.SkipWithError("benchmark text is not valid UTF-8");
    return;
  }
  for (auto _ : state) {
    bool valid = fastws::protocol::is_valid_utf8(text.bytes);
    benchmark::DoNotOptimize(valid);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(text.bytes.size()));
}

void copy(benchmark::State& state, const Text& text) {
  std::string destination(text.bytes.size(), '\0');
  for (auto _ : state) {
    std::memcpy(destination.data(), text.bytes.data(), text.bytes.size());
    benchmark::DoNotOptimize(destination.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(text.bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  for (const Text& text : texts()) {
    benchmark::RegisterBenchmark(("validate/" + text.name).c_str(), validate, text);
    benchmark::RegisterBenchmark(("memcpy/" + text.name).c_str(), copy, text);
  }
  fastws::bench::TimingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::printf("\nvalidation throughput / memcpy throughput (same buffer, same run):\n");
  for (const Text& text : texts()) {
    if (auto ratio = reporter.speed_ratio("validate/" + text.name, "memcpy/" + text.name)) {
      std::printf("  %-6s %.3fx\n", text.name.c_str(), *ratio);
    }
  }
  benchmark::Shutdown();
  return 0;
}
