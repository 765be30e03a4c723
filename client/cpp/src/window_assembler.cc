#include "client/cpp/src/window_assembler.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace promfeed::client {
namespace {

namespace pb = ::promfeed::v1;

absl::Status Protocol(const std::string& what) {
  return absl::InternalError(absl::StrCat("protocol error: ", what));
}

Fill FillFromProto(pb::Fill f) {
  switch (f) {
    case pb::PREVIOUS:
      return Fill::kPrevious;
    case pb::ZERO:
      return Fill::kZero;
    case pb::DROP:
      return Fill::kDrop;
    default:
      return Fill::kNanMask;
  }
}

int64_t CeilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

}  // namespace

Series SeriesFromProto(const pb::Series& s) {
  Series out;
  out.labels.reserve(s.labels_size());
  for (const auto& l : s.labels()) out.labels.push_back({l.name(), l.value()});
  out.samples_held = s.samples_held();
  out.oldest_time_ms = s.oldest_time_ms();
  out.newest_time_ms = s.newest_time_ms();
  return out;
}

absl::StatusOr<StreamHeader> HeaderFromProto(const pb::WindowHeader& h) {
  if (h.window() < 1) return Protocol(absl::StrCat("stream header has window ", h.window()));
  StreamHeader out;
  for (const auto& s : h.features()) out.features.push_back(SeriesFromProto(s));
  out.feature_selector_index.assign(h.feature_selector_index().begin(),
                                    h.feature_selector_index().end());
  out.step_ms = h.step_ms();
  out.lookback_ms = h.lookback_ms();
  out.window = h.window();
  out.shift = std::max(1, h.shift());
  out.fill = FillFromProto(h.fill());
  switch (h.dtype()) {
    case pb::DTYPE_UNSPECIFIED:
    case pb::FLOAT32:
      out.dtype = DType::kFloat32;
      break;
    case pb::FLOAT64:
      out.dtype = DType::kFloat64;
      break;
    default:
      return Protocol(absl::StrCat("unknown dtype ", h.dtype(), " in stream header"));
  }
  out.start_time_ms = h.start_time_ms();
  out.end_time_ms = h.end_time_ms();
  return out;
}

WindowAssembler::WindowAssembler(const StreamHeader& header)
    : header_(header), f_(header.num_features()), elem_(header.dtype == DType::kFloat64 ? 8 : 4) {}

void WindowAssembler::DropHeldBefore(int64_t row) {
  size_t n = static_cast<size_t>(std::clamp<int64_t>(row - held_first_, 0, t_.size()));
  if (n == 0) return;
  t_.erase(t_.begin(), t_.begin() + n);
  v_.erase(v_.begin(), v_.begin() + n * f_ * elem_);
  if (!m_.empty()) m_.erase(m_.begin(), m_.begin() + n * f_);
  held_first_ += n;
}

absl::StatusOr<const WindowBatch*> WindowAssembler::Feed(const pb::RowBlock& block) {
  const int64_t first = block.first_row_index();
  const int64_t rows = block.row_count();
  const std::string what = absl::StrCat("RowBlock(first_row_index=", first, ")");
  const int64_t shift = header_.shift, w = header_.window;
  if (rows < 0) return Protocol(absl::StrCat(what, ": negative row_count ", rows));
  if (first < next_row_) {
    return Protocol(
        absl::StrCat(what, " revises rows: rows up to ", next_row_ - 1, " were already received"));
  }
  if (block.time_ms().size() != static_cast<size_t>(rows) * 8) {
    return Protocol(absl::StrCat(what, ": time_ms has ", block.time_ms().size(), " bytes, want ",
                                 rows, " x 8"));
  }
  const size_t cells = static_cast<size_t>(rows) * f_;
  if (block.values().size() != cells * elem_) {
    return Protocol(absl::StrCat(what, ": values has ", block.values().size(), " bytes, want ",
                                 rows, " x ", f_, " x ", elem_));
  }
  if (!block.mask().empty() && block.mask().size() != cells) {
    return Protocol(
        absl::StrCat(what, ": mask has ", block.mask().size(), " bytes, want ", rows, " x ", f_));
  }
  // The previous batch's rows are no longer referenced: keep only what a future window uses.
  DropHeldBefore(next_window_ * shift);
  if (block.lost_windows() > 0 || first > next_row_) {
    // A jump follows a loss: rows held before it can no longer complete a window.
    t_.clear();
    v_.clear();
    m_.clear();
    next_window_ = std::max(next_window_, CeilDiv(first, shift));
  }
  if (t_.empty()) held_first_ = first;

  // Append the block (little-endian on the wire; this library assumes a little-endian host).
  const size_t old_rows = t_.size();
  t_.resize(old_rows + rows);
  std::memcpy(t_.data() + old_rows, block.time_ms().data(), rows * 8);
  const size_t old_bytes = v_.size();
  v_.resize(old_bytes + cells * elem_);
  std::memcpy(v_.data() + old_bytes, block.values().data(), cells * elem_);
  if (!block.mask().empty() || !m_.empty()) {
    if (m_.empty()) m_.assign(old_rows * f_, 1);
    if (block.mask().empty()) {
      m_.resize(m_.size() + cells, 1);
    } else {
      m_.insert(m_.end(), block.mask().begin(), block.mask().end());
    }
  }
  next_row_ = first + rows;
  rows_received_ += rows;
  dropped_total_ = block.dropped_windows_total();
  lost_total_ = block.lost_windows_total();

  batch_ = WindowBatch();
  batch_.times_base_ = t_.data();
  batch_.values_base_ = v_.data();
  batch_.mask_base_ = m_.empty() ? nullptr : m_.data();
  batch_.features_ = f_;
  batch_.window_ = header_.window;
  batch_.dtype_ = header_.dtype;
  batch_.lost_ = block.lost_windows();
  batch_.dropped_.assign(block.dropped_window_indices().begin(),
                         block.dropped_window_indices().end());
  std::sort(batch_.dropped_.begin(), batch_.dropped_.end());

  const int64_t n = block.window_count();
  if (n > 0) {
    const int64_t k0 = block.first_window_index();
    if (k0 < next_window_) {
      return Protocol(
          absl::StrCat(what, " completes window ", k0, " again (next is ", next_window_, ")"));
    }
    const int64_t s0 = k0 * shift - held_first_;
    const int64_t end = (k0 + n - 1) * shift + w - held_first_;
    if (s0 < 0 || end > static_cast<int64_t>(t_.size())) {
      return Protocol(absl::StrCat(what, " claims windows ", k0, "..", k0 + n - 1,
                                   " spanning rows ", k0 * shift, "..", end + held_first_ - 1,
                                   ", but rows ", held_first_, "..",
                                   held_first_ + static_cast<int64_t>(t_.size()) - 1, " are held"));
    }
    for (int64_t d : batch_.dropped_) {
      if (d < k0 || d >= k0 + n) {
        return Protocol(absl::StrCat(what, ": dropped_window_indices [",
                                     absl::StrJoin(batch_.dropped_, ","),
                                     "] outside the completed windows ", k0, "..", k0 + n - 1));
      }
    }
    for (int64_t k = k0; k < k0 + n; ++k) {
      if (std::binary_search(batch_.dropped_.begin(), batch_.dropped_.end(), k)) continue;
      batch_.indices_.push_back(k);
      batch_.starts_.push_back(static_cast<size_t>(k * shift - held_first_));
    }
    next_window_ = k0 + n;
    windows_emitted_ += batch_.indices_.size();
  } else if (!batch_.dropped_.empty()) {
    return Protocol(absl::StrCat(what, ": dropped windows without completed windows"));
  }
  return &batch_;
}

}  // namespace promfeed::client
