// Plans a window or range request: resolves feature selectors against the store, fills in
// defaults, aligns the grid and validates, with errors that say what to change.
// Pure function of its inputs; thread-safe.
#ifndef PROMFEED_WINDOW_PLAN_H_
#define PROMFEED_WINDOW_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/store/series_store.h"
#include "daemon/window/window_cursor.h"

namespace promfeed::window {

struct WindowRequest {
  std::vector<std::string> features;  // PromQL series selectors.
  int64_t step_ms = 0;                // 0: default_step_ms.
  int32_t window = 1;
  int32_t shift = 0;  // 0: 1.
  Fill fill = Fill::kNanMask;
  int64_t start_ms = 0;  // 0: oldest time held for every feature.
  int64_t end_ms = 0;    // 0: the newest complete row. Ignored with follow.
  bool follow = false;
  int64_t lookback_ms = 0;  // 0: 2 x step.
};

struct WindowPlan {
  std::vector<store::SeriesPtr> series;  // Feature columns in order.
  std::vector<int32_t> selector_index;   // Request feature that matched each column.
  WindowSpec spec;
};

struct PlanLimits {
  int64_t default_step_ms = 15'000;
  int64_t retention_ms = 3'600'000;
  int64_t max_features = 100'000;
  int64_t max_window = 1'000'000;
};

// Errors: INVALID_ARGUMENT (malformed selector, window < 1, negative step/shift/lookback,
// end before start), NOT_FOUND (a selector matches no series held), OUT_OF_RANGE (start older
// than the data held), RESOURCE_EXHAUSTED (too many features or too long a window).
absl::StatusOr<WindowPlan> PlanWindows(const store::SeriesStore& store, const WindowRequest& req,
                                       const PlanLimits& limits, int64_t now_ms);

}  // namespace promfeed::window

#endif  // PROMFEED_WINDOW_PLAN_H_
