// Poller: keeps the series store filled from Prometheus. On its own thread it backfills on
// start, then polls every input once per interval on the epoch-aligned grid, and after an
// outage fills the whole gap (DESIGN.md "Series identity and ingestion").
// Thread-safety: Start/Stop from one owning thread; Stats() from any thread.
#ifndef PROMFEED_UPSTREAM_POLLER_H_
#define PROMFEED_UPSTREAM_POLLER_H_

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "daemon/config/config.h"
#include "daemon/model/labels.h"
#include "daemon/model/sample.h"
#include "daemon/upstream/errors.h"

namespace promfeed::store {
class SeriesStore;
}

namespace promfeed::upstream {

class PrometheusApi;
struct QueryResult;

enum class UpstreamState { kUnknown, kUp, kDown };

// "unknown", "up", "down".
std::string_view UpstreamStateName(UpstreamState state);

struct PollerStats {
  UpstreamState state = UpstreamState::kUnknown;
  std::string last_error;             // Of the last failed round; "" after a success.
  int64_t last_poll_time_ms = 0;      // Evaluation time P of the last round.
  int64_t last_poll_duration_ms = 0;  // Wall time the last round took.
  int64_t polls_total = 0;            // Rounds over all inputs.
  int64_t poll_failures_total = 0;    // Rounds in which some input failed.
  // Failed input queries by reason (a round with two failed inputs counts two here).
  struct {
    int64_t timeout = 0;
    int64_t connect = 0;
    int64_t http_status = 0;
    int64_t decode = 0;
    int64_t api_error = 0;
    int64_t limit = 0;
    int64_t other = 0;
  } failures_by_reason;
  int64_t samples_ingested_total = 0;  // Appended to the store (duplicates not counted).
  int64_t poll_interval_ms = 0;
  bool ready = false;        // The first backfill round succeeded.
  std::string upstream_url;  // Without credentials.
};

// Where polled samples go: the SeriesStore in production, a fake in tests. Called from the
// poller thread only.
class IngestSink {
 public:
  virtual ~IngestSink() = default;
  // Appends time-ordered samples of one series; returns how many were new.
  virtual size_t Append(const Labels& labels, std::span<const Sample> samples) = 0;
  // The same with the labels as Labels::encoded() bytes (so that a known series costs no
  // Labels allocation).
  virtual size_t AppendEncoded(std::string_view encoded_labels, std::span<const Sample> samples) {
    return Append(Labels::FromEncoded(encoded_labels), samples);
  }
  virtual void Publish() = 0;
  virtual void AdvanceCompleteThrough(int64_t t_ms) = 0;
};

// One round over all inputs, reported to PollerOptions::on_round.
struct RoundReport {
  double duration_seconds = 0;  // Wall time of the round.
  bool ok = false;              // Every input succeeded.
  int64_t samples_ingested = 0;
  std::vector<FailureReason> failures;  // One per failed input.
};

struct PollerOptions {
  size_t max_samples_per_response = 50'000'000;
  // Points per series per query: Prometheus refuses query_range over 11,000 points.
  int64_t max_points_per_query = 11'000;
  // Rounds fire this long after their grid tick. -1: follow the scrapes: start at
  // min(1s, interval / 4), then after each round move just past the phase of the newest
  // samples (Poller::LockPhase), so that new samples are polled soon after they land.
  int64_t tick_offset_ms = -1;
  // Wall clock in Unix ms; null: the system clock.
  std::function<int64_t()> now_ms;
  // Called on the poller thread after every round (e.g. for /metrics); keep it short.
  std::function<void(const RoundReport&)> on_round;
};

class Poller {
 public:
  // Polls every config.poll_interval_ms (with poll_interval_auto, main resolves the interval
  // with ResolvePollIntervalMs and stores it there first). `store` must outlive the poller.
  Poller(config::Config config, store::SeriesStore* store, PollerOptions options = {});
  Poller(config::Config config, std::unique_ptr<IngestSink> sink, PollerOptions options = {});
  ~Poller();  // Stops.
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Starts the poller thread; the first round (the backfill) runs at once. INVALID_ARGUMENT
  // when the upstream config is unusable. REQUIRES: called at most once.
  absl::Status Start();
  // Cancels the request in flight and joins the thread (well within a second). Idempotent.
  void Stop();

  PollerStats Stats() const;

  // True from Start() until the poller thread exits (Stop()); for the systemd watchdog.
  bool Running() const { return running_.load(); }

  // How far each input has been read, keyed by InputKey. Handed to the poller that replaces
  // this one on a config reload, so unchanged inputs neither re-read their backfill span nor
  // skip the time between the two pollers.
  using Progress = std::map<std::string, int64_t>;
  // REQUIRES: Stop() called, or Start() never called.
  Progress TakeProgress() const;
  // Inputs found in `progress` continue from there; the others are backfilled as on start.
  // Progress for another upstream URL must not be passed. REQUIRES: Start() not called.
  void SeedProgress(const Progress& progress);
  // Identity of an input across configs: its kind and its query (and name for expr).
  static std::string InputKey(const config::Input& input);

  // config.poll_interval_ms, or with poll_interval_auto Prometheus's global.scrape_interval
  // read from /api/v1/status/config (blocking; errors name the URL).
  static absl::StatusOr<int64_t> ResolvePollIntervalMs(const config::Config& config);

  // Delay before retry number `consecutive_failures` (>= 1): interval, doubling, capped at
  // max(30s, interval), scaled by `jitter` in [0, 1] to between 80% and 100%.
  static int64_t BackoffDelayMs(int consecutive_failures, int64_t interval_ms, double jitter);

  // Runs one round over all inputs for grid tick `p_ms` on the calling thread, as the poller
  // thread does, with selectors read up to `eval_ms` (the wall time of the round; -1: p_ms);
  // returns the first input's error, if any.
  // REQUIRES: Start() not called. For tests and tools.
  absl::Status PollOnce(int64_t p_ms, int64_t eval_ms = -1);

  // How long after their grid tick rounds fire now. Poller thread (or PollOnce caller) only.
  int64_t tick_offset_ms() const { return tick_offset_ms_; }

 private:
  // Per input: how far it has been read. Selector: the evaluation time of its last successful
  // query. Expr: its last evaluated grid point.
  struct InputProgress {
    std::optional<int64_t> done_ms;
  };

  void Run();
  absl::Status RunRound(int64_t p_ms, int64_t eval_ms);
  // Moves tick_offset_ms_ just after the bucket of phase_seen_ that precedes its largest
  // circular gap (plus an ingestion allowance), then clears phase_seen_.
  void LockPhase();
  absl::Status PollSelector(const config::Input& input, InputProgress& progress, int64_t p_ms,
                            int64_t& ingested);
  absl::Status PollExpr(const config::Input& input, InputProgress& progress, int64_t p_ms,
                        int64_t& ingested);
  int64_t Ingest(const QueryResult& result, const std::string* metric_name);
  int64_t NowMs() const;

  const config::Config config_;
  const PollerOptions options_;
  const int64_t interval_ms_;
  int64_t tick_offset_ms_;  // Poller thread only.
  const bool lock_phase_;   // tick_offset_ms was -1.
  // Phases (time mod interval) of the newest sample of each series read this round.
  static constexpr int kPhaseBuckets = 64;
  std::array<bool, kPhaseBuckets> phase_seen_{};
  std::unique_ptr<IngestSink> sink_;
  std::unique_ptr<PrometheusApi> api_;  // Null when api_status_ is an error.
  absl::Status api_status_;
  std::vector<InputProgress> progress_;  // Poller thread only; one per config_.inputs.
  std::optional<int64_t> last_success_p_;
  bool seeded_ = false;  // SeedProgress was called: the first round is not a full backfill.
  int consecutive_failures_ = 0;
  std::atomic<bool> running_{false};

  std::thread thread_;
  std::mutex wake_mu_;
  std::condition_variable wake_;
  bool stop_ ABSL_GUARDED_BY(wake_mu_) = false;
  bool started_ = false;

  mutable std::mutex stats_mu_;
  PollerStats stats_ ABSL_GUARDED_BY(stats_mu_);
};

}  // namespace promfeed::upstream

#endif  // PROMFEED_UPSTREAM_POLLER_H_
