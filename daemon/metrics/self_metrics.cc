#include "daemon/metrics/self_metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <utility>

namespace promfeed::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Level(std::string name, std::string help, MetricType type, double value) {
  ClientMetric m;
  if (type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  return MetricFamily{std::move(name), std::move(help), type, {std::move(m)}};
}

// Families computed from a Snapshot at collection time.
class SnapshotCollector : public prometheus::Collectable {
 public:
  explicit SnapshotCollector(std::function<Snapshot()> snapshot) : snapshot_(std::move(snapshot)) {}

  std::vector<MetricFamily> Collect() const override {
    const Snapshot s = snapshot_();
    const auto d = [](int64_t v) { return static_cast<double>(v); };
    const double per_sample = s.samples_held > 0 ? d(s.ring_bytes) / d(s.samples_held) : 0;
    return {
        Level("promfeed_series", "Series held in the store (one ring buffer each).",
              MetricType::Gauge, d(s.series)),
        Level("promfeed_series_rejected_total",
              "New series refused because storage.max_series was reached.", MetricType::Counter,
              d(s.series_rejected_total)),
        Level("promfeed_samples_held", "Samples held in all ring buffers.", MetricType::Gauge,
              d(s.samples_held)),
        Level("promfeed_duplicate_samples_dropped_total",
              "Polled samples dropped because their series already held that timestamp.",
              MetricType::Counter, d(s.duplicates_dropped_total)),
        Level("promfeed_ring_bytes", "Bytes allocated by all ring buffers.", MetricType::Gauge,
              d(s.ring_bytes)),
        Level("promfeed_ring_bytes_per_sample",
              "promfeed_ring_bytes / promfeed_samples_held (0 while empty).", MetricType::Gauge,
              per_sample),
        Level("promfeed_active_streams", "Open gRPC ReadRange and StreamWindows streams.",
              MetricType::Gauge, d(s.active_streams)),
        Level("promfeed_windows_sent_total", "Windows completed on gRPC streams.",
              MetricType::Counter, d(s.windows_sent_total)),
        Level("promfeed_windows_lost_total",
              "Windows skipped because a slow client fell behind the oldest buffered sample.",
              MetricType::Counter, d(s.windows_lost_total)),
        Level("promfeed_windows_dropped_total",
              "Windows dropped by the `drop` fill policy because of missing values.",
              MetricType::Counter, d(s.windows_dropped_total)),
        Level("promfeed_stream_cache_bytes",
              "Bytes of finished history streams kept to answer the same request again.",
              MetricType::Gauge, d(s.stream_cache_bytes)),
        Level("promfeed_stream_cache_entries", "History streams kept in the stream cache.",
              MetricType::Gauge, d(s.stream_cache_entries)),
        Level("promfeed_stream_cache_hits_total",
              "History streams answered from the stream cache instead of the rings.",
              MetricType::Counter, d(s.stream_cache_hits_total)),
        Level("promfeed_stream_cache_misses_total",
              "History streams sampled from the rings (not kept, or no longer valid).",
              MetricType::Counter, d(s.stream_cache_misses_total)),
        Level("promfeed_upstream_up", "1 if the last poll round of every input succeeded.",
              MetricType::Gauge, s.upstream_up ? 1 : 0),
        Level("promfeed_ready", "1 once the first poll or backfill succeeded (/-/ready).",
              MetricType::Gauge, s.ready ? 1 : 0),
        Level("promfeed_poll_interval_seconds", "Interval between poll rounds.", MetricType::Gauge,
              d(s.poll_interval_ms) / 1000.0),
    };
  }

 private:
  const std::function<Snapshot()> snapshot_;
};

}  // namespace

struct SelfMetrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::shared_ptr<SnapshotCollector> levels;
  prometheus::Family<prometheus::Counter>* poll_failures = nullptr;
  prometheus::Counter* polls = nullptr;
  prometheus::Counter* failed_rounds = nullptr;
  prometheus::Counter* samples_ingested = nullptr;
  prometheus::Histogram* poll_duration = nullptr;
  prometheus::Gauge* reload_ok = nullptr;
  prometheus::Gauge* reload_success_time = nullptr;
  prometheus::Counter* reloads_ok = nullptr;
  prometheus::Counter* reloads_failed = nullptr;
};

const std::vector<std::string_view>& SelfMetrics::FailureReasons() {
  static const std::vector<std::string_view> kReasons = {
      "timeout", "connect", "http_status", "decode", "api_error", "limit", "other"};
  return kReasons;
}

SelfMetrics::SelfMetrics(std::string version, std::function<Snapshot()> snapshot)
    : impl_(std::make_unique<Impl>()) {
  prometheus::Registry& r = *impl_->registry;
  impl_->polls = &prometheus::BuildCounter()
                      .Name("promfeed_polls_total")
                      .Help("Poll rounds over all inputs (each backfill or poll is one round).")
                      .Register(r)
                      .Add({});
  impl_->failed_rounds = &prometheus::BuildCounter()
                              .Name("promfeed_poll_rounds_failed_total")
                              .Help("Poll rounds in which at least one input failed.")
                              .Register(r)
                              .Add({});
  impl_->poll_failures = &prometheus::BuildCounter()
                              .Name("promfeed_poll_failures_total")
                              .Help(
                                  "Failed input queries by reason (a round with two failed "
                                  "inputs counts two).")
                              .Register(r);
  for (std::string_view reason : FailureReasons()) {
    impl_->poll_failures->Add({{"reason", std::string(reason)}});
  }
  impl_->samples_ingested = &prometheus::BuildCounter()
                                 .Name("promfeed_samples_ingested_total")
                                 .Help("Samples appended to the store (duplicates not counted).")
                                 .Register(r)
                                 .Add({});
  impl_->poll_duration =
      &prometheus::BuildHistogram()
           .Name("promfeed_poll_duration_seconds")
           .Help("Wall time of one poll round over all inputs, backfill included.")
           .Register(r)
           .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                            0.5, 1, 2.5, 5, 10, 30, 60});
  impl_->reload_ok = &prometheus::BuildGauge()
                          .Name("promfeed_config_last_reload_successful")
                          .Help("1 if the last configuration load or reload succeeded.")
                          .Register(r)
                          .Add({});
  impl_->reload_ok->Set(1);  // The daemon only starts with a valid configuration.
  impl_->reload_success_time = &prometheus::BuildGauge()
                                    .Name("promfeed_config_last_reload_success_timestamp_seconds")
                                    .Help("Unix time of the last successful configuration load.")
                                    .Register(r)
                                    .Add({});
  impl_->reload_success_time->SetToCurrentTime();
  auto& reloads = prometheus::BuildCounter()
                      .Name("promfeed_config_reloads_total")
                      .Help("Configuration reloads (SIGHUP or POST /-/reload) by result.")
                      .Register(r);
  impl_->reloads_ok = &reloads.Add({{"result", "success"}});
  impl_->reloads_failed = &reloads.Add({{"result", "failure"}});
  prometheus::BuildGauge()
      .Name("promfeed_build_info")
      .Help("Always 1; labelled with the daemon's version.")
      .Register(r)
      .Add({{"version", std::move(version)}})
      .Set(1);
  impl_->levels = std::make_shared<SnapshotCollector>(std::move(snapshot));
}

SelfMetrics::~SelfMetrics() = default;

void SelfMetrics::ObserveRound(const RoundReport& round) {
  impl_->polls->Increment();
  if (!round.ok) impl_->failed_rounds->Increment();
  impl_->samples_ingested->Increment(static_cast<double>(round.samples_ingested));
  impl_->poll_duration->Observe(round.duration_seconds);
  for (std::string_view reason : round.failure_reasons) {
    impl_->poll_failures->Add({{"reason", std::string(reason)}}).Increment();
  }
}

void SelfMetrics::ObserveReload(bool ok, double unix_seconds) {
  impl_->reload_ok->Set(ok ? 1 : 0);
  if (ok) {
    impl_->reload_success_time->Set(unix_seconds);
    impl_->reloads_ok->Increment();
  } else {
    impl_->reloads_failed->Increment();
  }
}

std::string SelfMetrics::Render() const {
  std::vector<MetricFamily> families = impl_->registry->Collect();
  std::vector<MetricFamily> levels = impl_->levels->Collect();
  families.insert(families.end(), std::make_move_iterator(levels.begin()),
                  std::make_move_iterator(levels.end()));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace promfeed::metrics
