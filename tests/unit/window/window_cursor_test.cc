#include "daemon/window/window_cursor.h"

#include <cmath>
#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/window/window_test_util.h"

namespace promfeed::window {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

store::StoreOptions Opts() {
  return {.retention_ms = 3'600'000, .interval_ms = 1000, .max_series = 100};
}

WindowSpec Spec(int64_t start, int64_t end, int32_t window = 1, int32_t shift = 1,
                Fill fill = Fill::kNanMask) {
  return {.step_ms = 1000,
          .lookback_ms = 2000,
          .window = window,
          .shift = shift,
          .fill = fill,
          .start_ms = start,
          .end_ms = end};
}

// Values of feature f over the block's rows.
std::vector<double> Column(const RowBlock& b, size_t nf, size_t f) {
  std::vector<double> out;
  for (int r = 0; r < b.rows; ++r) out.push_back(b.value(r * nf + f));
  return out;
}

// `n` features f0, f1, ... of `samples` seconds each, with gaps, jitter off the grid and stale
// markers at feature-dependent places.
std::vector<store::SeriesPtr> PutIrregularFeatures(store::SeriesStore& store, int n,
                                                   int64_t samples) {
  std::vector<store::SeriesPtr> features;
  for (int f = 0; f < n; ++f) {
    std::vector<Sample> in;
    for (int64_t i = 0; i < samples; ++i) {
      if ((i + f) % 7 == 3 || (f % 5 == 0 && i > 40 && i < 50)) continue;  // Gaps.
      const int64_t t = 1000 * i + (f * 37 + i * 11) % 900;                // Jitter.
      in.push_back({t, (i + f) % 13 == 0 ? StaleMarker() : f * 1000.0 + i});
    }
    const std::string name = "f" + std::to_string(f);
    Put(store, name, in);
    features.push_back(Get(store, name));
  }
  return features;
}

TEST(AlignTest, FloorsAndCeilsToStepIncludingNegatives) {
  EXPECT_EQ(AlignDown(12'345, 1000), 12'000);
  EXPECT_EQ(AlignUp(12'345, 1000), 13'000);
  EXPECT_EQ(AlignUp(12'000, 1000), 12'000);
  EXPECT_EQ(AlignDown(-1, 1000), -1000);
  EXPECT_EQ(AlignUp(-1, 1000), 0);
  EXPECT_EQ(AlignDown(1'700'000'000'123, 15'000), 1'699'999'995'000);
}

TEST(WindowCursorTest, GridTakesNewestSampleWithinLookback) {
  store::SeriesStore store(Opts());
  // Samples off the grid, as scrapes are: t = 10.3 s, 11.3 s, 13.9 s.
  Put(store, "a", {{10'300, 1}, {11'300, 2}, {13'900, 3}});
  WindowCursor cursor({Get(store, "a")}, Spec(10'000, 16'000));
  RowBlock b;
  ASSERT_EQ(cursor.Next(INT64_MAX, 100, &b), WindowCursor::Result::kBlock);
  EXPECT_THAT(b.time_ms, ElementsAre(10'000, 11'000, 12'000, 13'000, 14'000, 15'000, 16'000));
  // 10 s: nothing yet. 13 s: 11.3 is within (11 s, 13 s]. 16 s: 13.9 is 2.1 s old: missing.
  EXPECT_THAT(b.mask, ElementsAre(0, 1, 1, 1, 1, 1, 0));
  const auto v = Column(b, 1, 0);
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], 1);
  EXPECT_EQ(v[2], 2);
  EXPECT_EQ(v[3], 2);
  EXPECT_EQ(v[4], 3);
  EXPECT_EQ(v[5], 3);
  EXPECT_TRUE(std::isnan(v[6]));
  EXPECT_FALSE(b.all_present);
  EXPECT_EQ(cursor.Next(INT64_MAX, 100, &b), WindowCursor::Result::kEnd);
}

TEST(WindowCursorTest, SampleExactlyOnGridPointCounts) {
  store::SeriesStore store(Opts());
  Put(store, "a", {{5000, 7}});
  WindowSpec spec = Spec(5000, 7000);
  spec.lookback_ms = 2000;
  WindowCursor cursor({Get(store, "a")}, spec);
  RowBlock b;
  ASSERT_EQ(cursor.Next(INT64_MAX, 100, &b), WindowCursor::Result::kBlock);
  // (t - 2 s, t]: present at 5 s and 6 s, not at 7 s.
  EXPECT_THAT(b.mask, ElementsAre(1, 1, 0));
}

TEST(WindowCursorTest, StaleMarkerIsMissingButNaNIsAValue) {
  store::SeriesStore store(Opts());
  Put(store, "a", {{1000, 1}, {2000, StaleMarker()}, {3000, std::nan("")}});
  WindowCursor cursor({Get(store, "a")}, Spec(1000, 3000));
  RowBlock b;
  ASSERT_EQ(cursor.Next(INT64_MAX, 100, &b), WindowCursor::Result::kBlock);
  EXPECT_THAT(b.mask, ElementsAre(1, 0, 1));
  EXPECT_TRUE(std::isnan(b.value(2)));
}

TEST(WindowCursorTest, Float32BlockHoldsTheFloat64ValuesRounded) {
  store::SeriesStore store(Opts());
  // 0.1 is inexact in float32; a NaN value, a stale marker and a gap (lookback 2 s).
  Put(store, "a", {{1000, 0.1}, {2000, std::nan("")}, {3000, StaleMarker()}, {7000, 1e300}});
  Put(store, "b", {{1000, -2.5}, {2000, 3}, {3000, 4}, {4000, 5}, {7000, 6}});
  for (Fill fill : {Fill::kNanMask, Fill::kPrevious, Fill::kZero}) {
    WindowCursor c64({Get(store, "a"), Get(store, "b")}, Spec(1000, 7000, 1, 1, fill));
    WindowCursor c32({Get(store, "a"), Get(store, "b")}, Spec(1000, 7000, 1, 1, fill));
    RowBlock b64, b32;
    b32.value_type = ValueType::kFloat32;
    // Rows in blocks of 3, 3, 1: the float32 block's buffer is reused and shrinks.
    for (int block = 0; block < 3; ++block) {
      ASSERT_EQ(c64.Next(INT64_MAX, 3, &b64), WindowCursor::Result::kBlock);
      ASSERT_EQ(c32.Next(INT64_MAX, 3, &b32), WindowCursor::Result::kBlock);
      EXPECT_EQ(b32.value_type, ValueType::kFloat32);
      ASSERT_EQ(b32.values.size(), b64.value_count() * sizeof(float));
      ASSERT_EQ(b32.value_count(), b64.value_count());
      EXPECT_EQ(b32.mask, b64.mask);
      EXPECT_EQ(b32.time_ms, b64.time_ms);
      for (size_t i = 0; i < b64.value_count(); ++i) {
        const float want = static_cast<float>(b64.value(i));
        const float got = static_cast<float>(b32.value(i));
        EXPECT_EQ(std::memcmp(&want, &got, sizeof(float)), 0) << "value " << i;
      }
    }
    EXPECT_EQ(c32.Next(INT64_MAX, 3, &b32), WindowCursor::Result::kEnd);
  }
}

// 37 features (two full groups of 16 and a partial one) with gaps, jitter and stale
// markers, read in blocks of assorted sizes: every value and mask equals the definition,
// the newest sample in (t - lookback, t] (RingBuffer::Latest), filled per policy.
TEST(WindowCursorTest, ManyFeaturesMatchTheDefinition) {
  store::SeriesStore store(Opts());
  constexpr int kFeatures = 37;
  const std::vector<store::SeriesPtr> features = PutIrregularFeatures(store, kFeatures, 120);
  for (Fill fill : {Fill::kNanMask, Fill::kPrevious, Fill::kZero}) {
    WindowCursor cursor(features, Spec(5000, 115'000, 1, 1, fill));
    RowBlock b;
    b.value_type = ValueType::kFloat32;
    std::vector<double> previous(kFeatures, std::nan(""));
    int64_t row = 0;
    for (int max_rows : {1, 7, 30, 2, 100}) {
      ASSERT_EQ(cursor.Next(INT64_MAX, max_rows, &b), WindowCursor::Result::kBlock);
      ASSERT_EQ(b.first_row, row);
      for (int r = 0; r < b.rows; ++r, ++row) {
        const int64_t t = 5000 + row * 1000;
        for (int f = 0; f < kFeatures; ++f) {
          Sample s;
          const bool present = features[f]->ring().Latest(t, 2000, &s) && !IsStaleMarker(s.value);
          double want = std::nan("");
          if (present) {
            want = previous[f] = s.value;
          } else if (fill == Fill::kPrevious) {
            want = previous[f];
          } else if (fill == Fill::kZero) {
            want = 0;
          }
          const size_t i = static_cast<size_t>(r) * kFeatures + f;
          ASSERT_EQ(b.mask[i], present ? 1 : 0) << "row " << row << " feature " << f;
          const float got = static_cast<float>(b.value(i));
          if (std::isnan(want)) {
            EXPECT_TRUE(std::isnan(got)) << "row " << row << " feature " << f;
          } else {
            EXPECT_EQ(got, static_cast<float>(want)) << "row " << row << " feature " << f;
          }
        }
      }
    }
  }
}

// A block of >= WindowCursor's parallel threshold is sampled in two halves on two threads;
// the blocks must be exactly those of a cursor without spare threads.
TEST(WindowCursorTest, SpareThreadsGiveTheSameBlocks) {
  store::SeriesStore store({.retention_ms = 3'600'000, .interval_ms = 1000, .max_series = 1000});
  constexpr int kFeatures = 301;  // Halves split at feature 144; the last group is short.
  const std::vector<store::SeriesPtr> features = PutIrregularFeatures(store, kFeatures, 700);
  SpareThreads spare(1);
  for (ValueType type : {ValueType::kFloat32, ValueType::kFloat64}) {
    for (Fill fill : {Fill::kNanMask, Fill::kPrevious, Fill::kZero, Fill::kDrop}) {
      const WindowSpec spec = Spec(5000, 690'000, 10, 3, fill);
      WindowCursor alone(features, spec);
      WindowCursor shared(features, spec, &spare);
      RowBlock want, got;
      want.value_type = got.value_type = type;
      for (;;) {
        const WindowCursor::Result r = alone.Next(INT64_MAX, 256, &want);
        ASSERT_EQ(shared.Next(INT64_MAX, 256, &got), r);
        if (r != WindowCursor::Result::kBlock) break;
        ASSERT_EQ(got.first_row, want.first_row);
        ASSERT_EQ(got.rows, want.rows);
        ASSERT_EQ(got.values, want.values) << "rows from " << want.first_row;  // Bytes.
        ASSERT_EQ(got.mask, want.mask);
        ASSERT_EQ(got.all_present, want.all_present);
        ASSERT_EQ(got.first_window, want.first_window);
        ASSERT_EQ(got.window_count, want.window_count);
        ASSERT_EQ(got.dropped_windows, want.dropped_windows);
      }
    }
  }
  // Blocks of 256 rows x 301 features are over the threshold: the spare thread took part.
  EXPECT_GT(spare.shared_runs(), 0);
}

class FillTest : public ::testing::Test {
 protected:
  // Feature a has a gap at 3 s and 4 s (lookback 1 s), b is complete.
  void SetUp() override {
    Put(store_, "a", {{1000, 1}, {2000, 2}, {5000, 5}});
    Put(store_, "b", {{1000, 10}, {2000, 20}, {3000, 30}, {4000, 40}, {5000, 50}});
  }
  RowBlock Run(Fill fill, int32_t window = 1) {
    WindowSpec spec = Spec(1000, 5000, window, 1, fill);
    spec.lookback_ms = 1000;
    WindowCursor cursor({Get(store_, "a"), Get(store_, "b")}, spec);
    RowBlock b;
    EXPECT_EQ(cursor.Next(INT64_MAX, 100, &b), WindowCursor::Result::kBlock);
    dropped_total_ = cursor.dropped_total();
    return b;
  }
  store::SeriesStore store_{Opts()};
  int64_t dropped_total_ = 0;
};

TEST_F(FillTest, NanMaskMarksGaps) {
  RowBlock b = Run(Fill::kNanMask);
  auto a = Column(b, 2, 0);
  EXPECT_TRUE(std::isnan(a[2]) && std::isnan(a[3]));
  EXPECT_THAT(b.mask, ElementsAre(1, 1, 1, 1, 0, 1, 0, 1, 1, 1));
  EXPECT_THAT(Column(b, 2, 1), ElementsAre(10, 20, 30, 40, 50));
}

TEST_F(FillTest, PreviousCarriesLastValueWithMaskZero) {
  RowBlock b = Run(Fill::kPrevious);
  EXPECT_THAT(Column(b, 2, 0), ElementsAre(1, 2, 2, 2, 5));
  EXPECT_THAT(b.mask, ElementsAre(1, 1, 1, 1, 0, 1, 0, 1, 1, 1));
}

TEST_F(FillTest, ZeroFillsZero) {
  RowBlock b = Run(Fill::kZero);
  EXPECT_THAT(Column(b, 2, 0), ElementsAre(1, 2, 0, 0, 5));
}

TEST_F(FillTest, DropRemovesAndCountsWindowsWithGaps) {
  // Windows of 2 rows: [1,2] ok, [2,3] gap, [3,4] gap, [4,5] gap.
  RowBlock b = Run(Fill::kDrop, /*window=*/2);
  EXPECT_EQ(b.first_window, 0);
  EXPECT_EQ(b.window_count, 4);
  EXPECT_THAT(b.dropped_windows, ElementsAre(1, 2, 3));
  EXPECT_EQ(dropped_total_, 3);
}

TEST_F(FillTest, NoDroppedWindowsUnderOtherPolicies) {
  RowBlock b = Run(Fill::kNanMask, /*window=*/2);
  EXPECT_EQ(b.window_count, 4);
  EXPECT_THAT(b.dropped_windows, IsEmpty());
}

TEST(WindowCursorTest, WindowsAndShiftAcrossBlocks) {
  store::SeriesStore store(Opts());
  std::vector<Sample> s;
  for (int64_t t = 0; t < 20; ++t) s.push_back({t * 1000, double(t)});
  Put(store, "a", s);
  // W=4, shift=3: window k = rows [3k, 3k+4); rows 0..19 -> windows 0..5 (last ends at 18).
  WindowCursor cursor({Get(store, "a")}, Spec(0, 19'000, 4, 3));
  std::vector<std::pair<int64_t, int32_t>> completed;
  RowBlock b;
  int64_t rows = 0;
  while (cursor.Next(INT64_MAX, 5, &b) == WindowCursor::Result::kBlock) {
    EXPECT_EQ(b.first_row, rows);
    rows += b.rows;
    if (b.window_count > 0) completed.emplace_back(b.first_window, b.window_count);
  }
  EXPECT_EQ(rows, 20);
  // Blocks of 5 rows: rows 0-4 complete window 0 (ends row 3); 5-9: windows 1 (6), 2 (9);
  // 10-14: window 3 (12); 15-19: windows 4 (15), 5 (18).
  EXPECT_THAT(completed,
              ElementsAre(std::pair<int64_t, int32_t>{0, 1}, std::pair<int64_t, int32_t>{1, 2},
                          std::pair<int64_t, int32_t>{3, 1}, std::pair<int64_t, int32_t>{4, 2}));
}

TEST(WindowCursorTest, FollowEmitsOnlyCompleteRowsAndNeverRevises) {
  store::SeriesStore store(Opts());
  Put(store, "a", {{1000, 1}, {2000, 2}});
  store::SeriesPtr a = Get(store, "a");
  WindowCursor cursor({a}, Spec(1000, kFollowEnd));
  RowBlock b;
  // Newest sample at 2 s: only rows < 2 s are final.
  ASSERT_EQ(cursor.Next(CompleteThrough(store, {a}), 100, &b), WindowCursor::Result::kBlock);
  EXPECT_THAT(b.time_ms, ElementsAre(1000));
  EXPECT_EQ(cursor.Next(CompleteThrough(store, {a}), 100, &b), WindowCursor::Result::kWait);
  // A later sample makes 2 s final (and 3 s too, with 3.5 s newest).
  store.Append(SeriesLabels("a"), std::vector<Sample>{{3500, 3}});
  ASSERT_EQ(cursor.Next(CompleteThrough(store, {a}), 100, &b), WindowCursor::Result::kBlock);
  EXPECT_THAT(b.time_ms, ElementsAre(2000, 3000));
  EXPECT_THAT(Column(b, 1, 0), ElementsAre(2, 2));
  // The poll horizon alone completes rows for a series that stopped reporting.
  store.AdvanceCompleteThrough(6000);
  ASSERT_EQ(cursor.Next(CompleteThrough(store, {a}), 100, &b), WindowCursor::Result::kBlock);
  EXPECT_THAT(b.time_ms, ElementsAre(4000, 5000, 6000));
  EXPECT_THAT(b.mask, ElementsAre(1, 1, 0));
  EXPECT_EQ(cursor.Next(CompleteThrough(store, {a}), 100, &b), WindowCursor::Result::kWait);
}

TEST(CompleteThroughTest, SlowestFeatureOrPollHorizonDecides) {
  store::SeriesStore store(Opts());
  Put(store, "a", {{5000, 1}});
  Put(store, "b", {{9000, 1}});
  EXPECT_EQ(CompleteThrough(store, {Get(store, "a"), Get(store, "b")}), 4999);
  store.AdvanceCompleteThrough(7000);
  EXPECT_EQ(CompleteThrough(store, {Get(store, "a"), Get(store, "b")}), 7000);
  EXPECT_EQ(CompleteThrough(store, {Get(store, "b")}), 8999);
}

TEST(CompleteThroughTest, RegularSpacingCompletesARowWhenItsSampleArrives) {
  store::SeriesStore store(Opts());
  // Scraped every 1 s at offset 300 ms: the sample at 4.3 s is the last one in (4 s, 5 s].
  Put(store, "a", {{1300, 1}, {2300, 2}, {3300, 3}, {4300, 4}});
  Put(store, "b", {{1000, 1}, {4500, 2}});  // Irregular: only its newest sample counts.
  store::SeriesPtr a = Get(store, "a");
  // Next sample of a expected at 5.3 s, less 5%: rows up to 5.249 s are final.
  EXPECT_EQ(CompleteThrough(store, {a}), 5249);
  EXPECT_EQ(CompleteThrough(store, {a, Get(store, "b")}), 4499);
  WindowCursor cursor({a}, Spec(2000, kFollowEnd));
  RowBlock b;
  ASSERT_EQ(cursor.Next(CompleteThrough(store, {a}), 100, &b), WindowCursor::Result::kBlock);
  EXPECT_THAT(b.time_ms, ElementsAre(2000, 3000, 4000, 5000));
  EXPECT_THAT(Column(b, 1, 0), ElementsAre(1, 2, 3, 4));
  // Row 6 s waits for the sample at 5.3 s, then is final at once.
  EXPECT_EQ(cursor.Next(CompleteThrough(store, {a}), 100, &b), WindowCursor::Result::kWait);
  store.Append(SeriesLabels("a"), std::vector<Sample>{{5300, 5}});
  ASSERT_EQ(cursor.Next(CompleteThrough(store, {a}), 100, &b), WindowCursor::Result::kBlock);
  EXPECT_THAT(b.time_ms, ElementsAre(6000));
  EXPECT_THAT(Column(b, 1, 0), ElementsAre(5));
}

TEST(WindowCursorTest, SlowReaderIsToldHowManyWindowsItLost) {
  // Ring of ~10 s at 1 s spacing.
  store::SeriesStore store({.retention_ms = 10'000, .interval_ms = 1000, .max_series = 10});
  const Labels labels = SeriesLabels("a");
  for (int64_t t = 1; t <= 5; ++t) store.Append(labels, std::vector<Sample>{{t * 1000, 1}});
  store.Publish();
  store::SeriesPtr a = Get(store, "a");
  const size_t capacity = a->ring().capacity();
  WindowSpec spec = Spec(1000, kFollowEnd, /*window=*/3, /*shift=*/1);
  spec.lookback_ms = 1000;
  WindowCursor cursor({a}, spec);
  RowBlock b;
  ASSERT_EQ(cursor.Next(CompleteThrough(store, {a}), 100, &b), WindowCursor::Result::kBlock);
  // 1..5 s: the spacing is regular, so 5 s is final with its sample (next one due at 6 s).
  EXPECT_EQ(b.rows, 5);
  EXPECT_EQ(b.window_count, 3);  // Windows 0 (rows 0-2), 1 (rows 1-3) and 2 (rows 2-4).
  // The reader pauses while the ring turns over several times.
  const int64_t last = 5 + 3 * static_cast<int64_t>(capacity);
  for (int64_t t = 6; t <= last; ++t) store.Append(labels, std::vector<Sample>{{t * 1000, 1}});
  ASSERT_EQ(cursor.Next(CompleteThrough(store, {a}), 1000, &b), WindowCursor::Result::kBlock);
  EXPECT_GT(b.lost_windows, 0);
  EXPECT_GT(b.first_row, 4);  // Jumped forward.
  const int64_t oldest = a->ring().oldest_time_ms();
  EXPECT_GE(cursor.RowTime(b.first_row) - spec.lookback_ms, oldest - 1);
  // Windows resume at the first one that starts at or after the jump; none is double counted.
  EXPECT_EQ(b.first_window, (b.first_row + 0) / 1);
  EXPECT_EQ(b.lost_windows, b.first_window - 3);
  EXPECT_EQ(cursor.lost_total(), b.lost_windows);
  EXPECT_TRUE(b.all_present);
}

TEST(WindowCursorTest, LossBeyondEndIsStillReported) {
  store::SeriesStore store({.retention_ms = 5000, .interval_ms = 1000, .max_series = 10});
  const Labels labels = SeriesLabels("a");
  store.Append(labels, std::vector<Sample>{{1000, 1}});
  store.Publish();
  store::SeriesPtr a = Get(store, "a");
  WindowCursor cursor({a}, Spec(1000, 3000));
  for (int64_t t = 2; t <= 100; ++t) store.Append(labels, std::vector<Sample>{{t * 1000, 1}});
  RowBlock b;
  ASSERT_EQ(cursor.Next(INT64_MAX, 100, &b), WindowCursor::Result::kBlock);
  EXPECT_EQ(b.rows, 0);
  EXPECT_EQ(b.lost_windows, 3);
  EXPECT_EQ(cursor.Next(INT64_MAX, 100, &b), WindowCursor::Result::kEnd);
}

}  // namespace
}  // namespace promfeed::window
