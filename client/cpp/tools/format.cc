#include "client/cpp/tools/format.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace promfeed::ctl {

std::string HumanBytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = std::fabs(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  const char* sign = bytes < 0 ? "-" : "";
  if (u == 0) return absl::StrFormat("%s%.0f B", sign, v);
  return absl::StrFormat(v < 10 ? "%s%.1f %s" : "%s%.0f %s", sign, v, kUnits[u]);
}

std::string HumanDuration(int64_t ms) {
  if (ms < 0) return "-" + HumanDuration(-ms);
  if (ms < 1000) return absl::StrCat(ms, "ms");
  if (ms < 10000 && ms % 1000 != 0) return absl::StrFormat("%.1fs", ms / 1000.0);
  int64_t s = ms / 1000;
  std::string out;
  for (auto [unit, secs] : {std::pair{"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}}) {
    if (s >= secs) {
      absl::StrAppend(&out, s / secs, unit);
      s %= secs;
    }
  }
  return out;
}

std::string Ago(int64_t time_ms, int64_t now_ms) {
  if (time_ms == 0) return "never";
  if (time_ms > now_ms) return "in " + HumanDuration(time_ms - now_ms);
  return HumanDuration(now_ms - time_ms) + " ago";
}

std::string LocalTime(int64_t time_ms) {
  std::time_t t = static_cast<std::time_t>(time_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  if (time_ms % 1000 != 0) return absl::StrFormat("%s.%03d", buf, time_ms % 1000);
  return buf;
}

std::string Grouped(int64_t n) {
  std::string digits = absl::StrCat(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return n < 0 ? "-" + out : out;
}

std::string CellValue(double v, bool bytes) {
  if (std::isnan(v)) return "NaN";
  if (bytes && std::isfinite(v)) return HumanBytes(v);
  return absl::StrFormat("%.6g", v);
}

absl::StatusOr<int64_t> ParseDuration(std::string_view s) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("bad duration \"", std::string(s),
                     "\": write an integer with a unit, e.g. 500ms, 15s, 5m, 1h30m, 2d"));
  };
  if (s.empty()) return bad();
  int64_t total = 0;
  size_t i = 0;
  while (i < s.size()) {
    int64_t n = 0;
    auto [p, ec] = std::from_chars(s.data() + i, s.data() + s.size(), n);
    if (ec != std::errc() || p == s.data() + i) return bad();
    i = p - s.data();
    size_t j = i;
    while (j < s.size() && std::isalpha(static_cast<unsigned char>(s[j]))) ++j;
    std::string_view unit = s.substr(i, j - i);
    int64_t mult;
    if (unit == "ms") {
      mult = 1;
    } else if (unit == "s") {
      mult = 1000;
    } else if (unit == "m") {
      mult = 60'000;
    } else if (unit == "h") {
      mult = 3'600'000;
    } else if (unit == "d") {
      mult = 86'400'000;
    } else {
      return bad();
    }
    total += n * mult;
    i = j;
  }
  return total;
}

absl::StatusOr<int64_t> ParseTime(std::string_view s, int64_t now_ms) {
  if (s == "now") return now_ms;
  if (!s.empty() && s[0] == '-') {
    auto d = ParseDuration(s.substr(1));
    if (!d.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("bad time \"", std::string(s),
                                                     "\": use now, -DURATION (e.g. -5m) or "
                                                     "epoch milliseconds"));
    }
    return now_ms - *d;
  }
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad time \"", std::string(s), "\": use now, -DURATION (e.g. -5m) or epoch milliseconds"));
  }
  return v;
}

std::string Pad(std::string_view s, size_t width, bool right) {
  if (s.size() >= width) return std::string(s);
  std::string fill(width - s.size(), ' ');
  return right ? fill + std::string(s) : std::string(s) + fill;
}

Table::Table(std::vector<std::string> header, std::vector<bool> right_align)
    : right_(std::move(right_align)) {
  right_.resize(header.size(), false);
  rows_.push_back(std::move(header));
}

void Table::Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

std::string Table::Render() const {
  std::vector<size_t> w(right_.size(), 0);
  for (const auto& r : rows_) {
    for (size_t c = 0; c < r.size() && c < w.size(); ++c) w[c] = std::max(w[c], r[c].size());
  }
  std::string out;
  for (const auto& r : rows_) {
    std::string line;
    for (size_t c = 0; c < r.size() && c < w.size(); ++c) {
      if (c > 0) line += "  ";
      // The last left-aligned column is not padded: no trailing blanks.
      line += (c + 1 == r.size() && !right_[c]) ? r[c] : Pad(r[c], w[c], right_[c]);
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace promfeed::ctl
