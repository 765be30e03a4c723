#include "daemon/window/plan.h"

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "daemon/model/duration.h"
#include "daemon/model/selector.h"

namespace promfeed::window {

namespace {

std::string Str(int64_t v) { return std::to_string(v); }

// Resolves each selector in order; columns keep selector order, then label order. A series
// matched by two selectors appears once, under the first.
absl::Status ResolveFeatures(const store::SeriesStore& store, const WindowRequest& req,
                             const PlanLimits& limits, WindowPlan* plan) {
  if (req.features.empty()) {
    return absl::InvalidArgumentError(
        "features is empty: give at least one PromQL series selector, e.g. 'up{job=\"node\"}'");
  }
  for (size_t i = 0; i < req.features.size(); ++i) {
    absl::StatusOr<Selector> sel = Selector::Parse(req.features[i]);
    if (!sel.ok()) {
      return absl::InvalidArgumentError("features[" + Str(i) + "] '" + req.features[i] +
                                        "': " + std::string(sel.status().message()));
    }
    std::vector<store::SeriesPtr> matched = store.Select(*sel);
    if (matched.empty()) {
      return absl::NotFoundError("features[" + Str(i) + "] '" + req.features[i] +
                                 "' matches no series the daemon holds; ListSeries shows what "
                                 "it holds, and the daemon's config lists what it polls");
    }
    for (store::SeriesPtr& s : matched) {
      if (std::find(plan->series.begin(), plan->series.end(), s) != plan->series.end()) continue;
      plan->series.push_back(std::move(s));
      plan->selector_index.push_back(static_cast<int32_t>(i));
    }
  }
  if (static_cast<int64_t>(plan->series.size()) > limits.max_features) {
    return absl::ResourceExhaustedError("the features match " + Str(plan->series.size()) +
                                        " series, more than the limit of " +
                                        Str(limits.max_features) + "; narrow the selectors");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<WindowPlan> PlanWindows(const store::SeriesStore& store, const WindowRequest& req,
                                       const PlanLimits& limits, int64_t now_ms) {
  WindowPlan plan;
  WindowSpec& spec = plan.spec;
  if (req.step_ms < 0) {
    return absl::InvalidArgumentError(
        "step_ms is negative; use a positive step or 0 for the "
        "poll interval");
  }
  spec.step_ms = req.step_ms > 0 ? req.step_ms : limits.default_step_ms;
  if (req.window < 1) {
    return absl::InvalidArgumentError("window must be at least 1 row; got " + Str(req.window));
  }
  if (req.window > limits.max_window) {
    return absl::ResourceExhaustedError("window of " + Str(req.window) +
                                        " rows exceeds the limit of " + Str(limits.max_window));
  }
  if (req.shift < 0) {
    return absl::InvalidArgumentError("shift must be at least 1 row (0 means 1); got " +
                                      Str(req.shift));
  }
  if (req.lookback_ms < 0) {
    return absl::InvalidArgumentError(
        "lookback_ms is negative; use a positive lookback or 0 "
        "for 2 x step");
  }
  spec.window = req.window;
  spec.shift = req.shift > 0 ? req.shift : 1;
  spec.fill = req.fill;
  spec.lookback_ms = req.lookback_ms > 0 ? req.lookback_ms : 2 * spec.step_ms;

  if (absl::Status s = ResolveFeatures(store, req, limits, &plan); !s.ok()) return s;

  // The oldest time every feature has data for, and the oldest that is still intact.
  int64_t oldest_common = INT64_MIN;
  int64_t oldest_intact = now_ms - limits.retention_ms;
  for (const store::SeriesPtr& s : plan.series) {
    const store::RingBuffer& ring = s->ring();
    const int64_t oldest = ring.oldest_time_ms();
    oldest_common = std::max(oldest_common, oldest);
    if (ring.size() >= ring.capacity()) oldest_intact = std::max(oldest_intact, oldest);
  }
  if (req.start_ms == 0) {
    spec.start_ms = AlignUp(std::max(oldest_common, oldest_intact), spec.step_ms);
  } else {
    spec.start_ms = AlignUp(req.start_ms, spec.step_ms);
    if (spec.start_ms < oldest_intact) {
      return absl::OutOfRangeError(
          "start_ms " + Str(req.start_ms) + " is older than the data the daemon holds (from " +
          Str(AlignUp(oldest_intact, spec.step_ms)) + ", retention " +
          FormatDurationMs(limits.retention_ms) + "); use a later start_ms, or 0 for the oldest");
    }
  }

  if (req.follow) {
    spec.end_ms = kFollowEnd;
  } else {
    const int64_t end = req.end_ms != 0 ? req.end_ms : CompleteThrough(store, plan.series);
    spec.end_ms = AlignDown(end, spec.step_ms);
    if (spec.end_ms < spec.start_ms) {
      if (req.end_ms != 0) {
        return absl::InvalidArgumentError("end_ms " + Str(req.end_ms) + " is before start_ms " +
                                          Str(req.start_ms) + " on the " +
                                          FormatDurationMs(spec.step_ms) + " grid");
      }
      return absl::UnavailableError(
          "no complete grid row yet at or after start; retry after "
          "the next poll or use follow");
    }
  }
  return plan;
}

}  // namespace promfeed::window
