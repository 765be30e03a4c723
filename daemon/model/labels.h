// Labels: a series identity, its full label set sorted by name.
// A value type; thread-compatible.
#ifndef PROMFEED_MODEL_LABELS_H_
#define PROMFEED_MODEL_LABELS_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace promfeed {

inline constexpr std::string_view kMetricNameLabel = "__name__";

struct Label {
  std::string name;
  std::string value;

  friend auto operator<=>(const Label&, const Label&) = default;
};

// Invariants: 1. sorted by name; 2. names unique; 3. no empty values
// (Prometheus treats an empty value as an absent label).
class Labels {
 public:
  Labels() = default;
  // Sorts, drops empty values; on duplicate names the last one wins.
  explicit Labels(std::vector<Label> labels);

  // Value of `name`, or "" when absent.
  std::string_view Get(std::string_view name) const;
  std::string_view MetricName() const { return Get(kMetricNameLabel); }
  // Returns a copy with `name` set to `value` (removed when value is empty).
  Labels With(std::string_view name, std::string_view value) const;

  const std::vector<Label>& items() const { return items_; }
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }

  // Prometheus notation: name{a="b", c="d"} with escaped values.
  std::string ToString() const;

  friend auto operator<=>(const Labels&, const Labels&) = default;
  friend bool operator==(const Labels&, const Labels&) = default;

  template <typename H>
  friend H AbslHashValue(H h, const Labels& l) {
    for (const Label& x : l.items_) h = H::combine(std::move(h), x.name, x.value);
    return h;
  }

 private:
  std::vector<Label> items_;
};

}  // namespace promfeed

#endif  // PROMFEED_MODEL_LABELS_H_
