// promfeed::client: the C++ reader of a promfeed daemon (what a C++ training program links).
// Client is thread-safe; a WindowStream is used by one thread at a time.
//
// Semantics are the daemon's (proto/promfeed/v1/metric_feed.proto): grid t = k * step,
// window k = rows [k*shift, k*shift + window). Rows travel once; windows are spans into a row
// buffer carried across messages, exactly as the Python reader's views.
#ifndef PROMFEED_CLIENT_CLIENT_H_
#define PROMFEED_CLIENT_CLIENT_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace promfeed::client {

struct Label {
  std::string name;
  std::string value;
};

// A series: its full, sorted label set (the identity) and what the daemon holds of it.
struct Series {
  std::vector<Label> labels;
  int64_t samples_held = 0;
  int64_t oldest_time_ms = 0;
  int64_t newest_time_ms = 0;

  // The value of label `name`, or "" when absent.
  std::string Get(std::string_view name) const;
  // PromQL notation: name{label="value", ...}.
  std::string ToString() const;
};

enum class Fill { kNanMask, kPrevious, kZero, kDrop };
enum class DType { kFloat32, kFloat64 };

// Parses "nan", "previous", "zero", "drop"; InvalidArgument names the accepted values.
absl::StatusOr<Fill> ParseFill(std::string_view s);

struct ClientOptions {
  // host:port of the daemon's gRPC listener ("grpc://" prefix accepted).
  std::string target = "127.0.0.1:9401";
  // Deadline of unary calls and of a stream's first message (header).
  std::chrono::milliseconds timeout{30000};
  // Queue calls until the daemon is reachable (within the deadline) instead of failing fast.
  bool wait_for_ready = false;
  // TLS (implied by ca_file or cert_file). ca_file: PEM CAs that verify the daemon (default:
  // the system's). cert_file + key_file: PEM client certificate and key for mutual TLS.
  bool tls = false;
  std::string ca_file, cert_file, key_file;
  // Bearer token sent as `authorization: Bearer <token>`, or a file holding it (first line
  // that is neither blank nor a # comment). Exclusive.
  std::string token, token_file;
};

struct DaemonStatus {
  std::string version, upstream_url, last_error;
  bool upstream_up = false, ready = false;
  int64_t last_poll_time_ms = 0, last_poll_duration_ms = 0, poll_interval_ms = 0;
  int64_t series_count = 0, max_series = 0, series_rejected_total = 0;
  int64_t samples_held = 0, ring_bytes = 0, polls_total = 0, poll_failures_total = 0;
  int64_t active_streams = 0, complete_through_ms = 0, retention_ms = 0;
};

struct ReadRangeRequest {
  std::vector<std::string> selectors;
  int64_t start_ms = 0;  // required (> 0)
  int64_t end_ms = 0;    // 0: now
  int64_t step_ms = 0;   // 0: the daemon's poll interval
  int64_t lookback_ms = 0;
  int32_t max_rows_per_message = 0;
};

// A grid: R rows x S series, contiguous and row-major.
struct RangeResult {
  std::vector<Series> series;
  std::vector<int64_t> time_ms;  // [R]
  std::vector<double> values;    // [R * S]; NaN where missing
  std::vector<uint8_t> mask;     // [R * S]; 1 = a real sample

  size_t rows() const { return time_ms.size(); }
  size_t cols() const { return series.size(); }
  double value(size_t r, size_t c) const { return values[r * cols() + c]; }
  bool valid(size_t r, size_t c) const { return mask[r * cols() + c] != 0; }
};

struct WindowsRequest {
  std::vector<std::string> features;
  int32_t window = 1;  // W >= 1
  int32_t shift = 1;   // >= 1
  int64_t step_ms = 0;
  Fill fill = Fill::kNanMask;
  int64_t start_ms = 0;  // 0: oldest held for all features
  int64_t end_ms = 0;    // 0: now; ignored with follow
  bool follow = false;
  DType dtype = DType::kFloat32;
  int64_t lookback_ms = 0;
  int32_t max_rows_per_message = 0;
};

struct StreamHeader {
  std::vector<Series> features;
  std::vector<int32_t> feature_selector_index;
  int64_t step_ms = 0, lookback_ms = 0;
  int32_t window = 1, shift = 1;
  Fill fill = Fill::kNanMask;
  DType dtype = DType::kFloat32;
  int64_t start_time_ms = 0;
  int64_t end_time_ms = 0;  // 0 when following

  size_t num_features() const { return features.size(); }
  // Rows of the historical range (0 when following).
  int64_t expected_rows() const;
};

// The windows one message completed: spans into the stream's row buffer.
// Valid until the next WindowStream::Next() (or the stream's destruction).
class WindowBatch {
 public:
  // Windows kept (dropped ones excluded).
  size_t size() const { return starts_.size(); }
  bool empty() const { return starts_.empty(); }
  // Index k of the i-th window (window k spans rows [k*shift, k*shift + W)).
  int64_t index(size_t i) const { return indices_[i]; }
  // W grid times of window i.
  std::span<const int64_t> time_ms(size_t i) const;
  // W x F values of window i, row-major. REQUIRES: T matches the header's dtype.
  template <typename T>
  std::span<const T> values(size_t i) const {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
    const T* base = reinterpret_cast<const T*>(values_base_);
    return {base + starts_[i] * features_, static_cast<size_t>(window_) * features_};
  }
  // Value at (row, feature) of window i as double, whatever the dtype.
  double value(size_t i, size_t row, size_t feature) const;
  // W x F mask of window i (1 = real sample); empty when every value is real.
  std::span<const uint8_t> mask(size_t i) const;
  // Windows the DROP policy removed among those this message completed.
  const std::vector<int64_t>& dropped() const { return dropped_; }
  // Windows lost before this message (the reader fell behind the ring).
  int64_t lost() const { return lost_; }

 private:
  friend class WindowAssembler;
  std::vector<int64_t> indices_;
  std::vector<size_t> starts_;  // first row of each window in the buffer
  const int64_t* times_base_ = nullptr;
  const std::byte* values_base_ = nullptr;
  const uint8_t* mask_base_ = nullptr;
  size_t features_ = 0;
  int32_t window_ = 1;
  DType dtype_ = DType::kFloat32;
  std::vector<int64_t> dropped_;
  int64_t lost_ = 0;
};

class WindowAssembler;

// An open StreamWindows call. Destroying it cancels the RPC.
class WindowStream {
 public:
  ~WindowStream();
  WindowStream(const WindowStream&) = delete;
  WindowStream& operator=(const WindowStream&) = delete;

  const StreamHeader& header() const { return header_; }
  // Blocks for the next message. Returns the windows it completed (possibly none: rows that
  // complete no window yet, see last_rows()), nullptr at the end of the stream, or the
  // RPC's error. The batch stays valid until the next call.
  absl::StatusOr<const WindowBatch*> Next();
  // Rows of the last message: [first_row_index, first_row_index + count).
  int64_t last_first_row() const;
  int64_t last_row_count() const;
  // Cancels the RPC; a blocked Next() returns nullptr. Thread-safe.
  void Cancel();

  int64_t rows_received() const;
  int64_t windows_emitted() const;
  int64_t dropped_windows_total() const;
  int64_t lost_windows_total() const;

 private:
  friend class Client;
  struct Call;
  WindowStream(std::unique_ptr<Call> call, StreamHeader header, std::string target);
  std::unique_ptr<Call> call_;
  StreamHeader header_;
  std::unique_ptr<WindowAssembler> asm_;
  std::string target_;
  bool done_ = false;
};

// A connection to one daemon. Errors are absl::Status with the gRPC code and the daemon's
// message, prefixed with the method and target; an unreachable daemon says so and names it.
class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const std::string& target() const { return options_.target; }

  absl::StatusOr<DaemonStatus> GetStatus();
  // Series matching any selector (all when empty), sorted by label set.
  absl::StatusOr<std::vector<Series>> ListSeries(const std::vector<std::string>& selectors,
                                                 int32_t limit = 0);
  // The matched series on the grid; `progress(rows_so_far, rows_total)` after each message.
  absl::StatusOr<RangeResult> ReadRange(
      const ReadRangeRequest& request,
      const std::function<void(int64_t, int64_t)>& progress = nullptr);
  // Opens a stream and reads its header (request errors are returned here).
  absl::StatusOr<std::unique_ptr<WindowStream>> StreamWindows(const WindowsRequest& request);

 private:
  struct Impl;
  ClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace promfeed::client

#endif  // PROMFEED_CLIENT_CLIENT_H_
