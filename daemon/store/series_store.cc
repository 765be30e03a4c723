#include "daemon/store/series_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "daemon/logging/logging.h"

namespace promfeed::store {

namespace {
// Sample spacing below this is treated as this when sizing rings, so one odd batch cannot
// allocate a huge ring.
constexpr int64_t kMinSpacingMs = 100;
}  // namespace

SeriesStore::SeriesStore(StoreOptions options)
    : options_(options), index_(std::make_shared<Index>()) {}

size_t SeriesStore::CapacityFor(std::span<const Sample> samples) const {
  int64_t spacing = std::max<int64_t>(options_.interval_ms, 1);
  // Series scraped faster than the poll interval (seen in their first batch) get rings sized
  // by their own spacing so that they too hold the full retention.
  if (samples.size() >= 2) {
    const int64_t span = samples.back().time_ms - samples.front().time_ms;
    const int64_t observed = span / static_cast<int64_t>(samples.size() - 1);
    if (observed > 0 && observed < spacing) spacing = std::max(observed, kMinSpacingMs);
  }
  const int64_t slots = (options_.retention_ms + spacing - 1) / spacing;
  // A little slack for jitter in scrape timestamps.
  return static_cast<size_t>(slots + slots / 32 + 2);
}

SeriesStore::AppendResult SeriesStore::Append(const Labels& labels,
                                              std::span<const Sample> samples) {
  return AppendImpl(labels.encoded(), &labels, samples);
}

SeriesStore::AppendResult SeriesStore::AppendEncoded(std::string_view encoded_labels,
                                                     std::span<const Sample> samples) {
  return AppendImpl(encoded_labels, nullptr, samples);
}

SeriesStore::AppendResult SeriesStore::AppendImpl(std::string_view encoded, const Labels* labels,
                                                  std::span<const Sample> samples) {
  AppendResult result;
  auto it = by_labels_.find(encoded);
  if (it == by_labels_.end()) {
    if (samples.empty()) return result;
    if (static_cast<int64_t>(by_labels_.size()) >= options_.max_series) {
      const int64_t n = rejected_.fetch_add(1, std::memory_order_relaxed) + 1;
      // Logged at the 1st, 2nd, 4th, 8th... refusal: visible without flooding the log.
      if ((n & (n - 1)) == 0) {
        spdlog::warn("series rejected reason=max_series max_series={} rejected_total={} series={}",
                     options_.max_series, n,
                     logging::Quote(
                         (labels != nullptr ? *labels : Labels::FromEncoded(encoded)).ToString()));
      }
      result.rejected = true;
      return result;
    }
    auto series = std::make_shared<Series>(
        labels != nullptr ? *labels : Labels::FromEncoded(encoded), CapacityFor(samples));
    ring_bytes_.fetch_add(static_cast<int64_t>(series->ring().bytes() + sizeof(Series)),
                          std::memory_order_relaxed);
    it = by_labels_.insert(std::move(series)).first;
    series_count_.store(static_cast<int64_t>(by_labels_.size()), std::memory_order_relaxed);
    dirty_ = true;
  }
  RingBuffer& ring = (*it)->mutable_ring();
  for (const Sample& s : samples) {
    if (ring.Append(s)) {
      ++result.appended;
    } else {
      ++result.duplicates;
    }
  }
  appended_.fetch_add(static_cast<int64_t>(result.appended), std::memory_order_relaxed);
  duplicates_.fetch_add(static_cast<int64_t>(result.duplicates), std::memory_order_relaxed);
  return result;
}

void SeriesStore::Publish() {
  if (!dirty_) return;
  auto index = std::make_shared<Index>();
  index->series.reserve(by_labels_.size());
  for (const SeriesPtr& series : by_labels_) index->series.push_back(series);
  std::sort(index->series.begin(), index->series.end(),
            [](const SeriesPtr& a, const SeriesPtr& b) { return a->labels() < b->labels(); });
  for (uint32_t i = 0; i < index->series.size(); ++i) {
    index->by_metric[std::string(index->series[i]->labels().MetricName())].push_back(i);
  }
  {
    std::lock_guard<std::mutex> lock(index_mu_);
    index_ = std::move(index);
  }
  dirty_ = false;
}

void SeriesStore::AdvanceCompleteThrough(int64_t t_ms) {
  Publish();
  if (t_ms > complete_through_.load(std::memory_order_relaxed)) {
    complete_through_.store(t_ms, std::memory_order_release);
  }
  // Called under the lock so that once RemoveListener returns its callback never runs.
  std::lock_guard<std::mutex> lock(listeners_mu_);
  for (const auto& [id, fn] : listeners_) fn();
}

std::shared_ptr<const SeriesStore::Index> SeriesStore::LoadIndex() const {
  std::lock_guard<std::mutex> lock(index_mu_);
  return index_;
}

std::vector<SeriesPtr> SeriesStore::Select(const Selector& selector) const {
  const std::shared_ptr<const Index> index = LoadIndex();
  std::vector<SeriesPtr> out;
  auto consider = [&](const SeriesPtr& s) {
    if (selector.Matches(s->labels())) out.push_back(s);
  };
  if (std::string_view name = selector.metric_name(); !name.empty()) {
    auto it = index->by_metric.find(std::string(name));
    if (it != index->by_metric.end()) {
      for (uint32_t i : it->second) consider(index->series[i]);
    }
  } else {
    for (const SeriesPtr& s : index->series) consider(s);
  }
  return out;
}

std::vector<SeriesPtr> SeriesStore::All() const { return LoadIndex()->series; }

uint64_t SeriesStore::AddListener(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  const uint64_t id = next_listener_id_++;
  listeners_.emplace_back(id, std::move(fn));
  return id;
}

void SeriesStore::RemoveListener(uint64_t id) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  std::erase_if(listeners_, [id](const auto& l) { return l.first == id; });
}

StoreStats SeriesStore::Stats() const {
  StoreStats stats;
  const std::shared_ptr<const Index> index = LoadIndex();
  for (const SeriesPtr& s : index->series) {
    stats.samples_held += static_cast<int64_t>(s->ring().size());
  }
  stats.series = series_count_.load(std::memory_order_relaxed);
  stats.series_rejected_total = rejected_.load(std::memory_order_relaxed);
  stats.samples_appended_total = appended_.load(std::memory_order_relaxed);
  stats.duplicates_dropped_total = duplicates_.load(std::memory_order_relaxed);
  stats.ring_bytes = ring_bytes_.load(std::memory_order_relaxed);
  return stats;
}

}  // namespace promfeed::store
