#include "daemon/model/labels.h"

#include <algorithm>

namespace promfeed {

Labels::Labels(std::vector<Label> labels) {
  // Stable sort keeps input order among equal names so "last one wins" holds.
  std::stable_sort(labels.begin(), labels.end(),
                   [](const Label& a, const Label& b) { return a.name < b.name; });
  for (Label& l : labels) {
    if (!items_.empty() && items_.back().name == l.name) items_.pop_back();
    if (!l.value.empty()) items_.push_back(std::move(l));
  }
}

std::string_view Labels::Get(std::string_view name) const {
  auto it = std::lower_bound(items_.begin(), items_.end(), name,
                             [](const Label& l, std::string_view n) { return l.name < n; });
  return it != items_.end() && it->name == name ? std::string_view(it->value) : "";
}

Labels Labels::With(std::string_view name, std::string_view value) const {
  std::vector<Label> copy = items_;
  copy.push_back({std::string(name), std::string(value)});
  return Labels(std::move(copy));
}

std::string Labels::ToString() const {
  std::string out(MetricName());
  out += '{';
  bool first = true;
  for (const Label& l : items_) {
    if (l.name == kMetricNameLabel) continue;
    if (!first) out += ", ";
    first = false;
    out += l.name;
    out += "=\"";
    for (char c : l.value) {
      if (c == '\\' || c == '"') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace promfeed
