#include "daemon/server/stream_cache.h"

namespace promfeed::server {

namespace {
// Whether sampling `features` again would give what was kept: the same series objects, each
// ring still holding the samples the first row needs (a ring not yet full holds every
// sample since its series was created).
bool StillHeld(const std::vector<std::weak_ptr<store::Series>>& kept,
               const std::vector<store::SeriesPtr>& features, int64_t first_needed_ms) {
  if (kept.size() != features.size()) return false;
  for (size_t i = 0; i < kept.size(); ++i) {
    if (kept[i].lock() != features[i]) return false;
    const store::RingBuffer& ring = features[i]->ring();
    if (ring.size() >= ring.capacity() && ring.oldest_time_ms() > first_needed_ms) return false;
  }
  return true;
}
}  // namespace

std::shared_ptr<const CachedStream> StreamCache::Find(const std::string& key,
                                                      const std::vector<store::SeriesPtr>& features,
                                                      int64_t first_needed_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    ++misses_;
    return nullptr;
  }
  if (!StillHeld(it->second->features, features, first_needed_ms)) {
    EraseLocked(it->second);
    ++misses_;
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  ++hits_;
  return it->second->stream;
}

bool StreamCache::BeginRecording(const std::string& key) {
  if (max_bytes_ == 0) return false;
  std::lock_guard<std::mutex> lock(mu_);
  return recording_.insert(key).second;
}

void StreamCache::EndRecording(const std::string& key,
                               const std::vector<store::SeriesPtr>& features,
                               std::shared_ptr<const CachedStream> stream) {
  std::lock_guard<std::mutex> lock(mu_);
  recording_.erase(key);
  if (stream == nullptr || stream->bytes > max_bytes_) return;
  if (auto it = index_.find(key); it != index_.end()) EraseLocked(it->second);
  while (!lru_.empty() && bytes_ + stream->bytes > max_bytes_) EraseLocked(std::prev(lru_.end()));
  bytes_ += stream->bytes;
  lru_.push_front(Entry{
      .key = key, .features = {features.begin(), features.end()}, .stream = std::move(stream)});
  index_[key] = lru_.begin();
}

void StreamCache::EraseLocked(Lru::iterator it) {
  bytes_ -= it->stream->bytes;
  index_.erase(it->key);
  lru_.erase(it);
}

StreamCacheStats StreamCache::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {.bytes = static_cast<int64_t>(bytes_),
          .entries = static_cast<int64_t>(lru_.size()),
          .hits_total = hits_,
          .misses_total = misses_};
}

}  // namespace promfeed::server
