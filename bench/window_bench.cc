// Window building: WindowCursor turning F rings into grid rows and the W-row windows they
// complete (shift 1), over a 30-minute history at 1 s, as a historical StreamWindows does.
#include <benchmark/benchmark.h>

#include <vector>

#include "bench/bench_data.h"
#include "daemon/store/series_store.h"
#include "daemon/window/window_cursor.h"

namespace promfeed::bench {
namespace {

constexpr int64_t kStepMs = 1000;
constexpr int64_t kRows = 1800;
constexpr int64_t kStartMs = 1'700'000'000'000;

// Args: features F, window W, rows per block (the server sends ~1 MiB messages), value bytes
// (8: float64, 4: float32, as the wire carries them), spare threads (window::SpareThreads:
// 1 lets a block use two cores; compare real time).
void BM_WindowBuild(benchmark::State& state) {
  const size_t nf = static_cast<size_t>(state.range(0));
  const int32_t w = static_cast<int32_t>(state.range(1));
  const int rows_per_block = static_cast<int>(state.range(2));
  store::SeriesStore st({.retention_ms = 3'600'000, .interval_ms = kStepMs});
  std::vector<Sample> samples(kRows + 2);
  for (size_t f = 0; f < nf; ++f) {
    // Scrape timestamps jitter off the grid, as real ones do.
    for (size_t k = 0; k < samples.size(); ++k) {
      samples[k] = {
          kStartMs - 2000 + static_cast<int64_t>(k) * kStepMs + 137 + static_cast<int64_t>(f % 7),
          static_cast<double>(k + f)};
    }
    st.Append(SeriesLabels(f), samples);
  }
  st.Publish();
  const std::vector<store::SeriesPtr> features = st.All();
  window::WindowSpec spec{.step_ms = kStepMs,
                          .lookback_ms = 2 * kStepMs,
                          .window = w,
                          .shift = 1,
                          .fill = window::Fill::kNanMask,
                          .start_ms = kStartMs,
                          .end_ms = kStartMs + (kRows - 1) * kStepMs};
  window::SpareThreads spare(static_cast<int>(state.range(4)));
  window::RowBlock block;
  block.value_type =
      state.range(3) == 4 ? window::ValueType::kFloat32 : window::ValueType::kFloat64;
  int64_t windows = 0;
  for (auto _ : state) {
    window::WindowCursor cursor(features, spec, &spare);
    while (cursor.Next(spec.end_ms, rows_per_block, &block) ==
           window::WindowCursor::Result::kBlock) {
      windows += block.window_count;
      benchmark::DoNotOptimize(block.values.data());
    }
  }
  state.counters["windows/s"] =
      benchmark::Counter(static_cast<double>(windows), benchmark::Counter::kIsRate);
  state.counters["samples/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kRows * nf), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_WindowBuild)
    ->ArgNames({"F", "W", "rows_per_block", "value_bytes", "spare"})
    ->Args({100, 60, 1800, 8, 0})
    ->Args({100, 60, 64, 8, 0})
    ->Args({1000, 60, 256, 8, 0})
    ->Args({1000, 60, 256, 4, 0})
    ->Args({1000, 60, 256, 4, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace promfeed::bench

BENCHMARK_MAIN();
