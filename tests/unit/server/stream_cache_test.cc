// StreamCache: what it keeps, when it serves it, and what it evicts.
#include "daemon/server/stream_cache.h"

#include <grpcpp/support/slice.h>

#include "gtest/gtest.h"

namespace promfeed::server {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

store::SeriesPtr SeriesWith(size_t capacity, int samples) {
  auto s = std::make_shared<store::Series>(Labels({{"__name__", "x"}, {"job", "j"}}), capacity);
  for (int i = 0; i < samples; ++i) s->mutable_ring().Append({kT0 + i * 1000, double(i)});
  return s;
}

// A kept stream of one message of `bytes` bytes.
std::shared_ptr<CachedStream> StreamOf(size_t bytes) {
  auto s = std::make_shared<CachedStream>();
  grpc::Slice slice(std::string(bytes, 'x'));
  s->messages.emplace_back(&slice, 1);
  s->bytes = bytes;
  s->windows_sent = 3;
  return s;
}

// Records and ends a stream for `key`, as a sampled stream does.
void Keep(StreamCache* cache, const std::string& key, const std::vector<store::SeriesPtr>& features,
          size_t bytes) {
  ASSERT_TRUE(cache->BeginRecording(key));
  cache->EndRecording(key, features, StreamOf(bytes));
}

TEST(StreamCacheTest, KeepsAFinishedStreamAndServesIt) {
  StreamCache cache(1000);
  const std::vector<store::SeriesPtr> f = {SeriesWith(10, 5)};
  EXPECT_EQ(cache.Find("k", f, kT0), nullptr);
  Keep(&cache, "k", f, 100);
  std::shared_ptr<const CachedStream> got = cache.Find("k", f, kT0);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->messages.size(), 1u);
  EXPECT_EQ(got->messages[0].Length(), 100u);
  EXPECT_EQ(got->windows_sent, 3);
  EXPECT_EQ(cache.Find("other", f, kT0), nullptr);
  const StreamCacheStats s = cache.Stats();
  EXPECT_EQ(s.bytes, 100);
  EXPECT_EQ(s.entries, 1);
  EXPECT_EQ(s.hits_total, 1);
  EXPECT_EQ(s.misses_total, 2);
}

TEST(StreamCacheTest, OneRecordingPerKeyAndAbandonedOnesKeepNothing) {
  StreamCache cache(1000);
  const std::vector<store::SeriesPtr> f = {SeriesWith(10, 5)};
  ASSERT_TRUE(cache.BeginRecording("k"));
  EXPECT_FALSE(cache.BeginRecording("k"));  // A concurrent identical stream does not record.
  EXPECT_TRUE(cache.BeginRecording("j"));
  cache.EndRecording("k", f, nullptr);  // Failed or cancelled.
  EXPECT_EQ(cache.Stats().entries, 0);
  EXPECT_TRUE(cache.BeginRecording("k"));  // Free again.
}

TEST(StreamCacheTest, NothingKeptWithZeroBytes) {
  StreamCache cache(0);
  EXPECT_FALSE(cache.BeginRecording("k"));
}

TEST(StreamCacheTest, EvictsLeastRecentlyUsedAndRefusesOversizedStreams) {
  StreamCache cache(250);
  const std::vector<store::SeriesPtr> f = {SeriesWith(10, 5)};
  Keep(&cache, "a", f, 100);
  Keep(&cache, "b", f, 100);
  ASSERT_NE(cache.Find("a", f, kT0), nullptr);  // a is now the most recently used.
  Keep(&cache, "c", f, 100);                    // Over 250: b goes.
  EXPECT_NE(cache.Find("a", f, kT0), nullptr);
  EXPECT_EQ(cache.Find("b", f, kT0), nullptr);
  EXPECT_NE(cache.Find("c", f, kT0), nullptr);
  EXPECT_EQ(cache.Stats().bytes, 200);
  Keep(&cache, "d", f, 251);  // Alone over the limit: not kept, nothing evicted for it.
  EXPECT_EQ(cache.Find("d", f, kT0), nullptr);
  EXPECT_EQ(cache.Stats().entries, 2);
  Keep(&cache, "a", f, 50);  // Replaces a's entry.
  EXPECT_EQ(cache.Stats().bytes, 150);
}

TEST(StreamCacheTest, DropsTheEntryWhenASeriesIsReplaced) {
  StreamCache cache(1000);
  const std::vector<store::SeriesPtr> f = {SeriesWith(10, 5)};
  Keep(&cache, "k", f, 100);
  // Same labels, new series (removed and created again): its ring holds other samples.
  const std::vector<store::SeriesPtr> again = {SeriesWith(10, 5)};
  EXPECT_EQ(cache.Find("k", again, kT0), nullptr);
  EXPECT_EQ(cache.Stats().entries, 0);
}

TEST(StreamCacheTest, DropsTheEntryOnceTheRingNoLongerHoldsTheRange) {
  StreamCache cache(1000);
  store::SeriesPtr s = SeriesWith(4, 4);  // Full: holds kT0 .. kT0 + 3 s.
  Keep(&cache, "k", {s}, 100);
  EXPECT_NE(cache.Find("k", {s}, kT0), nullptr);
  s->mutable_ring().Append({kT0 + 4000, 4});             // Overwrites kT0.
  EXPECT_NE(cache.Find("k", {s}, kT0 + 1000), nullptr);  // A range from kT0 + 1 s: still held.
  EXPECT_EQ(cache.Find("k", {s}, kT0), nullptr);
  EXPECT_EQ(cache.Stats().entries, 0);
}

}  // namespace
}  // namespace promfeed::server
