#include "daemon/upstream/poller.h"

#include <spdlog/spdlog.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <chrono>
#include <random>
#include <utility>

#include "absl/status/status.h"
#include "daemon/model/str_cat.h"
#include "daemon/upstream/prometheus_api.h"

namespace promfeed::upstream {
namespace {

constexpr int64_t kMaxBackoffMs = 30'000;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int64_t FloorToGrid(int64_t t, int64_t step) { return FloorDiv(t, step) * step; }
int64_t CeilToGrid(int64_t t, int64_t step) { return -FloorDiv(-t, step) * step; }

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string InputName(const config::Input& input) {
  return input.kind == config::Input::Kind::kExpr ? input.name : input.selector.text();
}

std::string StatusText(const absl::Status& s) { return std::string(s.message()); }

}  // namespace

std::string_view UpstreamStateName(UpstreamState state) {
  switch (state) {
    case UpstreamState::kUp:
      return "up";
    case UpstreamState::kDown:
      return "down";
    case UpstreamState::kUnknown:
      break;
  }
  return "unknown";
}

Poller::Poller(config::Config config, std::unique_ptr<IngestSink> sink, PollerOptions options)
    : config_(std::move(config)),
      options_(std::move(options)),
      interval_ms_(std::max<int64_t>(1, config_.poll_interval_ms)),
      tick_offset_ms_(options_.tick_offset_ms >= 0 ? options_.tick_offset_ms
                                                   : std::min<int64_t>(1000, interval_ms_ / 4)),
      lock_phase_(options_.tick_offset_ms < 0),
      sink_(std::move(sink)),
      progress_(config_.inputs.size()) {
  absl::StatusOr<std::unique_ptr<PrometheusApi>> api = PrometheusApi::Create(
      config_.upstream,
      PrometheusApiOptions{.max_samples_per_response = options_.max_samples_per_response});
  if (api.ok()) {
    api_ = *std::move(api);
  } else {
    api_status_ = api.status();
  }
  std::lock_guard<std::mutex> lock(stats_mu_);
  stats_.poll_interval_ms = interval_ms_;
  stats_.upstream_url = api_ ? api_->url() : "(invalid upstream.url)";
}

Poller::~Poller() { Stop(); }

int64_t Poller::NowMs() const { return options_.now_ms ? options_.now_ms() : SystemNowMs(); }

absl::Status Poller::Start() {
  if (!api_status_.ok()) return api_status_;
  if (config_.poll_interval_ms <= 0) {
    return absl::InvalidArgumentError("poll interval must be positive (global.poll_interval)");
  }
  if (started_) return absl::FailedPreconditionError("poller already started");
  started_ = true;
  spdlog::info("poller starting url={} inputs={} interval_ms={} backfill_ms={}", api_->url(),
               config_.inputs.size(), interval_ms_, config_.backfill_ms);
  running_ = true;
  thread_ = std::thread([this] {
    Run();
    running_ = false;
  });
  return absl::OkStatus();
}

void Poller::Stop() {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    if (stop_) return;
    stop_ = true;
  }
  wake_.notify_all();
  if (api_) api_->Cancel();
  if (thread_.joinable()) thread_.join();
}

PollerStats Poller::Stats() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return stats_;
}

std::string Poller::InputKey(const config::Input& input) {
  return input.kind == config::Input::Kind::kExpr ? Cat("expr:", input.name, "=", input.expr)
                                                  : Cat("selector:", input.selector.text());
}

Poller::Progress Poller::TakeProgress() const {
  Progress out;
  for (size_t i = 0; i < config_.inputs.size(); ++i) {
    if (progress_[i].done_ms) out[InputKey(config_.inputs[i])] = *progress_[i].done_ms;
  }
  return out;
}

void Poller::SeedProgress(const Progress& progress) {
  for (size_t i = 0; i < config_.inputs.size(); ++i) {
    if (auto it = progress.find(InputKey(config_.inputs[i])); it != progress.end()) {
      progress_[i].done_ms = it->second;
      seeded_ = true;
    }
  }
}

int64_t Poller::BackoffDelayMs(int consecutive_failures, int64_t interval_ms, double jitter) {
  const int64_t cap = std::max(kMaxBackoffMs, interval_ms);
  int64_t delay = std::max<int64_t>(1, interval_ms);
  for (int i = 1; i < consecutive_failures && delay < cap; ++i) delay *= 2;
  delay = std::min(delay, cap);
  jitter = std::clamp(jitter, 0.0, 1.0);
  return static_cast<int64_t>(static_cast<double>(delay) * (0.8 + 0.2 * jitter));
}

absl::StatusOr<int64_t> Poller::ResolvePollIntervalMs(const config::Config& config) {
  if (!config.poll_interval_auto) {
    if (config.poll_interval_ms <= 0) {
      return absl::InvalidArgumentError("global.poll_interval must be positive, e.g. 15s");
    }
    return config.poll_interval_ms;
  }
  absl::StatusOr<std::unique_ptr<PrometheusApi>> api = PrometheusApi::Create(config.upstream);
  if (!api.ok()) return api.status();
  absl::StatusOr<int64_t> ms = (*api)->ScrapeIntervalMs();
  if (!ms.ok()) {
    return absl::Status(
        ms.status().code(),
        Cat("poll_interval: auto: reading Prometheus's scrape_interval: ", ms.status().message()));
  }
  spdlog::info("poll interval resolved url={} scrape_interval_ms={}", (*api)->url(), *ms);
  return *ms;
}

absl::Status Poller::PollOnce(int64_t p_ms, int64_t eval_ms) {
  if (!api_status_.ok()) return api_status_;
  return RunRound(p_ms, eval_ms < 0 ? p_ms : eval_ms);
}

void Poller::Run() {
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  for (;;) {
    const int64_t now = NowMs();
    const int64_t p = FloorToGrid(now - tick_offset_ms_, interval_ms_);
    int64_t next_ms;
    if (last_success_p_ && p <= *last_success_p_) {
      next_ms = *last_success_p_ + interval_ms_ + tick_offset_ms_;  // Woke early.
    } else if (RunRound(p, now).ok()) {
      next_ms = p + interval_ms_ + tick_offset_ms_;
    } else {
      next_ms = NowMs() + BackoffDelayMs(consecutive_failures_, interval_ms_, jitter(rng));
    }
    std::unique_lock<std::mutex> lock(wake_mu_);
    const int64_t wait_ms = std::max<int64_t>(0, next_ms - NowMs());
    if (wake_.wait_for(lock, std::chrono::milliseconds(wait_ms), [this] { return stop_; })) {
      return;
    }
  }
}

absl::Status Poller::RunRound(int64_t p_ms, int64_t eval_ms) {
  const auto wall_start = std::chrono::steady_clock::now();
  const bool backfill = !last_success_p_.has_value() && !seeded_;
  absl::Status first_error;
  int64_t ingested = 0;
  std::vector<FailureReason> failures;
  for (size_t i = 0; i < config_.inputs.size(); ++i) {
    const config::Input& input = config_.inputs[i];
    absl::Status st = input.kind == config::Input::Kind::kExpr
                          ? PollExpr(input, progress_[i], p_ms, ingested)
                          : PollSelector(input, progress_[i], eval_ms, ingested);
    if (st.ok()) continue;
    const FailureReason reason = ReasonOf(st);
    failures.push_back(reason);
    if (st.code() != absl::StatusCode::kCancelled) {
      spdlog::warn("poll failed url={} input={} reason={} error={}", api_->url(), InputName(input),
                   FailureReasonName(reason), StatusText(st));
    }
    if (first_error.ok()) first_error = st;
  }
  sink_->Publish();
  // Between rounds hold no memory sized by the last responses: free the decoder's buffers
  // and hand the pages of the freed response bodies back to the system instead of keeping
  // them in malloc's free lists until the next round (glibc otherwise returns only the top
  // of its heaps).
  if (api_) api_->ReleaseMemory();
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
  const bool ok = first_error.ok();
  if (ok) {
    if (lock_phase_) LockPhase();
    sink_->AdvanceCompleteThrough(p_ms - interval_ms_);
    if (consecutive_failures_ > 0) {
      spdlog::info("poll recovered url={} failed_rounds={}", api_->url(), consecutive_failures_);
    }
    if (backfill) {
      spdlog::info("backfill done url={} span_ms={} samples={}", api_->url(),
                   std::min(config_.backfill_ms, config_.retention_ms), ingested);
    }
    last_success_p_ = p_ms;
    consecutive_failures_ = 0;
  } else {
    ++consecutive_failures_;
  }
  const auto wall = std::chrono::steady_clock::now() - wall_start;
  const int64_t duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(wall).count();
  if (options_.on_round) {
    options_.on_round(RoundReport{.duration_seconds = std::chrono::duration<double>(wall).count(),
                                  .ok = ok,
                                  .samples_ingested = ingested,
                                  .failures = failures});
  }
  std::lock_guard<std::mutex> lock(stats_mu_);
  ++stats_.polls_total;
  stats_.last_poll_time_ms = p_ms;
  stats_.last_poll_duration_ms = duration_ms;
  stats_.samples_ingested_total += ingested;
  for (FailureReason reason : failures) {
    auto& f = stats_.failures_by_reason;
    switch (reason) {
      case FailureReason::kTimeout:
        ++f.timeout;
        break;
      case FailureReason::kConnect:
        ++f.connect;
        break;
      case FailureReason::kHttpStatus:
        ++f.http_status;
        break;
      case FailureReason::kDecode:
        ++f.decode;
        break;
      case FailureReason::kApiError:
        ++f.api_error;
        break;
      case FailureReason::kLimit:
        ++f.limit;
        break;
      case FailureReason::kOther:
        ++f.other;
        break;
    }
  }
  if (ok) {
    stats_.state = UpstreamState::kUp;
    stats_.last_error.clear();
    stats_.ready = true;
  } else {
    ++stats_.poll_failures_total;
    stats_.state = UpstreamState::kDown;
    stats_.last_error = StatusText(first_error);
  }
  return first_error;
}

void Poller::LockPhase() {
  std::vector<int> seen;
  for (int b = 0; b < kPhaseBuckets; ++b) {
    if (phase_seen_[b]) seen.push_back(b);
  }
  phase_seen_.fill(false);
  if (seen.empty()) return;
  // Poll right after the scrapes that precede the longest quiet stretch: their samples are
  // then at most the allowance old when polled, and every other series' at most an interval.
  int before_gap = seen.back();
  int widest = seen.front() + kPhaseBuckets - seen.back();
  for (size_t i = 1; i < seen.size(); ++i) {
    if (seen[i] - seen[i - 1] > widest) {
      widest = seen[i] - seen[i - 1];
      before_gap = seen[i - 1];
    }
  }
  // Time for Prometheus to finish the scrape and ingest its samples.
  const int64_t allowance = std::min<int64_t>(100, interval_ms_ / 10);
  tick_offset_ms_ = ((before_gap + 1) * interval_ms_ / kPhaseBuckets + allowance) % interval_ms_;
}

absl::Status Poller::PollSelector(const config::Input& input, InputProgress& progress, int64_t p_ms,
                                  int64_t& ingested) {
  // Read (from, p]: from the last successful evaluation minus one interval (samples that
  // Prometheus ingested late), or the backfill span (at least one interval, so that
  // `backfill: 0s` still polls); never past the retention.
  int64_t from = progress.done_ms ? *progress.done_ms - interval_ms_
                                  : p_ms - std::max(config_.backfill_ms, interval_ms_);
  from = std::max(from, p_ms - config_.retention_ms);
  const int64_t max_span = options_.max_points_per_query * interval_ms_;
  while (from < p_ms) {
    const int64_t end = std::min(p_ms, from + max_span);
    const std::string query = Cat(input.selector.text(), "[", end - from, "ms]");
    // Series go to the sink as they are decoded: a large response is never held decoded.
    int64_t appended = 0;
    absl::StatusOr<QueryResult> result =
        api_->Query(query, end, [&](std::string_view labels, std::span<const Sample> samples) {
          appended += static_cast<int64_t>(sink_->AppendEncoded(labels, samples));
          if (!samples.empty()) {
            const int64_t phase =
                samples.back().time_ms - FloorToGrid(samples.back().time_ms, interval_ms_);
            phase_seen_[phase * kPhaseBuckets / interval_ms_] = true;
          }
        });
    ingested += appended;
    if (!result.ok()) return result.status();
    ingested += Ingest(*result, nullptr);
    progress.done_ms = end;
    from = end;
  }
  return absl::OkStatus();
}

absl::Status Poller::PollExpr(const config::Input& input, InputProgress& progress, int64_t p_ms,
                              int64_t& ingested) {
  // Grid points up to p - interval: later points may still change as samples arrive.
  const int64_t end = FloorToGrid(p_ms - interval_ms_, interval_ms_);
  int64_t start = progress.done_ms ? *progress.done_ms + interval_ms_
                                   : CeilToGrid(p_ms - config_.backfill_ms, interval_ms_);
  start = std::max(start, CeilToGrid(p_ms - config_.retention_ms, interval_ms_));
  while (start <= end) {
    const int64_t chunk_end =
        std::min(end, start + (options_.max_points_per_query - 1) * interval_ms_);
    absl::StatusOr<QueryResult> result =
        api_->QueryRange(input.expr, start, chunk_end, interval_ms_);
    if (!result.ok()) return result.status();
    ingested += Ingest(*result, &input.name);
    progress.done_ms = chunk_end;
    start = chunk_end + interval_ms_;
  }
  return absl::OkStatus();
}

int64_t Poller::Ingest(const QueryResult& result, const std::string* metric_name) {
  for (const std::string& warning : result.warnings) {
    spdlog::warn("prometheus warning url={} warning={}", api_->url(), warning);
  }
  int64_t appended = 0;
  for (const SeriesData& series : result.series) {
    if (metric_name != nullptr) {
      appended += static_cast<int64_t>(
          sink_->Append(series.labels.With(kMetricNameLabel, *metric_name), series.samples));
    } else {
      appended += static_cast<int64_t>(sink_->Append(series.labels, series.samples));
    }
  }
  return appended;
}

}  // namespace promfeed::upstream
