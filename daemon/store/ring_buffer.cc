#include "daemon/store/ring_buffer.h"

#include <algorithm>
#include <cstdlib>

namespace promfeed::store {

// Memory ordering follows the seqlock pattern (Boehm, "Can Seqlocks Get Along with
// Programming Language Memory Models?"): the writer bumps begun_, issues a release fence,
// writes the slot, then publishes; a reader loads slots, issues an acquire fence and re-reads
// begun_. If a load saw the writer's new slot value, the fences make the begun_ bump visible,
// so the overwritten sample is discarded rather than returned.

RingBuffer::RingBuffer(size_t capacity)
    : capacity_(std::max<size_t>(capacity, 1)), slots_(new Slot[capacity_]) {}

bool RingBuffer::Append(Sample s) {
  const int64_t newest = newest_.load(std::memory_order_relaxed);
  if (s.time_ms <= newest) return false;
  TrackGap(newest == INT64_MIN ? 0 : s.time_ms - newest);
  const uint64_t n = published_.load(std::memory_order_relaxed);
  begun_.store(n + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  Slot& slot = slots_[n % capacity_];
  slot.time_ms.store(s.time_ms, std::memory_order_relaxed);
  slot.value.store(s.value, std::memory_order_relaxed);
  published_.store(n + 1, std::memory_order_release);
  newest_.store(s.time_ms, std::memory_order_release);
  return true;
}

void RingBuffer::TrackGap(int64_t gap) {
  const bool same = gap > 0 && std::abs(gap - last_gap_) <= last_gap_ / 20;
  regular_run_ = same ? regular_run_ + 1 : 0;
  // Published before newest_ (release), so a reader that sees the new newest sample sees a
  // gap at least as recent.
  regular_gap_.store(regular_run_ >= 2 ? std::min(gap, last_gap_) : 0, std::memory_order_release);
  last_gap_ = gap;
}

uint64_t RingBuffer::FirstReadable() const {
  const uint64_t begun = begun_.load(std::memory_order_acquire);
  return begun > capacity_ ? begun - capacity_ : 0;
}

bool RingBuffer::Load(uint64_t n, Sample* out) const {
  const Slot& slot = slots_[n % capacity_];
  out->time_ms = slot.time_ms.load(std::memory_order_relaxed);
  out->value = slot.value.load(std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_acquire);
  return n >= FirstReadable();
}

uint64_t RingBuffer::LowerBound(uint64_t lo, uint64_t hi, int64_t t_ms) const {
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    Sample s;
    // An overwritten probe means everything up to it is gone: search above it.
    if (!Load(mid, &s) || s.time_ms < t_ms) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

uint64_t RingBuffer::LowerBoundNear(uint64_t lo, uint64_t hi, uint64_t guess, int64_t t_ms) const {
  guess = std::clamp(guess, lo, hi);
  Sample s;
  // Is the answer at or after the guess? (An overwritten sample counts as older than t_ms.)
  if (guess > lo) {
    if (Load(guess - 1, &s) && s.time_ms >= t_ms) return LowerBound(lo, guess - 1, t_ms);
    lo = guess;
  }
  // Try the guess and the sample after it before searching the rest.
  for (int i = 0; i < 2 && lo < hi; ++i, ++lo) {
    if (Load(lo, &s) && s.time_ms >= t_ms) return lo;
  }
  return LowerBound(lo, hi, t_ms);
}

void RingBuffer::Read(int64_t from_ms, int64_t to_ms, std::vector<Sample>* out) const {
  if (from_ms > to_ms) return;
  const uint64_t published = published_.load(std::memory_order_acquire);
  const uint64_t first = LowerBound(FirstReadable(), published, from_ms);
  const size_t base = out->size();
  // One division for the start, then a wrapping index (a division per sample costs more
  // than the copy).
  size_t i = first % capacity_;
  for (uint64_t n = first; n < published; ++n) {
    const Slot& slot = slots_[i];
    if (++i == capacity_) i = 0;
    const int64_t t = slot.time_ms.load(std::memory_order_relaxed);
    if (t > to_ms) break;
    out->push_back({t, slot.value.load(std::memory_order_relaxed)});
  }
  // Drop whatever the writer overwrote while we copied (always a prefix).
  std::atomic_thread_fence(std::memory_order_acquire);
  const uint64_t readable = FirstReadable();
  if (readable > first) {
    const size_t lost = std::min<uint64_t>(readable - first, out->size() - base);
    out->erase(out->begin() + base, out->begin() + base + lost);
  }
}

void RingBuffer::SampleGrid(const Grid& grid, double* values, uint8_t* found,
                            uint64_t* hint) const {
  for (;;) {
    const uint64_t published = published_.load(std::memory_order_acquire);
    // The oldest sample that can be row 0's.
    const uint64_t first =
        LowerBoundNear(FirstReadable(), published, *hint, grid.first_ms - grid.lookback_ms + 1);
    uint64_t n = first;            // The first sample newer than the current row.
    size_t i = first % capacity_;  // Its slot.
    auto time_of_n = [&] {
      return n < published ? slots_[i].time_ms.load(std::memory_order_relaxed) : INT64_MAX;
    };
    int64_t next_time = time_of_n();
    int64_t time = INT64_MIN;  // The newest sample at or before the row: time and value.
    double value = 0;
    for (int r = 0; r < grid.rows; ++r) {
      const int64_t row_time = grid.first_ms + r * grid.step_ms;
      while (next_time <= row_time) {
        time = next_time;
        value = slots_[i].value.load(std::memory_order_relaxed);
        ++n;
        if (++i == capacity_) i = 0;
        next_time = time_of_n();
      }
      values[r] = value;
      found[r] = time > row_time - grid.lookback_ms ? 1 : 0;
    }
    // Every slot read holds a sample numbered >= first; if the writer has begun to
    // overwrite any of them, read again from what is still held (Load's check, once).
    std::atomic_thread_fence(std::memory_order_acquire);
    if (FirstReadable() <= first) {
      // The next grid's row 0 needs about the sample of this grid's last row.
      *hint = n > first ? n - 1 : first;
      return;
    }
  }
}

void RingBuffer::Prefetch(uint64_t n, size_t count) const {
  const char* p = reinterpret_cast<const char*>(&slots_[n % capacity_]);
  const char* end = reinterpret_cast<const char*>(slots_.get() + capacity_);
  const char* last = p + std::min<size_t>(count, capacity_) * sizeof(Slot);
  for (; p < std::min(last, end); p += 64) __builtin_prefetch(p);
}

bool RingBuffer::Latest(int64_t t_ms, int64_t lookback_ms, Sample* out) const {
  const uint64_t published = published_.load(std::memory_order_acquire);
  const uint64_t lo = FirstReadable();
  const uint64_t after = LowerBound(lo, published, t_ms + 1);
  if (after == 0 || after - 1 < lo) return false;
  Sample s;
  if (!Load(after - 1, &s) || s.time_ms <= t_ms - lookback_ms) return false;
  *out = s;
  return true;
}

size_t RingBuffer::size() const {
  const uint64_t published = published_.load(std::memory_order_acquire);
  const uint64_t first = FirstReadable();
  return published > first ? published - first : 0;
}

int64_t RingBuffer::oldest_time_ms() const {
  for (;;) {
    const uint64_t published = published_.load(std::memory_order_acquire);
    const uint64_t first = FirstReadable();
    if (first >= published) return INT64_MIN;
    Sample s;
    if (Load(first, &s)) return s.time_ms;
  }
}

}  // namespace promfeed::store
