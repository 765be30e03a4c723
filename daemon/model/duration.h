// Durations in Prometheus notation ("1h30m", "15s", "500ms") as integer milliseconds.
#ifndef PROMFEED_MODEL_DURATION_H_
#define PROMFEED_MODEL_DURATION_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace promfeed {

// Units y (365d), w, d, h, m, s, ms, each at most once, largest first, as Prometheus.
// "0" and "0s" are zero. Fails with INVALID_ARGUMENT saying what is accepted.
absl::StatusOr<int64_t> ParseDurationMs(std::string_view text);

// Shortest Prometheus notation: 90000 -> "1m30s", 1500 -> "1s500ms", 0 -> "0s".
std::string FormatDurationMs(int64_t ms);

}  // namespace promfeed

#endif  // PROMFEED_MODEL_DURATION_H_
