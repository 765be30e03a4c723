#include "daemon/store/ring_buffer.h"

#include <atomic>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace promfeed::store {
namespace {

using ::testing::ElementsAre;

std::vector<Sample> ReadAll(const RingBuffer& ring) {
  std::vector<Sample> out;
  ring.Read(INT64_MIN, INT64_MAX, &out);
  return out;
}

TEST(RingBufferTest, StartsEmpty) {
  RingBuffer ring(4);
  EXPECT_EQ(ring.size(), 0u);
  EXPECT_EQ(ring.oldest_time_ms(), INT64_MIN);
  EXPECT_EQ(ring.newest_time_ms(), INT64_MIN);
  EXPECT_TRUE(ReadAll(ring).empty());
  Sample s;
  EXPECT_FALSE(ring.Latest(100, 1000, &s));
}

TEST(RingBufferTest, OverwritesOldestWhenFull) {
  RingBuffer ring(3);
  for (int64_t t = 1; t <= 5; ++t) ASSERT_TRUE(ring.Append({t * 10, double(t)}));
  EXPECT_EQ(ring.size(), 3u);
  EXPECT_EQ(ring.oldest_time_ms(), 30);
  EXPECT_EQ(ring.newest_time_ms(), 50);
  EXPECT_THAT(ReadAll(ring), ElementsAre(Sample{30, 3}, Sample{40, 4}, Sample{50, 5}));
}

TEST(RingBufferTest, WrapsAroundManyTimesKeepingOrder) {
  RingBuffer ring(7);
  for (int64_t t = 1; t <= 1000; ++t) ASSERT_TRUE(ring.Append({t, double(t) * 2}));
  std::vector<Sample> all = ReadAll(ring);
  ASSERT_EQ(all.size(), 7u);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].time_ms, 994 + int64_t(i));
    EXPECT_EQ(all[i].value, double(all[i].time_ms) * 2);
  }
}

TEST(RingBufferTest, RejectsOlderOrEqualTimestamps) {
  RingBuffer ring(4);
  EXPECT_TRUE(ring.Append({100, 1}));
  EXPECT_FALSE(ring.Append({100, 2}));
  EXPECT_FALSE(ring.Append({50, 3}));
  EXPECT_THAT(ReadAll(ring), ElementsAre(Sample{100, 1}));
}

TEST(RingBufferTest, RegularGapNeedsThreeGapsWithin5Percent) {
  RingBuffer ring(8);
  for (int64_t t : {0, 1000, 2000}) ring.Append({t, 0});
  EXPECT_EQ(ring.regular_gap_ms(), 0);  // Two gaps only.
  ring.Append({3000, 0});
  EXPECT_EQ(ring.regular_gap_ms(), 1000);
  ring.Append({3960, 0});  // 4% early: still regular, and the smaller gap counts.
  EXPECT_EQ(ring.regular_gap_ms(), 960);
  ring.Append({5500, 0});  // An outlier resets the run...
  EXPECT_EQ(ring.regular_gap_ms(), 0);
  ring.Append({7040, 0});
  EXPECT_EQ(ring.regular_gap_ms(), 0);
  ring.Append({8580, 0});  // ...until three gaps agree again.
  EXPECT_EQ(ring.regular_gap_ms(), 1540);
  EXPECT_FALSE(ring.Append({8580, 0}));  // A rejected sample changes nothing.
  EXPECT_EQ(ring.regular_gap_ms(), 1540);
}

TEST(RingBufferTest, ReadSelectsInclusiveTimeRange) {
  RingBuffer ring(16);
  for (int64_t t = 10; t <= 100; t += 10) ring.Append({t, double(t)});
  std::vector<Sample> out;
  ring.Read(25, 50, &out);
  EXPECT_THAT(out, ElementsAre(Sample{30, 30}, Sample{40, 40}, Sample{50, 50}));
  out.clear();
  ring.Read(30, 30, &out);
  EXPECT_THAT(out, ElementsAre(Sample{30, 30}));
  out.clear();
  ring.Read(101, 200, &out);
  EXPECT_TRUE(out.empty());
  // Appends to existing contents.
  out.assign({{1, 1}});
  ring.Read(100, 100, &out);
  EXPECT_THAT(out, ElementsAre(Sample{1, 1}, Sample{100, 100}));
}

// SampleGrid's answer computed the plain way: row r's sample is the newest Read returns in
// (t - lookback, t].
void SampleGridByRead(const RingBuffer& ring, const RingBuffer::Grid& g,
                      std::vector<double>* values, std::vector<uint8_t>* found) {
  values->assign(g.rows, 0);
  found->assign(g.rows, 0);
  for (int r = 0; r < g.rows; ++r) {
    const int64_t t = g.first_ms + r * g.step_ms;
    std::vector<Sample> in;
    ring.Read(t - g.lookback_ms + 1, t, &in);
    if (!in.empty()) {
      (*values)[r] = in.back().value;
      (*found)[r] = 1;
    }
  }
}

// Checks SampleGrid against SampleGridByRead (values only where found).
void ExpectGridEqualsRead(const RingBuffer& ring, const RingBuffer::Grid& g, uint64_t* hint,
                          const std::string& what) {
  std::vector<double> want_v, got_v(g.rows, -1);
  std::vector<uint8_t> want_f, got_f(g.rows, 9);
  SampleGridByRead(ring, g, &want_v, &want_f);
  ring.SampleGrid(g, got_v.data(), got_f.data(), hint);
  for (int r = 0; r < g.rows; ++r) {
    ASSERT_EQ(got_f[r], want_f[r]) << what << " row " << r;
    if (want_f[r] != 0) {
      ASSERT_EQ(got_v[r], want_v[r]) << what << " row " << r;
    }
  }
}

TEST(RingBufferTest, SampleGridIsTheNewestSampleInEachRowsLookback) {
  RingBuffer ring(16);
  for (int64_t t : {1000, 2000, 2500, 4000, 7000}) ring.Append({t, double(t) / 1000});
  std::vector<double> v(8);
  std::vector<uint8_t> found(8);
  uint64_t hint = 0;
  // Rows at 1000, 2000, ..., 8000 with a lookback of 1500: (t - 1500, t].
  ring.SampleGrid({.first_ms = 1000, .step_ms = 1000, .rows = 8, .lookback_ms = 1500}, v.data(),
                  found.data(), &hint);
  EXPECT_THAT(found, ElementsAre(1, 1, 1, 1, 1, 0, 1, 1));
  EXPECT_EQ(v[0], 1);    // Exactly at the row time.
  EXPECT_EQ(v[1], 2);    // 2000.
  EXPECT_EQ(v[2], 2.5);  // 2500 is newer than 2000 and within (1500, 3000].
  EXPECT_EQ(v[3], 4);
  EXPECT_EQ(v[4], 4);  // 4000 is within (3500, 5000]; 6000's (4500, 6000] holds nothing.
  EXPECT_EQ(v[6], 7);
  EXPECT_EQ(v[7], 7);  // 7000 is within (6500, 8000].
}

TEST(RingBufferTest, SampleGridEqualsReadForAnyGridAndHint) {
  RingBuffer ring(50);  // Wrapped: holds samples 71..120 at t = 10 * n, jittered.
  for (int64_t n = 1; n <= 120; ++n) ring.Append({10 * n + (n % 3), double(n)});
  for (int64_t first = 600; first <= 1250; first += 7) {
    for (int64_t step : {5, 10, 13, 40}) {
      for (int64_t lookback : {1, 10, 25, 100}) {
        const RingBuffer::Grid g{
            .first_ms = first, .step_ms = step, .rows = 17, .lookback_ms = lookback};
        // Hints below, at and above the answer, past the end.
        for (uint64_t hint : {0ul, 70ul, 100ul, 119ul, 120ul, 500ul}) {
          uint64_t h = hint;
          ExpectGridEqualsRead(ring, g, &h,
                               "first " + std::to_string(first) + " step " + std::to_string(step) +
                                   " lookback " + std::to_string(lookback) + " hint " +
                                   std::to_string(hint));
        }
      }
    }
  }
  // Grids that continue each other, as a window cursor samples them, chain through the hint.
  uint64_t h = 0;
  for (int64_t first = 700; first <= 1200; first += 50) {
    ExpectGridEqualsRead(ring, {.first_ms = first, .step_ms = 10, .rows = 5, .lookback_ms = 20}, &h,
                         "chained from " + std::to_string(first));
  }
}

TEST(RingBufferTest, PrefetchStaysInsideTheRingAndChangesNothing) {
  RingBuffer ring(10);
  for (int64_t t = 1; t <= 25; ++t) ring.Append({t, double(t)});
  const std::vector<Sample> before = ReadAll(ring);
  // Any start (wrapped, past the end) and any count (ASan checks the bounds).
  for (uint64_t from : {0ul, 7ul, 9ul, 24ul, 1000ul}) {
    for (size_t count : {0ul, 1ul, 5ul, 10ul, 11ul, 100ul}) ring.Prefetch(from, count);
  }
  EXPECT_EQ(ReadAll(ring), before);
}

TEST(RingBufferTest, LatestHonoursLookbackLeftOpen) {
  RingBuffer ring(8);
  ring.Append({1000, 1});
  ring.Append({2000, 2});
  Sample s;
  ASSERT_TRUE(ring.Latest(2500, 1000, &s));
  EXPECT_EQ(s, (Sample{2000, 2}));
  ASSERT_TRUE(ring.Latest(2000, 1000, &s));
  EXPECT_EQ(s.time_ms, 2000);
  // (t - lookback, t]: a sample exactly lookback old is outside.
  EXPECT_FALSE(ring.Latest(3000, 1000, &s));
  ASSERT_TRUE(ring.Latest(2999, 1000, &s));
  EXPECT_FALSE(ring.Latest(999, 5000, &s));
}

TEST(RingBufferTest, KeepsStaleMarkerBitsDistinctFromNaN) {
  RingBuffer ring(4);
  ring.Append({1, StaleMarker()});
  ring.Append({2, std::nan("")});
  std::vector<Sample> all = ReadAll(ring);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_TRUE(IsStaleMarker(all[0].value));
  EXPECT_TRUE(std::isnan(all[1].value));
  EXPECT_FALSE(IsStaleMarker(all[1].value));
}

// One writer, several readers: every sample a reader gets must be one the writer wrote
// (value == 2 * time) and each read must be a contiguous, increasing run.
TEST(RingBufferTest, ConcurrentReadersNeverSeeTornOrOverwrittenSamples) {
  RingBuffer ring(64);
  constexpr int64_t kSamples = 200'000;
  constexpr int kReaders = 3;
  // A full ring before the readers start, and the writer waits for every reader's first read,
  // so the reads really overlap the writes.
  for (int64_t t = 1; t <= 64; ++t) ring.Append({t, double(t) * 2});
  std::atomic<bool> done{false};
  std::atomic<int> started{0};
  std::atomic<int64_t> checked{0};
  std::atomic<int64_t> grid_rows{0};  // Rows SampleGrid found a sample for.
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&] {
      bool first = true;
      std::vector<Sample> out;
      Sample latest;
      std::vector<double> grid_values(72);
      std::vector<uint8_t> grid_found(72);
      uint64_t grid_hint = 0;
      while (!done.load(std::memory_order_acquire)) {
        out.clear();
        ring.Read(INT64_MIN, INT64_MAX, &out);
        for (size_t i = 0; i < out.size(); ++i) {
          ASSERT_EQ(out[i].value, double(out[i].time_ms) * 2);
          if (i > 0) {
            ASSERT_EQ(out[i].time_ms, out[i - 1].time_ms + 1);
          }
        }
        ASSERT_LE(out.size(), 64u);
        // Rows one apart over the held span: a found row's sample has value == 2 * time
        // and time in (t - 3, t], so its value is in (2 * (t - 3), 2 * t].
        const int64_t newest = ring.newest_time_ms();
        const RingBuffer::Grid g{
            .first_ms = newest - 70, .step_ms = 1, .rows = 72, .lookback_ms = 3};
        ring.SampleGrid(g, grid_values.data(), grid_found.data(), &grid_hint);
        for (int r = 0; r < g.rows; ++r) {
          if (grid_found[r] == 0) continue;
          grid_rows.fetch_add(1, std::memory_order_relaxed);
          const double t = double(g.first_ms + r);
          ASSERT_GT(grid_values[r], 2 * (t - 3));
          ASSERT_LE(grid_values[r], 2 * t);
          ASSERT_EQ(std::fmod(grid_values[r], 2), 0);
        }
        if (ring.Latest(INT64_MAX / 2, INT64_MAX / 2, &latest)) {
          ASSERT_EQ(latest.value, double(latest.time_ms) * 2);
        }
        checked.fetch_add(int64_t(out.size()), std::memory_order_relaxed);
        if (first) {
          first = false;
          started.fetch_add(1);
        }
      }
    });
  }
  while (started.load() < kReaders) std::this_thread::yield();
  for (int64_t t = 65; t <= kSamples; ++t) ring.Append({t, double(t) * 2});
  done.store(true, std::memory_order_release);
  for (auto& t : readers) t.join();
  EXPECT_GT(checked.load(), 0);
  EXPECT_GT(grid_rows.load(), 0);
  EXPECT_EQ(ring.newest_time_ms(), kSamples);
}

}  // namespace
}  // namespace promfeed::store
