// permessage-deflate throughput: Deflater and Inflater (zlib, window 15, memLevel 8, level 6, the
// defaults, with context takeover) over 64 KiB of English-like text, cut into whole messages of
// 1 KiB and of 64 KiB, against memcpy of the same 64 KiB in the same run. Every iteration handles
// all 64 KiB, so bytes/s compare directly; ratio = uncompressed / compressed size. At the end it
// prints each one's speed relative to memcpy (from this run's medians) and the heap a Deflater
// and an Inflater take once used.
//
//   bench_deflate --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "micro/timing_reporter.hpp"
#include "protocol/permessage_deflate.hpp"

namespace {

using fastws::protocol::Deflater;
using fastws::protocol::Inflater;
using Bytes = std::vector<std::byte>;

constexpr std::size_t corpus_size = 64 * 1024;
constexpr std::size_t message_sizes[] = {1024, 64 * 1024};

// Sentences of common English words picked by a fixed linear congruential generator: the same
// text on every run, with the word-level repetition that makes real text compress.
const Bytes& corpus() {
  static const Bytes text = [] {
    static const char* const words[] = {
        "the",     "of",     "and",    "to",      "in",      "is",       "that",   "for",
        "it",      "as",     "was",    "with",    "be",      "by",       "on",     "not",
        "he",      "this",   "are",    "or",      "his",     "from",     "at",     "which",
        "but",     "have",   "an",     "had",     "they",    "you",      "were",   "their",
        "one",     "all",    "we",     "can",     "her",     "has",      "there",  "been",
        "if",      "more",   "when",   "will",    "would",   "who",      "so",     "no",
        "message", "server", "client", "network", "latency", "compress", "window", "frame",
        "socket",  "buffer", "thread", "through", "between", "because",  "people", "water"};
    std::uint32_t state = 12345;
    auto next = [&state] {
      state = state * 1103515245u + 12345u;
      return state >> 16;
    };
    std::string chars;
    while (chars.size() < corpus_size) {
      const unsigned length = 4 + next() % 14;
      for (unsigned i = 0; i < length; ++i) {
        std::string word = words[next() % std::size(words)];
        if (i == 0) word[0] = static_cast<char>(word[0] - 'a' + 'A');
        chars += word;
        chars +=
            i + 1 == length ? (next() % 4 == 0 ? "?\n" : ". ") : (next() % 9 == 0 ? ", " : " ");
      }
    }
    chars.resize(corpus_size);
    Bytes out(corpus_size);
    std::memcpy(out.data(), chars.data(), corpus_size);
    return out;
  }();
  return text;
}

std::span<const std::byte> message(std::size_t index, std::size_t message_size) {
  return std::span<const std::byte>(corpus()).subspan(index * message_size, message_size);
}

// The corpus compressed message by message on one stream (what a peer would send).
std::vector<Bytes> compressed_corpus(std::size_t message_size) {
  Deflater deflater(15, false, 6, 8);
  std::vector<Bytes> payloads(corpus_size / message_size);
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    deflater.compress(message(i, message_size), true, payloads[i]);
  }
  return payloads;
}

void set_counters(benchmark::State& state, std::size_t message_size) {
  std::size_t compressed = 0;
  for (const Bytes& payload : compressed_corpus(message_size)) compressed += payload.size();
  state.counters["ratio"] = static_cast<double>(corpus_size) / static_cast<double>(compressed);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(corpus_size));
}

void deflate(benchmark::State& state) {
  const auto message_size = static_cast<std::size_t>(state.range(0));
  Deflater deflater(15, false, 6, 8);
  Bytes out;
  for (auto _ : state) {
    for (std::size_t i = 0; i < corpus_size / message_size; ++i) {
      out.clear();
      if (!deflater.compress(message(i, message_size), true, out)) {
        state.SkipWithError("compress failed");
        return;
      }
      benchmark::DoNotOptimize(out.data());
    }
  }
  set_counters(state, message_size);
}

void inflate(benchmark::State& state) {
  const auto message_size = static_cast<std::size_t>(state.range(0));
  const std::vector<Bytes> payloads = compressed_corpus(message_size);
  Inflater inflater(15, false);
  Bytes out;
  // Passes after the first see the previous pass as history, which no message refers to (the
  // first message was compressed on a fresh stream), so every pass decodes the same text.
  for (auto _ : state) {
    for (std::size_t i = 0; i < payloads.size(); ++i) {
      out.clear();
      if (inflater.decompress(payloads[i], true, out, message_size) != Inflater::Status::ok ||
          !std::equal(out.begin(), out.end(), message(i, message_size).begin())) {
        state.SkipWithError("inflate failed");
        return;
      }
    }
  }
  set_counters(state, message_size);
}

void copy(benchmark::State& state) {
  Bytes destination(corpus_size);
  for (auto _ : state) {
    std::memcpy(destination.data(), corpus().data(), corpus_size);
    benchmark::DoNotOptimize(destination.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(corpus_size));
}

std::string named(const char* function, std::size_t size) {
  return std::string(function) + "/" + std::to_string(size);
}

void print_ratios(const fastws::bench::TimingReporter& reporter) {
  std::printf(
      "\ncodec time / memcpy time for the same 64 KiB (same run; 100x = a hundred times "
      "slower than memcpy):\n");
  std::printf("  %9s  %10s  %10s\n", "message", "deflate", "inflate");
  const std::string peer = named("memcpy", corpus_size);
  for (std::size_t size : message_sizes) {
    const auto deflating = reporter.speed_ratio(peer, named("deflate", size));
    const auto inflating = reporter.speed_ratio(peer, named("inflate", size));
    if (!deflating || !inflating) continue;
    std::printf("  %9zu  %9.0fx  %9.0fx\n", size, *deflating, *inflating);
  }
}

std::size_t heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

// Heap per object once it has handled a message, averaged over a few (zlib allocates on first
// use; before that an object costs only itself).
template <class Make, class Use>
std::size_t heap_per_object(Make make, Use use) {
  constexpr std::size_t count = 16;
  const std::size_t before = heap_in_use();
  std::vector<decltype(make())> objects;
  objects.reserve(count);
  for (std::size_t i = 0; i < count; ++i) objects.push_back(make());
  for (auto& object : objects) use(*object);
  return (heap_in_use() - before) / count;
}

void print_memory() {
  const Bytes hello(corpus().begin(), corpus().begin() + 100);
  Bytes hello_compressed;
  Deflater(15, false, 6, 8).compress(hello, true, hello_compressed);
  std::printf("\nheap per object once used (zlib state; nothing before first use):\n");
  for (int mem_level : {8, 7, 1}) {
    const std::size_t bytes =
        heap_per_object([mem_level] { return std::make_unique<Deflater>(15, false, 6, mem_level); },
                        [&hello](Deflater& deflater) {
                          Bytes out;
                          deflater.compress(hello, true, out);
                        });
    std::printf("  Deflater window 15 memLevel %d: %zu bytes (%.1f KiB)\n", mem_level, bytes,
                static_cast<double>(bytes) / 1024);
  }
  const std::size_t bytes =
      heap_per_object([] { return std::make_unique<Inflater>(15, false); },
                      [&](Inflater& inflater) {
                        Bytes out;
                        inflater.decompress(hello_compressed, true, out, hello.size());
                      });
  std::printf("  Inflater window 15:            %zu bytes (%.1f KiB)\n", bytes,
              static_cast<double>(bytes) / 1024);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  for (auto* benchmark : {benchmark::RegisterBenchmark("deflate", deflate),
                          benchmark::RegisterBenchmark("inflate", inflate)}) {
    for (std::size_t size : message_sizes) benchmark->Arg(static_cast<std::int64_t>(size));
  }
  benchmark::RegisterBenchmark("memcpy", copy)->Arg(static_cast<std::int64_t>(corpus_size));
  fastws::bench::TimingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_ratios(reporter);
  print_memory();
  benchmark::Shutdown();
  return 0;
}
