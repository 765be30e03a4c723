// PrometheusApi: the queries promfeed makes against one Prometheus-compatible HTTP API
// (Prometheus, Thanos Query, Mimir, VictoriaMetrics).
// Thread-safety: one thread at a time makes queries; Cancel() may be called from any thread.
#ifndef PROMFEED_UPSTREAM_PROMETHEUS_API_H_
#define PROMFEED_UPSTREAM_PROMETHEUS_API_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "daemon/config/config.h"
#include "daemon/upstream/prom_json.h"

namespace promfeed::upstream {

class HttpClient;

struct PrometheusApiOptions {
  size_t max_samples_per_response = 50'000'000;  // Over it: RESOURCE_EXHAUSTED.
};

class PrometheusApi {
 public:
  // Fails with INVALID_ARGUMENT on a bad URL or TLS files (see HttpClient::Create).
  static absl::StatusOr<std::unique_ptr<PrometheusApi>> Create(const config::UpstreamConfig& config,
                                                               PrometheusApiOptions options = {});
  ~PrometheusApi();
  PrometheusApi(const PrometheusApi&) = delete;
  PrometheusApi& operator=(const PrometheusApi&) = delete;

  // POST /api/v1/query: `expr` evaluated at `time_ms`.
  absl::StatusOr<QueryResult> Query(std::string_view expr, int64_t time_ms);
  // As above, handing each series of a matrix or vector result to `visit` as it is decoded,
  // while the body arrives (QueryStreamDecoder): a large response is never held whole. When
  // the body leaves the decoder's fast path after some series, the query is sent again with
  // the same time and decoded whole, and `visit` sees those first series twice.
  absl::StatusOr<QueryResult> Query(std::string_view expr, int64_t time_ms, SeriesVisitor visit);
  // POST /api/v1/query_range on the grid start_ms, start_ms + step_ms, ... <= end_ms.
  // REQUIRES: step_ms > 0, start_ms <= end_ms.
  absl::StatusOr<QueryResult> QueryRange(std::string_view expr, int64_t start_ms, int64_t end_ms,
                                         int64_t step_ms);
  // GET /api/v1/status/config: global.scrape_interval in ms (1m when unset).
  absl::StatusOr<int64_t> ScrapeIntervalMs();

  // Errors: those of HttpClient and PromJsonDecoder; a non-2xx answer with a Prometheus error
  // envelope becomes that error, one without becomes UNAVAILABLE (5xx), UNAUTHENTICATED (401),
  // PERMISSION_DENIED (403), NOT_FOUND (404) or FAILED_PRECONDITION (other 4xx) with the
  // start of the body. Query errors name the PromQL that failed.

  // Frees the decoder's buffers if large (PromJsonDecoder::ReleaseMemory).
  void ReleaseMemory() { decoder_.ReleaseMemory(); }

  // Aborts the request in flight and fails every later one with CANCELLED. Thread-safe.
  void Cancel();

  // The base URL without credentials.
  const std::string& url() const;

 private:
  absl::StatusOr<QueryResult> QueryImpl(std::string_view expr, int64_t time_ms,
                                        const SeriesVisitor* visit);
  PrometheusApi(std::unique_ptr<HttpClient> http, PrometheusApiOptions options, int64_t timeout_ms);

  std::unique_ptr<HttpClient> http_;
  PromJsonDecoder decoder_;
  const int64_t timeout_ms_;
};

}  // namespace promfeed::upstream

#endif  // PROMFEED_UPSTREAM_PROMETHEUS_API_H_
