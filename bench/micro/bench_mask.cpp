// Masking (RFC 6455 section 5.3) against memcpy of the same buffer. memcpy is the peer: masking
// reads and writes every byte once, as a copy does, so mask / memcpy (printed at the end from
// timings of this very run) says how close unmasking comes to merely moving the payload.
//
//   bench_mask --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "micro/timing_reporter.hpp"
#include "protocol/mask.hpp"

namespace {

constexpr fastws::MaskKey key{std::byte{0x37}, std::byte{0xfa}, std::byte{0x21}, std::byte{0x3d}};
constexpr std::size_t sizes[] = {16, 1024, 64 * 1024, 1024 * 1024};

std::vector<std::byte> filled(std::size_t size) {
  std::vector<std::byte> out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::byte>(i * 131);
  return out;
}

void set_bytes(benchmark::State& state, std::size_t size) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(size));
}

// In place, as a receiver unmasks a payload in its input buffer.
void apply_mask(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  auto data = filled(size);
  for (auto _ : state) {
    fastws::protocol::apply_mask(data.data(), size, key);
    benchmark::DoNotOptimize(data.data());
    benchmark::ClobberMemory();
  }
  set_bytes(state, size);
}

// From one buffer to another, as a client masks a payload into its output buffer.
void copy_masked(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const auto source = filled(size);
  std::vector<std::byte> destination(size);
  for (auto _ : state) {
    fastws::protocol::copy_masked(destination.data(), source.data(), size, key);
    benchmark::DoNotOptimize(destination.data());
    benchmark::ClobberMemory();
  }
  set_bytes(state, size);
}

void copy(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const auto source = filled(size);
  std::vector<std::byte> destination(size);
  for (auto _ : state) {
    std::memcpy(destination.data(), source.data(), size);
    benchmark::DoNotOptimize(destination.data());
    benchmark::ClobberMemory();
  }
  set_bytes(state, size);
}

void register_all() {
  for (auto* benchmark : {benchmark::RegisterBenchmark("apply_mask", apply_mask),
                          benchmark::RegisterBenchmark("copy_masked", copy_masked),
                          benchmark::RegisterBenchmark("memcpy", copy)}) {
    for (std::size_t size : sizes) benchmark->Arg(static_cast<std::int64_t>(size));
  }
}

// "apply_mask/65536": the name the reporter keeps.
std::string named(const char* function, std::size_t size) {
  std::string name = function;
  name += '/';
  name += std::to_string(size);
  return name;
}

void print_ratios(const fastws::bench::TimingReporter& reporter) {
  std::printf("\nthroughput / memcpy throughput (same buffer size, same run):\n");
  std::printf("  %9s  %10s  %11s\n", "size", "apply_mask", "copy_masked");
  for (std::size_t size : sizes) {
    const auto in_place = reporter.speed_ratio(named("apply_mask", size), named("memcpy", size));
    const auto copying = reporter.speed_ratio(named("copy_masked", size), named("memcpy", size));
    if (!in_place || !copying) continue;
    std::printf("  %9zu  %9.2fx  %10.2fx\n", size, *in_place, *copying);
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  fastws::bench::TimingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_ratios(reporter);
  benchmark::Shutdown();
  return 0;
}
