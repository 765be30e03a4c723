#include "daemon/window/window_cursor.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace promfeed::window {

namespace {
int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int64_t CeilDiv(int64_t a, int64_t b) { return -FloorDiv(-a, b); }

// Empties a block but keeps its buffers' capacity and its value type.
void ClearBlock(RowBlock* b) {
  b->first_row = 0;
  b->rows = 0;
  b->time_ms.clear();
  b->values.clear();
  b->mask.clear();
  b->all_present = true;
  b->first_window = 0;
  b->window_count = 0;
  b->dropped_windows.clear();
  b->lost_windows = 0;
}
}  // namespace

int64_t AlignDown(int64_t t, int64_t step) { return FloorDiv(t, step) * step; }
int64_t AlignUp(int64_t t, int64_t step) { return CeilDiv(t, step) * step; }

int64_t CompleteThrough(const store::SeriesStore& store,
                        const std::vector<store::SeriesPtr>& features) {
  int64_t by_series = features.empty() ? INT64_MIN : INT64_MAX;
  for (const store::SeriesPtr& f : features) {
    const store::RingBuffer& ring = f->ring();
    const int64_t newest = ring.newest_time_ms();  // Load before the gap (see RingBuffer).
    if (newest == INT64_MIN) return store.complete_through_ms();
    // Nothing older than the newest sample can still come; with a regular spacing, nothing
    // before the next expected sample either (less 5% for scrape jitter).
    const int64_t gap = ring.regular_gap_ms();
    by_series = std::min(by_series, newest - 1 + (gap > 0 ? gap - gap / 20 : 0));
  }
  return std::max(store.complete_through_ms(), by_series);
}

WindowCursor::WindowCursor(std::vector<store::SeriesPtr> features, WindowSpec spec,
                           SpareThreads* spare)
    : features_(std::move(features)),
      spec_(spec),
      previous_(features_.size(), std::nan("")),
      ring_hints_(features_.size(), 0),
      spare_(spare) {}

int64_t WindowCursor::SkipLostRows() {
  const int64_t needed_from = RowTime(next_row_) - spec_.lookback_ms + 1;
  int64_t resume_from = needed_from;
  for (const store::SeriesPtr& f : features_) {
    const store::RingBuffer& ring = f->ring();
    if (ring.size() < ring.capacity()) continue;  // Holds everything since creation.
    const int64_t oldest = ring.oldest_time_ms();
    if (oldest <= needed_from) continue;
    // Resume a sixteenth of the ring's span past its oldest sample, so that the rows we
    // resume at are not overwritten again before they are read.
    const int64_t margin = (ring.newest_time_ms() - oldest) / 16;
    resume_from = std::max(resume_from, oldest + margin);
  }
  if (resume_from == needed_from) return 0;
  const int64_t resume_time = AlignUp(resume_from + spec_.lookback_ms - 1, spec_.step_ms);
  next_row_ = (resume_time - spec_.start_ms) / spec_.step_ms;
  int64_t first_intact_window = CeilDiv(next_row_, spec_.shift);
  if (spec_.end_ms != kFollowEnd) {
    // Windows past the end were never going to be sent: they are not lost.
    const int64_t end_row = (spec_.end_ms - spec_.start_ms) / spec_.step_ms;
    const int64_t windows_total =
        std::max<int64_t>(0, FloorDiv(end_row - spec_.window + 1, spec_.shift) + 1);
    first_intact_window = std::min(first_intact_window, windows_total);
  }
  const int64_t lost = std::max<int64_t>(0, first_intact_window - next_window_);
  next_window_ = std::max(next_window_, first_intact_window);
  return lost;
}

WindowCursor::Result WindowCursor::Next(int64_t complete_through_ms, int max_rows, RowBlock* out) {
  const int64_t lost = SkipLostRows();
  const int64_t first_time = RowTime(next_row_);
  if (first_time > spec_.end_ms) {
    // A loss right before the end still has to be told.
    if (lost == 0) return Result::kEnd;
  }
  const int64_t last_time = std::min(spec_.end_ms, AlignDown(complete_through_ms, spec_.step_ms));
  if (last_time < first_time) {
    if (lost > 0) {
      // Report the loss now, in an empty block, rather than holding it back.
      ClearBlock(out);
      out->first_row = next_row_;
      out->lost_windows = lost;
      lost_total_ += lost;
      return Result::kBlock;
    }
    return first_time > spec_.end_ms ? Result::kEnd : Result::kWait;
  }
  const int rows =
      static_cast<int>(std::min<int64_t>(max_rows, (last_time - first_time) / spec_.step_ms + 1));
  SampleRows(next_row_, rows, out);
  out->lost_windows = lost;
  lost_total_ += lost;
  next_row_ += rows;
  return Result::kBlock;
}

void WindowCursor::SampleRows(int64_t first_row, int rows, RowBlock* out) {
  const size_t nf = features_.size();
  out->first_row = first_row;
  out->rows = rows;
  out->time_ms.resize(rows);
  out->mask.resize(static_cast<size_t>(rows) * nf);
  out->all_present = true;
  out->dropped_windows.clear();
  for (int r = 0; r < rows; ++r) out->time_ms[r] = RowTime(first_row + r);
  if (out->value_type == ValueType::kFloat32) {
    SampleValues<float>(rows, out);
  } else {
    SampleValues<double>(rows, out);
  }

  // Newest row with a gap at or before each row, for the DROP policy.
  std::vector<int64_t> last_missing(rows);
  int64_t missing = last_missing_row_;
  for (int r = 0; r < rows; ++r) {
    const uint8_t* m = out->mask.data() + static_cast<size_t>(r) * nf;
    // (A block without gaps needs no look at its mask.)
    if (!out->all_present && std::find(m, m + nf, 0) != m + nf) missing = first_row + r;
    last_missing[r] = missing;
  }
  last_missing_row_ = missing;
  CompleteWindows(first_row, rows, last_missing, out);
}

// Fills out->values (as T) and out->mask for the rows in out->time_ms. A large block is
// split in two halves of features, sampled at once on this thread and, if one is idle, a
// spare thread (the halves share no state: each feature has its own ring hint and previous
// value, and each half writes its own columns).
template <typename T>
void WindowCursor::SampleValues(int rows, RowBlock* out) {
  const size_t nf = features_.size();
  out->values.resize(static_cast<size_t>(rows) * nf * sizeof(T));
  // Near the middle, at a whole group of features (see SampleColumns).
  const size_t half = (nf / 2 + kGroup / 2) / kGroup * kGroup;
  if (spare_ == nullptr || half == 0 || half >= nf ||
      static_cast<size_t>(rows) * nf < kParallelSamples) {
    out->all_present = SampleColumns<T>(0, nf, rows, out, &buffers_[0]);
    return;
  }
  bool present[2];
  spare_->Run([&] { present[0] = SampleColumns<T>(0, half, rows, out, &buffers_[0]); },
              [&] { present[1] = SampleColumns<T>(half, nf, rows, out, &buffers_[1]); });
  out->all_present = present[0] && present[1];
}

// Fills features [f_begin, f_end) of out->values and out->mask; returns whether every value
// there is present. Features go in groups of kGroup: each feature's column of rows is sampled
// from its ring into a small buffer (sequential reads), then the group is written row by
// row, so that each row's writes fill one cache line of values and mask instead of touching
// a line (and a page) per sample.
template <typename T>
bool WindowCursor::SampleColumns(size_t f_begin, size_t f_end, int rows, RowBlock* out,
                                 ColumnBuffers* buf) {
  constexpr int kPrefetchRows = 8;
  const size_t nf = features_.size();
  const size_t column = static_cast<size_t>(rows);
  buf->values.resize(kGroup * column);
  buf->found.resize(kGroup * column);
  char* const values = out->values.data();
  uint8_t* const mask = out->mask.data();
  const store::RingBuffer::Grid grid{.first_ms = out->time_ms[0],
                                     .step_ms = spec_.step_ms,
                                     .rows = rows,
                                     .lookback_ms = spec_.lookback_ms};
  // Samples a column reads at one per step (the lookback's included).
  const size_t prefetch = column + static_cast<size_t>(spec_.lookback_ms / spec_.step_ms) + 1;
  features_[f_begin]->ring().Prefetch(ring_hints_[f_begin], prefetch);
  bool all_present = true;
  for (size_t f0 = f_begin; f0 < f_end; f0 += kGroup) {
    const size_t g = std::min(kGroup, f_end - f0);
    for (size_t j = 0; j < g; ++j) {
      // The next feature's column is on its way while this one is read.
      if (f0 + j + 1 < f_end) {
        features_[f0 + j + 1]->ring().Prefetch(ring_hints_[f0 + j + 1], prefetch);
      }
      features_[f0 + j]->ring().SampleGrid(grid, &buf->values[j * column], &buf->found[j * column],
                                           &ring_hints_[f0 + j]);
    }
    for (int r = 0; r < rows; ++r) {
      const size_t row = static_cast<size_t>(r) * nf + f0;
      if (r + kPrefetchRows < rows) {
        // Rows are nf elements apart, too far for the hardware prefetcher: ask for the
        // lines this group writes kPrefetchRows rows ahead (the first and last element).
        const size_t ahead = row + kPrefetchRows * nf;
        __builtin_prefetch(values + ahead * sizeof(T), 1);
        __builtin_prefetch(values + (ahead + g) * sizeof(T) - 1, 1);
        __builtin_prefetch(mask + ahead, 1);
      }
      for (size_t j = 0; j < g; ++j) {
        double v = buf->values[j * column + r];
        const bool present = buf->found[j * column + r] != 0 && !IsStaleMarker(v);
        if (present) {
          previous_[f0 + j] = v;
        } else {
          switch (spec_.fill) {
            case Fill::kPrevious:
              v = previous_[f0 + j];
              break;
            case Fill::kZero:
              v = 0;
              break;
            case Fill::kNanMask:
            case Fill::kDrop:
              v = std::nan("");
              break;
          }
          all_present = false;
        }
        const T tv = static_cast<T>(v);  // float32: the same rounding the wire always had.
        std::memcpy(values + (row + j) * sizeof(T), &tv, sizeof(T));
        mask[row + j] = present ? 1 : 0;
      }
    }
  }
  return all_present;
}

void WindowCursor::CompleteWindows(int64_t first_row, int rows,
                                   const std::vector<int64_t>& last_missing, RowBlock* out) {
  const int64_t w = spec_.window;
  const int64_t shift = spec_.shift;
  // Window k ends at row k * shift + w - 1; find those ending inside this block.
  const int64_t k_lo = std::max(next_window_, CeilDiv(first_row - w + 1, shift));
  const int64_t k_hi = FloorDiv(first_row + rows - w, shift);
  out->first_window = k_lo;
  out->window_count = 0;
  if (k_hi < k_lo) return;
  out->window_count = static_cast<int32_t>(k_hi - k_lo + 1);
  if (spec_.fill == Fill::kDrop) {
    for (int64_t k = k_lo; k <= k_hi; ++k) {
      const int64_t end_row = k * shift + w - 1;
      if (last_missing[end_row - first_row] >= k * shift) out->dropped_windows.push_back(k);
    }
    dropped_total_ += static_cast<int64_t>(out->dropped_windows.size());
  }
  next_window_ = k_hi + 1;
}

}  // namespace promfeed::window
