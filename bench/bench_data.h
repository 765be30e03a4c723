// Synthetic but realistic benchmark inputs: node-exporter-like label sets and Prometheus
// query responses rendered exactly as Prometheus 2.x writes them.
// Pure functions; thread-safe.
#ifndef PROMFEED_BENCH_BENCH_DATA_H_
#define PROMFEED_BENCH_BENCH_DATA_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "daemon/model/labels.h"

namespace promfeed::bench {

// Labels of series `i`: node_cpu_seconds_total-like (__name__, cpu, instance, job, mode),
// spread over 10 metric names.
Labels SeriesLabels(size_t i);

// A /api/v1/query_range (matrix) response: `series` series x `points` samples at `step_ms`
// from `start_ms`, values like counters ("12345.67"). Returns the body; sets *samples.
std::string MatrixResponse(size_t series, size_t points, int64_t start_ms, int64_t step_ms,
                           size_t* samples);

}  // namespace promfeed::bench

#endif  // PROMFEED_BENCH_BENCH_DATA_H_
