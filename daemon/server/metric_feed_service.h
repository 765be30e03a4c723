// MetricFeedService: the promfeed.v1.MetricFeed gRPC service (callback API) over a
// SeriesStore. Thread-safe: gRPC calls it from many threads; streams read the store while
// ingestion writes it, and produce their messages on a small work queue, never on the
// ingestion thread.
#ifndef PROMFEED_SERVER_METRIC_FEED_SERVICE_H_
#define PROMFEED_SERVER_METRIC_FEED_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "daemon/server/stream_cache.h"
#include "daemon/server/work_queue.h"
#include "daemon/store/series_store.h"
#include "daemon/window/plan.h"
#include "daemon/window/spare_threads.h"
#include "promfeed/v1/metric_feed.grpc.pb.h"

namespace promfeed::server {

// What the poller reports; filled by whoever owns it (main, or a test).
struct UpstreamStatus {
  std::string url;
  v1::UpstreamState state = v1::UPSTREAM_STATE_UNSPECIFIED;
  std::string last_error;
  int64_t last_poll_time_ms = 0;
  int64_t last_poll_duration_ms = 0;
  int64_t poll_interval_ms = 0;
  int64_t polls_total = 0;
  int64_t poll_failures_total = 0;
  bool ready = false;  // First poll or backfill done.
};

struct ServiceOptions {
  std::string version;
  int32_t max_streams = 256;
  int64_t retention_ms = 3'600'000;
  int64_t max_series = 100'000;
  // Rows per message are chosen to keep messages near this size (and always under the
  // 4 MiB default receive limit of gRPC clients).
  int64_t target_message_bytes = 1 << 20;
  int32_t stream_threads = 2;
  // Threads that, while idle, sample half of a stream's large block (so that one stream can
  // use two cores; with every one busy, a stream samples its block alone). 0: none.
  int32_t spare_threads = 1;
  // Bytes of finished historical StreamWindows streams kept to answer the same request again
  // without sampling (see StreamCache). 0: none.
  int64_t stream_cache_bytes = 256 << 20;
  std::function<UpstreamStatus()> upstream_status;
  std::function<int64_t()> now_ms;  // Wall clock in ms; injectable for tests.
};

// StreamWindows is a raw method: its messages are encoded by the stream (as gRPC would)
// so that the encoded bytes can be kept and written again from the stream cache.
class MetricFeedService final
    : public v1::MetricFeed::WithRawCallbackMethod_StreamWindows<v1::MetricFeed::CallbackService> {
 public:
  // REQUIRES: store outlives the service; options.upstream_status and now_ms set.
  MetricFeedService(store::SeriesStore* store, ServiceOptions options);
  // REQUIRES: the gRPC server is shut down (every RPC done).
  ~MetricFeedService() override;
  MetricFeedService(const MetricFeedService&) = delete;
  MetricFeedService& operator=(const MetricFeedService&) = delete;

  // Open streams finish with UNAVAILABLE at their next step; new calls get UNAVAILABLE.
  void BeginShutdown();

  int active_streams() const { return active_streams_.load(); }
  int64_t windows_sent_total() const { return windows_sent_.load(); }
  int64_t windows_lost_total() const { return windows_lost_.load(); }
  int64_t windows_dropped_total() const { return windows_dropped_.load(); }
  StreamCacheStats stream_cache_stats() const { return stream_cache_.Stats(); }

  grpc::ServerUnaryReactor* ListSeries(grpc::CallbackServerContext* context,
                                       const v1::ListSeriesRequest* request,
                                       v1::ListSeriesResponse* response) override;
  grpc::ServerWriteReactor<v1::ReadRangeResponse>* ReadRange(
      grpc::CallbackServerContext* context, const v1::ReadRangeRequest* request) override;
  // `request` holds an encoded v1::StreamWindowsRequest; messages are encoded
  // v1::StreamWindowsResponse.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* StreamWindows(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* context,
                                      const v1::GetStatusRequest* request,
                                      v1::GetStatusResponse* response) override;

 private:
  template <typename Response>
  class CursorStream;
  class RangeStream;
  class WindowStream;

  // OK when data RPCs may run now; UNAVAILABLE otherwise.
  absl::Status CheckServing() const;
  // Admits a new stream or returns RESOURCE_EXHAUSTED.
  absl::Status AdmitStream();
  // Registers a started stream so shutdown and new data can wake it.
  void Register(uint64_t id, std::function<void()> wake);
  void Unregister(uint64_t id);
  window::PlanLimits Limits() const;

  store::SeriesStore* const store_;
  const ServiceOptions options_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<int> active_streams_{0};
  std::atomic<int64_t> windows_sent_{0};
  std::atomic<int64_t> windows_lost_{0};
  std::atomic<int64_t> windows_dropped_{0};
  std::atomic<uint64_t> next_stream_id_{1};
  uint64_t store_listener_ = 0;
  std::mutex streams_mu_;
  absl::flat_hash_map<uint64_t, std::function<void()>> streams_ ABSL_GUARDED_BY(streams_mu_);
  window::SpareThreads spare_threads_;
  StreamCache stream_cache_;
  // Last: destroyed first, so queued work never sees a half-destroyed service.
  WorkQueue queue_;
};

}  // namespace promfeed::server

#endif  // PROMFEED_SERVER_METRIC_FEED_SERVICE_H_
