// Sample: one timestamped value of a series, and the Prometheus stale marker.
// Plain values; thread-compatible.
#ifndef PROMFEED_MODEL_SAMPLE_H_
#define PROMFEED_MODEL_SAMPLE_H_

#include <bit>
#include <cstdint>

namespace promfeed {

struct Sample {
  int64_t time_ms = 0;  // Unix epoch milliseconds.
  double value = 0;

  friend bool operator==(const Sample&, const Sample&) = default;
};

// Prometheus marks a series stale with this exact NaN; any other NaN is a real value.
inline constexpr uint64_t kStaleMarkerBits = 0x7ff0000000000002ULL;

inline double StaleMarker() { return std::bit_cast<double>(kStaleMarkerBits); }

inline bool IsStaleMarker(double v) { return std::bit_cast<uint64_t>(v) == kStaleMarkerBits; }

}  // namespace promfeed

#endif  // PROMFEED_MODEL_SAMPLE_H_
