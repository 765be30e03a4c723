// Ingestion cost: RingBuffer::Append (one series) and SeriesStore::Append as a poll does it
// (one sample for each of many series, found by full label set).
#include <benchmark/benchmark.h>

#include <vector>

#include "bench/bench_data.h"
#include "daemon/store/ring_buffer.h"
#include "daemon/store/series_store.h"

namespace promfeed::bench {
namespace {

// Appends to a full ring (steady state: every append overwrites the oldest slot).
void BM_RingAppend(benchmark::State& state) {
  store::RingBuffer ring(static_cast<size_t>(state.range(0)));
  int64_t t = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(ring.Append({t, static_cast<double>(t)}));
    t += 1000;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RingAppend)->ArgName("capacity")->Arg(3600)->Arg(1 << 20);

// One poll: one new sample for each of `series` existing series.
void BM_StoreAppendPoll(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  store::SeriesStore st({.retention_ms = 600'000, .interval_ms = 1000, .max_series = 1'000'000});
  std::vector<Labels> labels;
  labels.reserve(n);
  for (size_t i = 0; i < n; ++i) labels.push_back(SeriesLabels(i));
  int64_t t = 1'700'000'000'000;
  for (const Labels& l : labels) st.Append(l, std::vector<Sample>{{t, 1.0}});
  st.Publish();
  for (auto _ : state) {
    t += 1000;
    for (const Labels& l : labels) {
      const Sample s{t, 2.0};
      benchmark::DoNotOptimize(st.Append(l, {&s, 1}));
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_StoreAppendPoll)
    ->ArgName("series")
    ->Arg(1000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace promfeed::bench

BENCHMARK_MAIN();
