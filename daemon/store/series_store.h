// SeriesStore: every series the daemon holds, one RingBuffer per full label set, with an
// index by metric name, job and instance.
// Thread-safety: one writer thread calls Append/Publish/AdvanceCompleteThrough; any thread
// may read. Readers see the index as of the last Publish and never block the writer.
#ifndef PROMFEED_STORE_SERIES_STORE_H_
#define PROMFEED_STORE_SERIES_STORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "daemon/model/labels.h"
#include "daemon/model/sample.h"
#include "daemon/model/selector.h"
#include "daemon/store/ring_buffer.h"

namespace promfeed::store {

// One series: its identity and its ring. Shared by the store and the readers using it.
class Series {
 public:
  Series(Labels labels, size_t capacity) : labels_(std::move(labels)), ring_(capacity) {}
  Series(const Series&) = delete;
  Series& operator=(const Series&) = delete;

  const Labels& labels() const { return labels_; }
  const RingBuffer& ring() const { return ring_; }
  RingBuffer& mutable_ring() { return ring_; }

 private:
  const Labels labels_;
  RingBuffer ring_;
};

using SeriesPtr = std::shared_ptr<Series>;

struct StoreOptions {
  int64_t retention_ms = 3'600'000;
  int64_t interval_ms = 15'000;  // Expected sample spacing (the poll interval).
  int64_t max_series = 100'000;
};

struct StoreStats {
  int64_t series = 0;
  int64_t series_rejected_total = 0;
  int64_t samples_held = 0;
  int64_t samples_appended_total = 0;
  int64_t duplicates_dropped_total = 0;
  int64_t ring_bytes = 0;
};

class SeriesStore {
 public:
  explicit SeriesStore(StoreOptions options);
  SeriesStore(const SeriesStore&) = delete;
  SeriesStore& operator=(const SeriesStore&) = delete;

  struct AppendResult {
    size_t appended = 0;
    size_t duplicates = 0;  // Samples at or before the newest held time: dropped.
    bool rejected = false;  // New series refused: max_series reached.
  };

  // Writer only. Appends time-ordered `samples` to the series `labels`, creating it if new
  // (sized from the retention and the samples' spacing). New series become visible to
  // readers at the next Publish.
  AppendResult Append(const Labels& labels, std::span<const Sample> samples);
  // The same with the labels as Labels::encoded() bytes; a Labels is made only for a new
  // series.
  AppendResult AppendEncoded(std::string_view encoded_labels, std::span<const Sample> samples);

  // Writer only. Makes series created since the last call visible to readers.
  void Publish();

  // Writer only. Declares that upstream holds no sample older than or at `t_ms` that the store
  // lacks (every poll covering up to t_ms is done); publishes and wakes listeners.
  void AdvanceCompleteThrough(int64_t t_ms);
  int64_t complete_through_ms() const { return complete_through_.load(std::memory_order_acquire); }

  // Series matching `selector`, sorted by labels.
  std::vector<SeriesPtr> Select(const Selector& selector) const;
  // All series, sorted by labels.
  std::vector<SeriesPtr> All() const;

  // Listeners run on the writer thread after each AdvanceCompleteThrough; keep them short
  // (mark a stream dirty, post work). Returns an id for RemoveListener.
  uint64_t AddListener(std::function<void()> fn);
  void RemoveListener(uint64_t id);

  StoreStats Stats() const;
  const StoreOptions& options() const { return options_; }

 private:
  struct Index {
    std::vector<SeriesPtr> series;  // Sorted by labels.
    absl::flat_hash_map<std::string, std::vector<uint32_t>> by_metric;
  };

  // Series keyed by their own labels, found by a Labels value (heterogeneous lookup), so
  // that each label set is stored once, in its Series.
  // Keys are the labels' canonical encodings (equal label sets, equal bytes).
  struct SeriesHash {
    using is_transparent = void;
    size_t operator()(std::string_view encoded) const {
      return absl::Hash<std::string_view>{}(encoded);
    }
    size_t operator()(const Labels& l) const { return (*this)(l.encoded()); }
    size_t operator()(const SeriesPtr& s) const { return (*this)(s->labels().encoded()); }
  };
  struct SeriesEq {
    using is_transparent = void;
    static std::string_view Of(std::string_view encoded) { return encoded; }
    static std::string_view Of(const Labels& l) { return l.encoded(); }
    static std::string_view Of(const SeriesPtr& s) { return s->labels().encoded(); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return Of(a) == Of(b);
    }
  };

  // `labels` is null or the Labels of `encoded`.
  AppendResult AppendImpl(std::string_view encoded, const Labels* labels,
                          std::span<const Sample> samples);
  size_t CapacityFor(std::span<const Sample> samples) const;
  std::shared_ptr<const Index> LoadIndex() const;

  const StoreOptions options_;
  // Writer-private.
  absl::flat_hash_set<SeriesPtr, SeriesHash, SeriesEq> by_labels_;
  bool dirty_ = false;
  // Published for readers.
  mutable std::mutex index_mu_;  // Guards only the pointer swap / copy.
  std::shared_ptr<const Index> index_ ABSL_GUARDED_BY(index_mu_);
  std::atomic<int64_t> complete_through_{INT64_MIN};
  std::atomic<int64_t> rejected_{0};
  std::atomic<int64_t> appended_{0};
  std::atomic<int64_t> duplicates_{0};
  std::atomic<int64_t> ring_bytes_{0};
  std::atomic<int64_t> series_count_{0};

  mutable std::mutex listeners_mu_;
  uint64_t next_listener_id_ ABSL_GUARDED_BY(listeners_mu_) = 1;
  std::vector<std::pair<uint64_t, std::function<void()>>> listeners_ ABSL_GUARDED_BY(listeners_mu_);
};

}  // namespace promfeed::store

#endif  // PROMFEED_STORE_SERIES_STORE_H_
