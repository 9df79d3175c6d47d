// Parsing a buffer of many small masked frames (16-byte payloads, as chat or game messages are)
// the way a server reads them, against memcpy of the same buffer. memcpy is the peer: it touches
// every byte once, so parse / memcpy (printed at the end from timings of this very run) says what
// per-frame work costs over merely moving the bytes.
//
//   bench_frame_parse --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "micro/timing_reporter.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/mask.hpp"

namespace {

using fastws::protocol::FrameHeaderParser;

constexpr std::size_t frame_count = 4096;
constexpr std::size_t payload_size = 16;
constexpr fastws::protocol::FrameHeaderRules server_rules{fastws::protocol::Role::server, 0,
                                                          16U << 20};

// frame_count masked binary frames with 16-byte payloads, back to back (22 bytes each).
const std::vector<std::byte>& frames() {
  static const std::vector<std::byte> wire = [] {
    std::vector<std::byte> out;
    for (std::size_t i = 0; i < frame_count; ++i) {
      fastws::protocol::FrameHeader header;
      header.fin = true;
      header.opcode = fastws::Opcode::binary;
      header.masked = true;
      header.mask = {std::byte{0x37}, std::byte{0xfa}, std::byte{0x21}, static_cast<std::byte>(i)};
      header.payload_length = payload_size;
      std::array<std::byte, fastws::protocol::max_frame_header_size + payload_size> frame{};
      const std::size_t header_size = fastws::protocol::write_frame_header(frame.data(), header);
      out.insert(out.end(), frame.begin(),
                 frame.begin() + static_cast<std::ptrdiff_t>(header_size + payload_size));
    }
    return out;
  }();
  return wire;
}

void set_counters(benchmark::State& state) {
  const auto iterations = static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(frames().size()));
  state.counters["frames"] =
      benchmark::Counter(iterations * frame_count, benchmark::Counter::kIsRate);
}

// Walks the buffer frame by frame; `on_payload` sees each payload in place. Returns the frames.
template <typename OnPayload>
std::size_t walk(std::vector<std::byte>& wire, FrameHeaderParser& parser, OnPayload on_payload) {
  std::size_t pos = 0;
  std::size_t count = 0;
  while (pos < wire.size()) {
    std::size_t used = 0;
    if (parser.parse(wire.data() + pos, wire.size() - pos, used, server_rules) !=
        FrameHeaderParser::Status::done) {
      break;
    }
    pos += used;
    const auto length = static_cast<std::size_t>(parser.header().payload_length);
    on_payload(wire.data() + pos, length, parser.header());
    pos += length;
    parser.reset();
    ++count;
  }
  return count;
}

void parse_headers(benchmark::State& state) {
  auto wire = frames();
  FrameHeaderParser parser;
  for (auto _ : state) {
    const std::size_t count = walk(wire, parser, [](std::byte*, std::size_t, const auto&) {});
    if (count != frame_count) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(count);
  }
  set_counters(state);
}

// Headers and unmasking in place, as a server reads client frames (each pass flips the payloads
// between masked and unmasked, which costs the same).
void parse_and_unmask(benchmark::State& state) {
  auto wire = frames();
  FrameHeaderParser parser;
  for (auto _ : state) {
    const std::size_t count =
        walk(wire, parser, [](std::byte* payload, std::size_t size, const auto& header) {
          fastws::protocol::apply_mask(payload, size, header.mask);
        });
    if (count != frame_count) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(wire.data());
    benchmark::ClobberMemory();
  }
  set_counters(state);
}

void copy(benchmark::State& state) {
  const auto& wire = frames();
  std::vector<std::byte> destination(wire.size());
  for (auto _ : state) {
    std::memcpy(destination.data(), wire.data(), wire.size());
    benchmark::DoNotOptimize(destination.data());
    benchmark::ClobberMemory();
  }
  set_counters(state);
}

BENCHMARK(parse_headers);
BENCHMARK(parse_and_unmask);
BENCHMARK(copy)->Name("memcpy");

void print_ratios(const fastws::bench::TimingReporter& reporter) {
  std::printf("\n%zu masked frames of %zu-byte payloads (%zu bytes), same run:\n", frame_count,
              payload_size, frames().size());
  for (const char* name : {"parse_headers", "parse_and_unmask"}) {
    const auto seconds = reporter.seconds(name);
    const auto ratio = reporter.speed_ratio(name, "memcpy");
    if (!seconds || !ratio) continue;
    std::printf("  %-17s %7.1f M frames/s   throughput / memcpy %.3fx\n", name,
                static_cast<double>(frame_count) / *seconds / 1e6, *ratio);
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  fastws::bench::TimingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_ratios(reporter);
  benchmark::Shutdown();
  return 0;
}
