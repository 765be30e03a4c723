// WindowCursor: turns the rings of a stream's feature series into grid rows and the sliding
// windows those rows complete (DESIGN.md "Windows"). One per stream; not thread-safe, but
// reads the store concurrently with ingestion without blocking it.
//
// Semantics:
//  1. Row r is at grid time start_ms + r * step_ms (start_ms is a multiple of step_ms).
//  2. A feature's value at t is its newest sample in (t - lookback_ms, t]; a stale marker
//     there, or no sample, is missing and filled per the fill policy (mask 0).
//  3. Window k spans rows [k * shift, k * shift + window) and completes with its last row.
//  4. Rows are produced once each, in order, and only when complete (t <= the completion
//     horizon passed to Next), so nothing sent is ever revised.
//  5. If a feature's ring has turned over past the cursor, the cursor jumps forward and the
//     windows that can no longer complete are reported as lost in the next block.
#ifndef PROMFEED_WINDOW_WINDOW_CURSOR_H_
#define PROMFEED_WINDOW_WINDOW_CURSOR_H_

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "daemon/model/sample.h"
#include "daemon/store/series_store.h"
#include "daemon/window/spare_threads.h"

namespace promfeed::window {

enum class Fill { kNanMask, kPrevious, kZero, kDrop };

inline constexpr int64_t kFollowEnd = std::numeric_limits<int64_t>::max();

// Floor and ceiling of t to a multiple of step (correct for negative t). REQUIRES: step > 0.
int64_t AlignDown(int64_t t, int64_t step);
int64_t AlignUp(int64_t t, int64_t step);

struct WindowSpec {
  int64_t step_ms = 1000;
  int64_t lookback_ms = 2000;
  int32_t window = 1;
  int32_t shift = 1;
  Fill fill = Fill::kNanMask;
  int64_t start_ms = 0;         // Grid time of row 0; a multiple of step_ms.
  int64_t end_ms = kFollowEnd;  // Grid time of the last row; kFollowEnd to follow forever.
};

// Element type of RowBlock::values.
enum class ValueType { kFloat64, kFloat32 };

struct RowBlock {
  int64_t first_row = 0;
  int32_t rows = 0;
  std::vector<int64_t> time_ms;                // [rows]
  ValueType value_type = ValueType::kFloat64;  // Set by the caller; kept by Next.
  // [rows x features], row-major, value_type elements in native (little-endian) byte order:
  // the bytes the wire carries, written once from the rings. A std::string so that a
  // protobuf message can take it by swap; its capacity is reused between blocks.
  std::string values;
  std::vector<uint8_t> mask;             // [rows x features]; 1 = real sample.
  bool all_present = true;               // Every mask entry is 1.
  int64_t first_window = 0;              // First window completed here (if window_count > 0).
  int32_t window_count = 0;              // Windows completed here, dropped ones included.
  std::vector<int64_t> dropped_windows;  // Fill::kDrop: completed windows with a gap.
  int64_t lost_windows = 0;              // Lost to ring turnover just before this block.

  size_t value_count() const {
    return values.size() / (value_type == ValueType::kFloat32 ? sizeof(float) : sizeof(double));
  }
  // Element i of `values` as a double.
  double value(size_t i) const {
    if (value_type == ValueType::kFloat32) {
      float f;
      std::memcpy(&f, values.data() + i * sizeof(f), sizeof(f));
      return f;
    }
    double d;
    std::memcpy(&d, values.data() + i * sizeof(d), sizeof(d));
    return d;
  }
};

// Newest grid-independent time up to which rows over `features` are final: either the
// store's poll horizon, or, for every feature, just before its newest sample (samples of one
// series arrive in time order, so nothing older can still come) or, when its spacing is
// regular (RingBuffer::regular_gap_ms), just before its next expected sample less 5%. The
// latter makes a row final as soon as its samples arrive instead of one scrape later; a
// series whose spacing shrinks by more than 5% at once could then miss its first early
// sample in one row.
int64_t CompleteThrough(const store::SeriesStore& store,
                        const std::vector<store::SeriesPtr>& features);

class WindowCursor {
 public:
  // REQUIRES: features non-empty, spec validated (step, window, shift >= 1, lookback > 0).
  // `spare`, if given (and outliving the cursor), takes half of each large block when one of
  // its threads is idle.
  WindowCursor(std::vector<store::SeriesPtr> features, WindowSpec spec,
               SpareThreads* spare = nullptr);
  WindowCursor(const WindowCursor&) = delete;
  WindowCursor& operator=(const WindowCursor&) = delete;

  enum class Result {
    kBlock,  // `out` holds 1..max_rows rows.
    kWait,   // No complete row yet: call again once the horizon advances.
    kEnd,    // Every row through spec.end_ms has been produced.
  };

  // Produces up to `max_rows` rows from the cursor with grid time <= complete_through_ms.
  // `out` is overwritten (its buffers are reused); values are written as out->value_type.
  Result Next(int64_t complete_through_ms, int max_rows, RowBlock* out);

  const WindowSpec& spec() const { return spec_; }
  const std::vector<store::SeriesPtr>& features() const { return features_; }
  int64_t next_row() const { return next_row_; }
  int64_t RowTime(int64_t row) const { return spec_.start_ms + row * spec_.step_ms; }
  int64_t dropped_total() const { return dropped_total_; }
  int64_t lost_total() const { return lost_total_; }

 private:
  // Jumps past rows whose samples a full ring no longer holds; returns windows lost.
  int64_t SkipLostRows();
  void SampleRows(int64_t first_row, int rows, RowBlock* out);
  // A block of at least this many samples is split between two threads (see SpareThreads).
  static constexpr size_t kParallelSamples = 64 * 1024;
  // Features sampled together, row by row (see SampleColumns).
  static constexpr size_t kGroup = 16;
  // A half's buffers for one group of feature columns, sampled from their rings.
  struct ColumnBuffers {
    std::vector<double> values;
    std::vector<uint8_t> found;
  };
  template <typename T>
  void SampleValues(int rows, RowBlock* out);
  template <typename T>
  bool SampleColumns(size_t f_begin, size_t f_end, int rows, RowBlock* out, ColumnBuffers* buf);
  void CompleteWindows(int64_t first_row, int rows, const std::vector<int64_t>& last_missing,
                       RowBlock* out);

  const std::vector<store::SeriesPtr> features_;
  const WindowSpec spec_;
  int64_t next_row_ = 0;
  int64_t next_window_ = 0;           // Lowest window index not yet completed or lost.
  int64_t last_missing_row_ = -1;     // Newest row produced with any missing value.
  std::vector<double> previous_;      // Fill::kPrevious: last value per feature.
  std::vector<uint64_t> ring_hints_;  // Per feature: RingBuffer::SampleGrid's hint.
  SpareThreads* const spare_;
  ColumnBuffers buffers_[2];  // One per half of the features.
  int64_t dropped_total_ = 0;
  int64_t lost_total_ = 0;
};

}  // namespace promfeed::window

#endif  // PROMFEED_WINDOW_WINDOW_CURSOR_H_
