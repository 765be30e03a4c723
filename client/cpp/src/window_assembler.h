// WindowAssembler: turns a StreamWindows stream's RowBlocks into WindowBatches (spans into a
// row buffer carried across messages). Not thread-safe: one per stream.
//
// Invariants (as the Python reader's promfeed._decode.WindowAssembler):
//   1. Held rows are consecutive: row indices [held_first_, held_first_ + held_rows()).
//   2. Rows arrive in order; rows before next_row_ are never revised.
//   3. After Feed, held rows start no earlier than the first row a future window can use,
//      except the rows of the batch just returned (kept until the next Feed).
#ifndef PROMFEED_CLIENT_WINDOW_ASSEMBLER_H_
#define PROMFEED_CLIENT_WINDOW_ASSEMBLER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "promfeed/client.h"
#include "promfeed/v1/metric_feed.pb.h"

namespace promfeed::client {

// Converts the wire header; InvalidArgument (protocol error) on window < 1 or unknown dtype.
absl::StatusOr<StreamHeader> HeaderFromProto(const promfeed::v1::WindowHeader& h);
Series SeriesFromProto(const promfeed::v1::Series& s);

class WindowAssembler {
 public:
  explicit WindowAssembler(const StreamHeader& header);
  WindowAssembler(const WindowAssembler&) = delete;
  WindowAssembler& operator=(const WindowAssembler&) = delete;

  // Consumes one block; returns the windows it completes (the batch is valid until the next
  // Feed). Errors (code INTERNAL, "protocol error: ...") when the block breaks the contract:
  // revised rows, field sizes that do not match row_count x features, windows spanning rows
  // not held, dropped indices outside the completed windows.
  absl::StatusOr<const WindowBatch*> Feed(const promfeed::v1::RowBlock& block);

  int64_t next_row() const { return next_row_; }
  int64_t rows_received() const { return rows_received_; }
  int64_t windows_emitted() const { return windows_emitted_; }
  int64_t dropped_windows_total() const { return dropped_total_; }
  int64_t lost_windows_total() const { return lost_total_; }
  size_t held_rows() const { return t_.size(); }

 private:
  void DropHeldBefore(int64_t row);

  StreamHeader header_;
  size_t f_;
  size_t elem_;  // bytes per value
  std::vector<int64_t> t_;
  std::vector<std::byte> v_;
  std::vector<uint8_t> m_;  // empty while every held value is real
  int64_t held_first_ = 0;
  int64_t next_row_ = 0;
  int64_t next_window_ = 0;
  int64_t rows_received_ = 0, windows_emitted_ = 0, dropped_total_ = 0, lost_total_ = 0;
  WindowBatch batch_;
};

}  // namespace promfeed::client

#endif  // PROMFEED_CLIENT_WINDOW_ASSEMBLER_H_
