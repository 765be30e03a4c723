// SelfMetrics: the daemon's own metrics (promfeed_*), rendered in the Prometheus text format
// for /metrics. Events (poll rounds, reloads) are counted as they happen; levels (series held,
// ring bytes, streams, upstream up) are read from a snapshot callback at every scrape.
// Thread-safe: every method may be called from any thread.
#ifndef PROMFEED_METRICS_SELF_METRICS_H_
#define PROMFEED_METRICS_SELF_METRICS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace promfeed::metrics {

// Levels read at scrape time. Counters here are totals kept by their owners (the store, the
// gRPC service), which live as long as the process.
struct Snapshot {
  int64_t series = 0;
  int64_t series_rejected_total = 0;
  int64_t samples_held = 0;
  int64_t duplicates_dropped_total = 0;
  int64_t ring_bytes = 0;
  int64_t active_streams = 0;
  int64_t windows_sent_total = 0;
  int64_t windows_lost_total = 0;     // Skipped because a slow client fell behind the ring.
  int64_t windows_dropped_total = 0;  // Dropped by the `drop` fill policy.
  int64_t stream_cache_bytes = 0;     // Encoded history streams kept (server::StreamCache).
  int64_t stream_cache_entries = 0;
  int64_t stream_cache_hits_total = 0;
  int64_t stream_cache_misses_total = 0;
  bool upstream_up = false;  // The last poll round succeeded.
  bool ready = false;        // The first poll or backfill succeeded.
  int64_t poll_interval_ms = 0;
};

// One poll round over all inputs, as the poller reports it.
struct RoundReport {
  double duration_seconds = 0;
  bool ok = false;
  int64_t samples_ingested = 0;
  // Failed input queries in the round by reason name ("timeout", "connect", ...).
  std::vector<std::string_view> failure_reasons;
};

class SelfMetrics {
 public:
  // `version` labels promfeed_build_info. `snapshot` is called on every Render.
  SelfMetrics(std::string version, std::function<Snapshot()> snapshot);
  ~SelfMetrics();
  SelfMetrics(const SelfMetrics&) = delete;
  SelfMetrics& operator=(const SelfMetrics&) = delete;

  // Reason label values of promfeed_poll_failures_total, all exported from the start (at 0).
  static const std::vector<std::string_view>& FailureReasons();

  void ObserveRound(const RoundReport& round);
  // A config reload attempt; `unix_seconds` is when it succeeded (ignored on failure).
  void ObserveReload(bool ok, double unix_seconds);

  // The text exposition format (version 0.0.4), every family with HELP and TYPE.
  std::string Render() const;

  // Content-Type of Render()'s output.
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace promfeed::metrics

#endif  // PROMFEED_METRICS_SELF_METRICS_H_
