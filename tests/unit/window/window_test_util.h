// Builds small stores for window tests.
#ifndef PROMFEED_TESTS_UNIT_WINDOW_WINDOW_TEST_UTIL_H_
#define PROMFEED_TESTS_UNIT_WINDOW_WINDOW_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "daemon/store/series_store.h"

namespace promfeed::window {

inline Labels SeriesLabels(const std::string& name) {
  return Labels({{"__name__", name}, {"job", "test"}});
}

// Appends samples to series `name` and publishes.
inline void Put(store::SeriesStore& store, const std::string& name, std::vector<Sample> samples) {
  store.Append(SeriesLabels(name), samples);
  store.Publish();
}

inline store::SeriesPtr Get(store::SeriesStore& store, const std::string& name) {
  for (const store::SeriesPtr& s : store.All()) {
    if (s->labels().MetricName() == name) return s;
  }
  return nullptr;
}

}  // namespace promfeed::window

#endif  // PROMFEED_TESTS_UNIT_WINDOW_WINDOW_TEST_UTIL_H_
