// Terminal formatting for promfeedctl: human units, durations and aligned tables.
// Pure functions; thread-compatible.
#ifndef PROMFEED_CLIENT_TOOLS_FORMAT_H_
#define PROMFEED_CLIENT_TOOLS_FORMAT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace promfeed::ctl {

// 1536 -> "1.5 KiB", 1258291 -> "1.2 MiB"; below 1024: "512 B".
std::string HumanBytes(double bytes);
// 200000 -> "3m20s", 1500 -> "1.5s", 250 -> "250ms", 90061000 -> "1d1h1m1s".
std::string HumanDuration(int64_t ms);
// "3m20s ago" (or "in 2s" for a future time); "never" for 0.
std::string Ago(int64_t time_ms, int64_t now_ms);
// Local time "2024-05-01 12:00:05" (".250" appended when ms are not zero).
std::string LocalTime(int64_t time_ms);
// 12345678 -> "12,345,678".
std::string Grouped(int64_t n);
// A value for a table cell: %.6g, or IEC units when `bytes` (metric name ends in _bytes).
std::string CellValue(double v, bool bytes);

// "15s", "1h30m", "500ms", "2d" -> milliseconds; InvalidArgument says what to write.
absl::StatusOr<int64_t> ParseDuration(std::string_view s);
// "now", "-5m" (relative to now), or epoch milliseconds -> epoch ms.
absl::StatusOr<int64_t> ParseTime(std::string_view s, int64_t now_ms);

// Columns padded to their widest cell; numeric columns right-aligned.
class Table {
 public:
  explicit Table(std::vector<std::string> header, std::vector<bool> right_align = {});
  void Add(std::vector<std::string> row);
  std::string Render() const;

 private:
  std::vector<std::vector<std::string>> rows_;
  std::vector<bool> right_;
};

// Pads `s` to `width` (display columns counted as bytes; labels are ASCII in practice).
std::string Pad(std::string_view s, size_t width, bool right);

}  // namespace promfeed::ctl

#endif  // PROMFEED_CLIENT_TOOLS_FORMAT_H_
