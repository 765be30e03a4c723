// Selector matching: Selector::Matches on one label set, and SeriesStore::Select over a
// store of many series (index by metric name, then matchers).
#include <benchmark/benchmark.h>

#include <vector>

#include "bench/bench_data.h"
#include "daemon/model/selector.h"
#include "daemon/store/series_store.h"

namespace promfeed::bench {
namespace {

const char* const kSelectors[] = {
    R"(node_cpu_seconds_total{mode="user"})",
    R"(node_cpu_seconds_total{mode=~"user|system",cpu!="0"})",
    R"({__name__=~"node_.*",job="node"})",
};

void BM_SelectorMatches(benchmark::State& state) {
  const Selector sel = *Selector::Parse(kSelectors[state.range(0)]);
  std::vector<Labels> labels;
  for (size_t i = 0; i < 1000; ++i) labels.push_back(SeriesLabels(i));
  for (auto _ : state) {
    for (const Labels& l : labels) benchmark::DoNotOptimize(sel.Matches(l));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * labels.size()));
  state.SetLabel(kSelectors[state.range(0)]);
}
BENCHMARK(BM_SelectorMatches)->DenseRange(0, 2);

void BM_StoreSelect(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(1));
  store::SeriesStore st({.retention_ms = 60'000, .interval_ms = 1000, .max_series = 1'000'000});
  const Sample s{1'700'000'000'000, 1.0};
  for (size_t i = 0; i < n; ++i) st.Append(SeriesLabels(i), {&s, 1});
  st.Publish();
  const Selector sel = *Selector::Parse(kSelectors[state.range(0)]);
  size_t matched = 0;
  for (auto _ : state) {
    auto out = st.Select(sel);
    matched = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));  // series considered
  state.counters["matched"] = static_cast<double>(matched);
  state.SetLabel(kSelectors[state.range(0)]);
}
BENCHMARK(BM_StoreSelect)
    ->ArgNames({"sel", "series"})
    ->Args({0, 100000})
    ->Args({1, 100000})
    ->Args({2, 100000})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace promfeed::bench

BENCHMARK_MAIN();
