#include "daemon/model/duration.h"

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/status/status.h"
#include "daemon/model/str_cat.h"

namespace promfeed {
namespace {

struct Unit {
  std::string_view name;
  int64_t ms;
};

constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kWeek = 7 * kDay;
constexpr int64_t kYear = 365 * kDay;

// Largest first: the position in this table is the order units must appear in.
constexpr std::array<Unit, 7> kUnits = {{
    {"y", kYear},
    {"w", kWeek},
    {"d", kDay},
    {"h", kHour},
    {"m", kMinute},
    {"s", kSecond},
    {"ms", 1},
}};

// Prometheus stores durations as Go time.Duration (int64 nanoseconds), so anything past
// ~292 years is out of range there; keep the same limit so both accept the same strings.
constexpr int64_t kMaxMs = std::numeric_limits<int64_t>::max() / 1'000'000;

constexpr std::string_view kAccepted =
    "write an integer followed by units y, w, d, h, m, s, ms, largest first and each at most "
    "once, e.g. \"15s\", \"1h30m\", \"500ms\" or \"0\"";

absl::Status Invalid(std::string_view text, std::string_view problem) {
  return absl::InvalidArgumentError(
      Cat("invalid duration \"", text, "\": ", problem, "; ", kAccepted));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

absl::StatusOr<int64_t> ParseDurationMs(std::string_view text) {
  if (text == "0") return 0;
  if (text.empty()) return Invalid(text, "empty");

  std::string_view rest = text;
  int64_t total = 0;
  int last_unit = -1;
  while (!rest.empty()) {
    if (!IsDigit(rest[0])) {
      if (rest[0] == '-') return Invalid(text, "negative durations are not allowed");
      if (rest[0] == '.') return Invalid(text, "fractions are not allowed");
      return Invalid(text, Cat("expected a digit at \"", rest, "\""));
    }
    size_t i = 0;
    int64_t value = 0;
    bool overflow = false;
    for (; i < rest.size() && IsDigit(rest[i]); ++i) {
      if (value > (kMaxMs - (rest[i] - '0')) / 10) overflow = true;
      if (!overflow) value = value * 10 + (rest[i] - '0');
    }
    if (overflow) return Invalid(text, "out of range (at most 292y)");
    rest.remove_prefix(i);

    size_t j = 0;
    while (j < rest.size() && !IsDigit(rest[j])) ++j;
    std::string_view unit_name = rest.substr(0, j);
    rest.remove_prefix(j);
    if (unit_name.empty()) return Invalid(text, "missing unit after the last number");
    if (unit_name[0] == '.') return Invalid(text, "fractions are not allowed");

    int unit = -1;
    for (int u = 0; u < static_cast<int>(kUnits.size()); ++u) {
      if (kUnits[u].name == unit_name) unit = u;
    }
    if (unit < 0) return Invalid(text, Cat("unknown unit \"", unit_name, "\""));
    if (unit <= last_unit) {
      return Invalid(text, Cat("unit \"", unit_name, "\" ",
                               unit == last_unit ? "repeated" : "after a smaller unit"));
    }
    last_unit = unit;

    if (value > kMaxMs / kUnits[unit].ms) return Invalid(text, "out of range (at most 292y)");
    int64_t add = value * kUnits[unit].ms;
    if (total > kMaxMs - add) return Invalid(text, "out of range (at most 292y)");
    total += add;
  }
  return total;
}

std::string FormatDurationMs(int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  uint64_t rest;
  if (ms < 0) {
    out = "-";
    rest = static_cast<uint64_t>(-(ms + 1)) + 1;  // No overflow for INT64_MIN.
  } else {
    rest = static_cast<uint64_t>(ms);
  }
  for (const Unit& unit : kUnits) {
    uint64_t mult = static_cast<uint64_t>(unit.ms);
    // Like Prometheus, years and weeks only when exact: "90d" reads better than "12w6d".
    bool exact_only = unit.ms == kYear || unit.ms == kWeek;
    if (exact_only && rest % mult != 0) continue;
    if (uint64_t v = rest / mult; v > 0) {
      out += Cat(v, unit.name);
      rest -= v * mult;
    }
  }
  return out;
}

}  // namespace promfeed
