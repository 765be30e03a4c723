// JSON decode throughput of Prometheus query responses (PromJsonDecoder::DecodeQuery):
// MB/s of response body and samples/s, for the two shapes the daemon reads:
//  - backfill: query_range matrices, many points per series;
//  - poll: a range-vector instant query `sel[1s]`, one or two points per series (labels
//    dominate).
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <cstdlib>
#include <optional>
#include <span>
#include <string>

#include "bench/bench_data.h"
#include "daemon/upstream/prom_json.h"

namespace promfeed::bench {
namespace {

constexpr int64_t kStartMs = 1'700'000'000'000;

// A body with the padding the HTTP client reserves, so the decoder parses it in place.
std::string Padded(const std::string& body) {
  std::string out;
  out.reserve(body.size() + upstream::kJsonPadding);
  out.append(body.data(), body.size());
  return out;
}

void DecodeLoop(benchmark::State& state, const std::string& body, size_t samples,
                upstream::DecodeOptions options = {}) {
  upstream::PromJsonDecoder decoder(options);
  for (auto _ : state) {
    auto result = decoder.DecodeQuery(body);
    if (!result.ok()) {
      const std::string why = result.status().ToString();
      state.SkipWithError(why.c_str());
      return;
    }
    benchmark::DoNotOptimize(result->series.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.counters["samples/s"] = benchmark::Counter(static_cast<double>(samples),
                                                   benchmark::Counter::kIsIterationInvariantRate);
  state.counters["body_MB"] = static_cast<double>(body.size()) / 1e6;
}

// Args: series, points per series, step ms (1000: whole seconds; 1001: millisecond stamps).
void BM_DecodeMatrix(benchmark::State& state) {
  size_t samples = 0;
  const std::string body = Padded(
      MatrixResponse(state.range(0), state.range(1), kStartMs + 123, state.range(2), &samples));
  DecodeLoop(state, body, samples);
}
BENCHMARK(BM_DecodeMatrix)
    ->ArgNames({"series", "points", "step_ms"})
    ->Args({1000, 600, 1000})         // backfill chunk: 1k series x 10 min at 1 s
    ->Args({100, 10000, 1000})        // backfill chunk: long series
    ->Args({100000, 1, 1000})         // poll: 100k series, one sample each
    ->Args({10000, 2, 1001})          // poll: ms scrape timestamps, two samples each
    ->Unit(benchmark::kMillisecond);  // Rates use CPU time: MB/s per core.

// The same with the general (simdjson) decoder only, as before the fast path.
void BM_DecodeMatrixGeneralPath(benchmark::State& state) {
  size_t samples = 0;
  const std::string body = Padded(
      MatrixResponse(state.range(0), state.range(1), kStartMs + 123, state.range(2), &samples));
  DecodeLoop(state, body, samples, upstream::DecodeOptions{.fast_path = false});
}
BENCHMARK(BM_DecodeMatrixGeneralPath)
    ->ArgNames({"series", "points", "step_ms"})
    ->Args({1000, 600, 1000})
    ->Args({100, 10000, 1000})
    ->Args({100000, 1, 1000})
    ->Args({10000, 2, 1001})
    ->Unit(benchmark::kMillisecond);

// As the daemon's poller decodes: each series handed to a visitor (encoded labels and
// samples, as the store takes them) instead of collected in QueryResult::series.
void BM_DecodeVisit(benchmark::State& state) {
  size_t samples = 0;
  const std::string body = Padded(
      MatrixResponse(state.range(0), state.range(1), kStartMs + 123, state.range(2), &samples));
  upstream::PromJsonDecoder decoder(upstream::DecodeOptions{.fast_path = state.range(3) != 0});
  for (auto _ : state) {
    size_t bytes = 0;
    auto result =
        decoder.DecodeQuery(body, [&](std::string_view labels, std::span<const Sample> s) {
          bytes += labels.size() + s.size();
        });
    if (!result.ok()) {
      const std::string why = result.status().ToString();
      state.SkipWithError(why.c_str());
      return;
    }
    benchmark::DoNotOptimize(bytes);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.counters["samples/s"] = benchmark::Counter(static_cast<double>(samples),
                                                   benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_DecodeVisit)
    ->ArgNames({"series", "points", "step_ms", "fast_path"})
    ->Args({100000, 1, 1000, 1})
    ->Args({100000, 1, 1000, 0})
    ->Args({10000, 2, 1001, 1})
    ->Args({10000, 2, 1001, 0})
    ->Unit(benchmark::kMillisecond);

// As the daemon's poller decodes since the body is streamed: the body fed to a
// QueryStreamDecoder in pieces of `piece` bytes (the HTTP client's are 64 KiB), each series
// handed to a visitor as in BM_DecodeVisit.
void BM_DecodeStream(benchmark::State& state) {
  size_t samples = 0;
  const std::string body =
      MatrixResponse(state.range(0), state.range(1), kStartMs + 123, state.range(2), &samples);
  const size_t piece = static_cast<size_t>(state.range(3));
  upstream::PromJsonDecoder decoder;
  for (auto _ : state) {
    size_t bytes = 0;
    auto visit = [&](std::string_view labels, std::span<const Sample> s) {
      bytes += labels.size() + s.size();
    };
    upstream::QueryStreamDecoder stream(decoder, visit);
    for (size_t at = 0; at < body.size(); at += piece) {
      stream.Feed(std::string_view(body).substr(at, piece));
    }
    std::optional<absl::StatusOr<upstream::QueryResult>> result = stream.Finish();
    if (!result || !result->ok()) {
      const std::string why = result ? result->status().ToString() : "left the fast path";
      state.SkipWithError(why.c_str());
      return;
    }
    benchmark::DoNotOptimize(bytes);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.counters["samples/s"] = benchmark::Counter(static_cast<double>(samples),
                                                   benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_DecodeStream)
    ->ArgNames({"series", "points", "step_ms", "piece"})
    ->Args({100000, 1, 1000, 65536})
    ->Args({10000, 2, 1001, 65536})
    ->Args({1000, 600, 1000, 65536})
    ->Args({100000, 1, 1000, 16384})
    ->Args({100000, 1, 1000, 4096})
    ->Args({10000, 2, 1001, 16384})
    ->Unit(benchmark::kMillisecond);

// A poll whose label values hold '&', which Prometheus writes as \u0026: the fast path
// decodes such strings instead of leaving the body to the general path.
void BM_DecodeEscapedLabels(benchmark::State& state) {
  size_t samples = 0;
  std::string body = MatrixResponse(state.range(0), 2, kStartMs + 123, 1001, &samples);
  // Each "mode":"<value>" becomes "mode":"a\u0026b_<value>".
  constexpr std::string_view kMode = R"("mode":")";
  std::string escaped;
  size_t at = 0;
  for (size_t hit; (hit = body.find(kMode, at)) != std::string::npos; at = hit + kMode.size()) {
    escaped.append(body, at, hit + kMode.size() - at);
    escaped += "a\\u0026b_";
  }
  escaped.append(body, at);
  DecodeLoop(state, Padded(escaped), samples);
}
BENCHMARK(BM_DecodeEscapedLabels)->ArgNames({"series"})->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace promfeed::bench

int main(int argc, char** argv) {
  // The SIMD kernel simdjson picked on this CPU; "fallback" would mean no SIMD at all.
  benchmark::AddCustomContext("simdjson_implementation",
                              simdjson::get_active_implementation()->name());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
