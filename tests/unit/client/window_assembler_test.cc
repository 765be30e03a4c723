// WindowAssembler: rows carried across messages, windows as spans, drop/loss bookkeeping, and
// the protocol errors a broken stream must produce.
#include "client/cpp/src/window_assembler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace promfeed::client {
namespace {

namespace pb = ::promfeed::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kStep = 1000;
constexpr int64_t kT0 = 1'700'000'000'000;

StreamHeader Header(int window, int shift, int features, DType dtype = DType::kFloat64) {
  StreamHeader h;
  h.features.resize(features);
  h.window = window;
  h.shift = shift;
  h.step_ms = kStep;
  h.start_time_ms = kT0;
  h.dtype = dtype;
  return h;
}

// Rows [first, first + n); value of (row r, feature j) is r * 10 + j.
pb::RowBlock Block(int64_t first, int64_t n, int features, DType dtype = DType::kFloat64) {
  pb::RowBlock b;
  b.set_first_row_index(first);
  b.set_row_count(n);
  std::string t, v;
  for (int64_t r = first; r < first + n; ++r) {
    int64_t ts = kT0 + r * kStep;
    t.append(reinterpret_cast<const char*>(&ts), 8);
    for (int j = 0; j < features; ++j) {
      if (dtype == DType::kFloat64) {
        double x = r * 10 + j;
        v.append(reinterpret_cast<const char*>(&x), 8);
      } else {
        float x = r * 10 + j;
        v.append(reinterpret_cast<const char*>(&x), 4);
      }
    }
  }
  b.set_time_ms(t);
  b.set_values(v);
  return b;
}

void Completes(pb::RowBlock* b, int64_t first_window, int32_t count) {
  b->set_first_window_index(first_window);
  b->set_window_count(count);
}

// Every kept window k must hold rows [k*shift, k*shift + W): checks times and values.
void ExpectWindowsMatchRows(const WindowBatch& b, const StreamHeader& h) {
  for (size_t i = 0; i < b.size(); ++i) {
    const int64_t k = b.index(i);
    auto t = b.time_ms(i);
    ASSERT_EQ(t.size(), static_cast<size_t>(h.window));
    for (int r = 0; r < h.window; ++r) {
      const int64_t row = k * h.shift + r;
      EXPECT_EQ(t[r], kT0 + row * kStep) << "window " << k << " row " << r;
      for (size_t j = 0; j < h.num_features(); ++j) {
        EXPECT_EQ(b.value(i, r, j), row * 10 + j) << "window " << k << " row " << r;
      }
    }
  }
}

TEST(WindowAssemblerTest, WindowsSpanRowsCarriedAcrossMessages) {
  const StreamHeader h = Header(/*window=*/4, /*shift=*/1, /*features=*/2);
  WindowAssembler a(h);
  pb::RowBlock b0 = Block(0, 3, 2);  // 3 rows: no window complete yet
  auto r0 = a.Feed(b0);
  ASSERT_TRUE(r0.ok()) << r0.status();
  EXPECT_TRUE((*r0)->empty());
  pb::RowBlock b1 = Block(3, 3, 2);  // rows 3..5 complete windows 0..2
  Completes(&b1, 0, 3);
  auto r1 = a.Feed(b1);
  ASSERT_TRUE(r1.ok()) << r1.status();
  ASSERT_EQ((*r1)->size(), 3u);
  EXPECT_EQ((*r1)->index(0), 0);
  EXPECT_EQ((*r1)->index(2), 2);
  ExpectWindowsMatchRows(**r1, h);
  // Contiguous: the span of window 0 is W x F values in one piece.
  EXPECT_EQ((*r1)->values<double>(0).size(), 8u);
  EXPECT_EQ((*r1)->values<double>(0)[7], 3 * 10 + 1);
  // Rows that no future window needs are released: window 3 starts at row 3.
  pb::RowBlock b2 = Block(6, 1, 2);
  Completes(&b2, 3, 1);
  auto r2 = a.Feed(b2);
  ASSERT_TRUE(r2.ok()) << r2.status();
  ExpectWindowsMatchRows(**r2, h);
  EXPECT_EQ(a.held_rows(), 4u);
  EXPECT_EQ(a.rows_received(), 7);
  EXPECT_EQ(a.windows_emitted(), 4);
}

TEST(WindowAssemblerTest, ShiftGreaterThanOneAndFloat32) {
  const StreamHeader h = Header(/*window=*/3, /*shift=*/2, /*features=*/1, DType::kFloat32);
  WindowAssembler a(h);
  pb::RowBlock b = Block(0, 7, 1, DType::kFloat32);  // windows 0 (0-2), 1 (2-4), 2 (4-6)
  Completes(&b, 0, 3);
  auto r = a.Feed(b);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ((*r)->size(), 3u);
  ExpectWindowsMatchRows(**r, h);
  EXPECT_THAT((*r)->values<float>(1), ElementsAre(20.f, 30.f, 40.f));
  pb::RowBlock next = Block(7, 2, 1, DType::kFloat32);  // window 3: rows 6..8
  Completes(&next, 3, 1);
  auto r2 = a.Feed(next);
  ASSERT_TRUE(r2.ok()) << r2.status();
  ASSERT_EQ((*r2)->size(), 1u);
  ExpectWindowsMatchRows(**r2, h);
}

TEST(WindowAssemblerTest, DroppedWindowsAreCountedAndSkipped) {
  const StreamHeader h = Header(2, 1, 1);
  WindowAssembler a(h);
  pb::RowBlock b = Block(0, 5, 1);  // windows 0..3
  Completes(&b, 0, 4);
  b.add_dropped_window_indices(1);
  b.add_dropped_window_indices(2);
  b.set_dropped_windows_total(2);
  auto r = a.Feed(b);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ((*r)->size(), 2u);
  EXPECT_EQ((*r)->index(0), 0);
  EXPECT_EQ((*r)->index(1), 3);
  EXPECT_THAT((*r)->dropped(), ElementsAre(1, 2));
  ExpectWindowsMatchRows(**r, h);
  EXPECT_EQ(a.dropped_windows_total(), 2);
  EXPECT_EQ(a.windows_emitted(), 2);
}

TEST(WindowAssemblerTest, LossJumpDiscardsHeldRows) {
  const StreamHeader h = Header(3, 1, 1);
  WindowAssembler a(h);
  ASSERT_TRUE(a.Feed(Block(0, 2, 1)).ok());  // rows 0,1 held, no window yet
  // The reader fell behind: rows 2..9 are gone, windows 0..7 lost. Rows 10..12 arrive.
  pb::RowBlock b = Block(10, 3, 1);
  b.set_lost_windows(8);
  b.set_lost_windows_total(8);
  Completes(&b, 10, 1);  // window 10 = rows 10..12
  auto r = a.Feed(b);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->lost(), 8);
  ASSERT_EQ((*r)->size(), 1u);
  EXPECT_EQ((*r)->index(0), 10);
  ExpectWindowsMatchRows(**r, h);
  EXPECT_EQ(a.lost_windows_total(), 8);
}

TEST(WindowAssemblerTest, MaskFromOneBlockCoversHeldRowsAsReal) {
  const StreamHeader h = Header(2, 1, 2);
  WindowAssembler a(h);
  ASSERT_TRUE(a.Feed(Block(0, 1, 2)).ok());  // no mask: all real
  pb::RowBlock b = Block(1, 1, 2);
  b.set_mask(std::string("\x01\x00", 2));  // row 1, feature 1 missing
  Completes(&b, 0, 1);
  auto r = a.Feed(b);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ((*r)->size(), 1u);
  EXPECT_THAT((*r)->mask(0), ElementsAre(1, 1, 1, 0));
}

TEST(WindowAssemblerTest, RejectsRevisedRows) {
  WindowAssembler a(Header(2, 1, 1));
  ASSERT_TRUE(a.Feed(Block(0, 3, 1)).ok());
  auto r = a.Feed(Block(2, 1, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("revises rows"));
}

TEST(WindowAssemblerTest, RejectsFieldSizesThatDoNotMatchRowCount) {
  WindowAssembler a(Header(2, 1, 2));
  pb::RowBlock b = Block(0, 2, 2);
  b.set_row_count(3);
  auto r = a.Feed(b);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("time_ms has 16 bytes, want 3 x 8"));
  pb::RowBlock m = Block(0, 2, 2);
  m.set_mask("\x01");
  EXPECT_THAT(a.Feed(m).status().message(), HasSubstr("mask has 1 bytes"));
}

TEST(WindowAssemblerTest, RejectsWindowsOverRowsNotHeld) {
  WindowAssembler a(Header(4, 1, 1));
  pb::RowBlock b = Block(0, 3, 1);
  Completes(&b, 0, 1);  // window 0 needs rows 0..3; only 0..2 arrived
  auto r = a.Feed(b);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("claims windows 0..0"));
}

TEST(WindowAssemblerTest, RejectsDroppedIndexOutsideCompletedWindows) {
  WindowAssembler a(Header(1, 1, 1));
  pb::RowBlock b = Block(0, 2, 1);
  Completes(&b, 0, 2);
  b.add_dropped_window_indices(5);
  EXPECT_THAT(a.Feed(b).status().message(), HasSubstr("outside the completed windows 0..1"));
}

TEST(WindowAssemblerTest, HeaderRejectsWindowZero) {
  pb::WindowHeader h;
  h.set_window(0);
  EXPECT_FALSE(HeaderFromProto(h).ok());
  h.set_window(3);
  h.set_shift(0);
  h.set_dtype(pb::FLOAT64);
  auto got = HeaderFromProto(h);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->shift, 1);
  EXPECT_EQ(got->dtype, DType::kFloat64);
}

}  // namespace
}  // namespace promfeed::client
