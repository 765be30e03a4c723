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

void RingBuffer::Read(int64_t from_ms, int64_t to_ms, std::vector<Sample>* out,
                      uint64_t* hint) const {
  if (from_ms > to_ms) return;
  const uint64_t published = published_.load(std::memory_order_acquire);
  const uint64_t first = hint != nullptr
                             ? LowerBoundNear(FirstReadable(), published, *hint, from_ms)
                             : LowerBound(FirstReadable(), published, from_ms);
  uint64_t end = first;  // One past the last sample copied.
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
    ++end;
  }
  if (hint != nullptr) *hint = end > first ? end - 1 : first;
  // Drop whatever the writer overwrote while we copied (always a prefix).
  std::atomic_thread_fence(std::memory_order_acquire);
  const uint64_t readable = FirstReadable();
  if (readable > first) {
    const size_t lost = std::min<uint64_t>(readable - first, out->size() - base);
    out->erase(out->begin() + base, out->begin() + base + lost);
  }
}

void RingBuffer::Prefetch(uint64_t from, size_t count) const {
  constexpr size_t kSlotsPerLine = 64 / sizeof(Slot);
  count = std::min(count, capacity_);
  size_t i = from % capacity_;
  for (size_t k = 0; k < count; k += kSlotsPerLine) {
    __builtin_prefetch(&slots_[i]);
    i += kSlotsPerLine;
    if (i >= capacity_) i -= capacity_;
  }
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
