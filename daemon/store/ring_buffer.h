// RingBuffer: the newest `capacity` samples of one series, oldest overwritten first.
// Thread-safety: one writer (Append) and any number of concurrent readers (Read*); readers
// never block or slow the writer, and never see a torn or overwritten sample.
//
// Invariants:
//  1. Samples are stored in strictly increasing time order.
//  2. Sample number n (counting from 0 since creation) lives in slot n % capacity.
//  3. published_ = samples whose slots are fully written; begun_ = published_ or
//     published_ + 1 while the writer is overwriting slot published_ % capacity.
//  4. Sample n is readable iff begun_ - capacity <= n < published_.
#ifndef PROMFEED_STORE_RING_BUFFER_H_
#define PROMFEED_STORE_RING_BUFFER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "daemon/model/sample.h"

namespace promfeed::store {

class RingBuffer {
 public:
  // REQUIRES: capacity >= 1.
  explicit RingBuffer(size_t capacity);
  RingBuffer(const RingBuffer&) = delete;
  RingBuffer& operator=(const RingBuffer&) = delete;

  // Writer only. Appends `s` if it is newer than the newest held sample; returns false
  // (and stores nothing) for an older or equal timestamp.
  bool Append(Sample s);

  // Appends to `out`, in time order, the held samples with from_ms <= time_ms <= to_ms.
  void Read(int64_t from_ms, int64_t to_ms, std::vector<Sample>* out) const;

  // A time grid: rows at first_ms + r * step_ms for r < rows; a row's sample is the newest
  // with row time - lookback_ms < time_ms <= row time.
  struct Grid {
    int64_t first_ms = 0;
    int64_t step_ms = 1;
    int rows = 0;
    int64_t lookback_ms = 1;
  };
  // Samples the ring on `grid` (an as-of join) straight from the slots, without copying
  // them: values[r] = the value of row r's sample and found[r] = 1, or found[r] = 0 (values[r]
  // unspecified) when there is none. `hint` is where the search for row 0's sample starts
  // (any value is correct; 0 at first); it is set so that sampling the grid that continues
  // this one (first_ms + rows * step_ms) skips the binary search, whose probes miss the cache.
  void SampleGrid(const Grid& grid, double* values, uint8_t* found, uint64_t* hint) const;

  // Starts loading the slots of samples n, n + 1, ... n + count - 1 (e.g. from a SampleGrid
  // hint; up to the end of the slot array) into the CPU cache. Changes nothing else.
  void Prefetch(uint64_t n, size_t count) const;

  // Newest held sample with time_ms <= t_ms and time_ms > t_ms - lookback_ms, if any.
  bool Latest(int64_t t_ms, int64_t lookback_ms, Sample* out) const;

  size_t capacity() const { return capacity_; }
  size_t size() const;
  // Times of the oldest / newest held samples; INT64_MIN / INT64_MIN when empty.
  int64_t oldest_time_ms() const;
  int64_t newest_time_ms() const { return newest_.load(std::memory_order_acquire); }
  // The spacing of the newest samples if it has been regular (the last three gaps within
  // 5% of each other, as with a scraped target), else 0. The next sample is then expected
  // no earlier than newest_time_ms() + regular_gap_ms() - 5%; see window::CompleteThrough.
  int64_t regular_gap_ms() const { return regular_gap_.load(std::memory_order_acquire); }
  size_t bytes() const { return capacity_ * sizeof(Slot) + sizeof(*this); }

 private:
  struct Slot {
    std::atomic<int64_t> time_ms{0};
    std::atomic<double> value{0};
  };

  // Loads sample n; returns false if it was (or may have been) overwritten meanwhile.
  bool Load(uint64_t n, Sample* out) const;
  // First sample number still readable, given the current counters.
  uint64_t FirstReadable() const;
  // Smallest readable sample number whose time >= t_ms, searching [lo, hi).
  uint64_t LowerBound(uint64_t lo, uint64_t hi, int64_t t_ms) const;
  // The same, trying `guess` and the sample after it first.
  uint64_t LowerBoundNear(uint64_t lo, uint64_t hi, uint64_t guess, int64_t t_ms) const;
  // Writer only: updates regular_gap_ with the gap before a new sample (0 for the first).
  void TrackGap(int64_t gap);

  const size_t capacity_;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<uint64_t> begun_{0};
  std::atomic<uint64_t> published_{0};
  std::atomic<int64_t> newest_{INT64_MIN};
  std::atomic<int64_t> regular_gap_{0};
  // Writer only: the previous gap and how many gaps in a row matched it.
  int64_t last_gap_ = 0;
  int regular_run_ = 0;
};

}  // namespace promfeed::store

#endif  // PROMFEED_STORE_RING_BUFFER_H_
