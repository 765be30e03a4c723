// StreamCache: the encoded row messages of finished StreamWindows streams over history, so
// that the same request again (the next epoch of a training run, a second job reading the
// same range) is answered by writing the kept bytes instead of sampling every ring again.
// Thread-safe.
//
// Only streams that cannot change are kept: the whole range was final when the stream
// started (end <= the store's poll horizon, no follow), and it lost nothing to ring
// turnover. A kept stream is served only while every one of its series is still the same
// series (not removed and re-created) and its ring still holds the range's first sample;
// otherwise the entry is dropped and the stream is sampled afresh. Least recently used
// entries go first when the kept bytes would pass the limit.
#ifndef PROMFEED_SERVER_STREAM_CACHE_H_
#define PROMFEED_SERVER_STREAM_CACHE_H_

#include <grpcpp/support/byte_buffer.h>

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "daemon/store/series_store.h"

namespace promfeed::server {

// A finished stream's row messages (the header is built afresh for every stream: it carries
// the series' current sample counts) and what they add to the service's counters.
struct CachedStream {
  std::vector<grpc::ByteBuffer> messages;
  size_t bytes = 0;
  int64_t windows_sent = 0;
  int64_t windows_dropped = 0;
};

struct StreamCacheStats {
  int64_t bytes = 0;
  int64_t entries = 0;
  int64_t hits_total = 0;
  int64_t misses_total = 0;
};

class StreamCache {
 public:
  // max_bytes 0 keeps nothing.
  explicit StreamCache(size_t max_bytes) : max_bytes_(max_bytes) {}
  StreamCache(const StreamCache&) = delete;
  StreamCache& operator=(const StreamCache&) = delete;

  size_t max_bytes() const { return max_bytes_; }

  // The stream kept for `key` over exactly `features`, if it is still what sampling them
  // would give: see the file comment. `first_needed_ms` is the oldest sample time the
  // stream's first row can use (start - lookback + 1). Counts a hit or a miss.
  std::shared_ptr<const CachedStream> Find(const std::string& key,
                                           const std::vector<store::SeriesPtr>& features,
                                           int64_t first_needed_ms);

  // A stream about to be sampled asks whether to record its messages for `key`: no when
  // nothing is kept (max_bytes 0) or another stream is recording the same key, so that
  // concurrent identical streams hold one recording between them, not one each.
  bool BeginRecording(const std::string& key);
  // Ends a recording that BeginRecording allowed: keeps `stream` (replacing an older one),
  // unless it is null (abandoned: the stream failed, was cancelled or lost windows) or alone
  // over the limit.
  void EndRecording(const std::string& key, const std::vector<store::SeriesPtr>& features,
                    std::shared_ptr<const CachedStream> stream);

  StreamCacheStats Stats() const;

 private:
  struct Entry {
    std::string key;
    std::vector<std::weak_ptr<store::Series>> features;
    std::shared_ptr<const CachedStream> stream;
  };
  using Lru = std::list<Entry>;  // Most recently used first.

  void EraseLocked(Lru::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_bytes_;
  mutable std::mutex mu_;
  Lru lru_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Lru::iterator> index_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> recording_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace promfeed::server

#endif  // PROMFEED_SERVER_STREAM_CACHE_H_
