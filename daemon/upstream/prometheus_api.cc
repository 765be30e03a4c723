#include "daemon/upstream/prometheus_api.h"

#include <spdlog/spdlog.h>

#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "daemon/model/duration.h"
#include "daemon/model/str_cat.h"
#include "daemon/upstream/errors.h"
#include "daemon/upstream/http_client.h"

namespace promfeed::upstream {
namespace {

constexpr size_t kMaxBodyInMessage = 200;

absl::StatusCode CodeForHttpStatus(int status) {
  if (status == 401) return absl::StatusCode::kUnauthenticated;
  if (status == 403) return absl::StatusCode::kPermissionDenied;
  if (status == 404) return absl::StatusCode::kNotFound;
  if (status >= 400 && status < 500) return absl::StatusCode::kFailedPrecondition;
  return absl::StatusCode::kUnavailable;
}

// Adds "<what>: " in front of `status`'s message, keeping code and payloads.
absl::Status Prefix(const absl::Status& status, std::string_view what) {
  absl::Status out(status.code(), Cat(what, ": ", status.message()));
  status.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PrometheusApi>> PrometheusApi::Create(
    const config::UpstreamConfig& config, PrometheusApiOptions options) {
  absl::StatusOr<std::unique_ptr<HttpClient>> http = HttpClient::Create(config);
  if (!http.ok()) return http.status();
  return std::unique_ptr<PrometheusApi>(
      new PrometheusApi(*std::move(http), options, config.timeout_ms));
}

PrometheusApi::PrometheusApi(std::unique_ptr<HttpClient> http, PrometheusApiOptions options,
                             int64_t timeout_ms)
    : http_(std::move(http)),
      decoder_(DecodeOptions{.max_samples = options.max_samples_per_response}),
      timeout_ms_(timeout_ms) {}

PrometheusApi::~PrometheusApi() = default;

namespace {

// Turns an HTTP answer into a decoded result: 2xx bodies and error envelopes decode; other
// non-2xx answers become a status with the start of the body.
template <typename T, typename DecodeFn>
absl::StatusOr<T> Interpret(const std::string& url, const HttpResponse& response, DecodeFn decode) {
  absl::StatusOr<T> decoded = decode(response.body);
  if (response.status / 100 == 2) {
    if (!decoded.ok()) return Prefix(decoded.status(), Cat("decoding response of ", url));
    return decoded;
  }
  if (!decoded.ok() && ReasonOf(decoded.status()) == FailureReason::kApiError) {
    return Prefix(decoded.status(), Cat(url, " (HTTP ", response.status, ")"));
  }
  std::string body = response.body.substr(0, kMaxBodyInMessage);
  if (response.body.size() > kMaxBodyInMessage) body += "...";
  return WithReason(
      absl::Status(CodeForHttpStatus(response.status),
                   Cat("upstream ", url, " answered HTTP ", response.status, ": ", body)),
      FailureReason::kHttpStatus);
}

// POSTs a query and hands the series of a 2xx answer to `visit` as its body arrives
// (QueryStreamDecoder); other answers are interpreted whole, as by Interpret.
absl::StatusOr<QueryResult> QueryVisiting(HttpClient& http, PromJsonDecoder& decoder,
                                          const std::string& url, const FormParams& params,
                                          SeriesVisitor visit) {
  QueryStreamDecoder stream(decoder, visit);
  absl::StatusOr<HttpResponse> response = http.PostFormStreaming(
      "/api/v1/query", params, [&](std::string_view piece) { stream.Feed(piece); });
  if (!response.ok()) return response.status();
  auto decode_whole = [&](const std::string& body) { return decoder.DecodeQuery(body); };
  if (response->status / 100 != 2) return Interpret<QueryResult>(url, *response, decode_whole);
  std::optional<absl::StatusOr<QueryResult>> decoded = stream.Finish();
  if (!decoded) {
    // The body left the fast path after some series were visited: fetch it again (the same
    // evaluation time) and decode it whole. Its first series are visited a second time, which
    // the poller's sink ignores (samples not newer than those held are dropped).
    spdlog::debug("query response left the fast path mid-stream; fetching it again url={}", url);
    response = http.PostForm("/api/v1/query", params);
    if (!response.ok()) return response.status();
    if (response->status / 100 != 2) return Interpret<QueryResult>(url, *response, decode_whole);
    return Interpret<QueryResult>(
        url, *response, [&](const std::string& body) { return decoder.DecodeQuery(body, visit); });
  }
  if (!decoded->ok()) return Prefix(decoded->status(), Cat("decoding response of ", url));
  return *std::move(*decoded);
}

}  // namespace

absl::StatusOr<QueryResult> PrometheusApi::Query(std::string_view expr, int64_t time_ms) {
  return QueryImpl(expr, time_ms, nullptr);
}

absl::StatusOr<QueryResult> PrometheusApi::Query(std::string_view expr, int64_t time_ms,
                                                 SeriesVisitor visit) {
  return QueryImpl(expr, time_ms, &visit);
}

absl::StatusOr<QueryResult> PrometheusApi::QueryImpl(std::string_view expr, int64_t time_ms,
                                                     const SeriesVisitor* visit) {
  const std::string url = Cat(http_->base_url(), "/api/v1/query");
  const FormParams params = {{"query", std::string(expr)},
                             {"time", FormatTimestampSeconds(time_ms)},
                             {"timeout", FormatDurationMs(timeout_ms_)}};
  absl::StatusOr<QueryResult> result;
  if (visit != nullptr) {
    result = QueryVisiting(*http_, decoder_, url, params, *visit);
  } else {
    absl::StatusOr<HttpResponse> response = http_->PostForm("/api/v1/query", params);
    result = response.ok() ? Interpret<QueryResult>(url, *response,
                                                    [&](const std::string& body) {
                                                      return decoder_.DecodeQuery(body);
                                                    })
                           : absl::StatusOr<QueryResult>(response.status());
  }
  if (!result.ok()) return Prefix(result.status(), Cat("query `", expr, "`"));
  return result;
}

absl::StatusOr<QueryResult> PrometheusApi::QueryRange(std::string_view expr, int64_t start_ms,
                                                      int64_t end_ms, int64_t step_ms) {
  if (step_ms <= 0 || start_ms > end_ms) {
    return absl::InvalidArgumentError(Cat("query_range `", expr, "`: bad range start=", start_ms,
                                          " end=", end_ms, " step=", step_ms));
  }
  const std::string url = Cat(http_->base_url(), "/api/v1/query_range");
  absl::StatusOr<HttpResponse> response =
      http_->PostForm("/api/v1/query_range", {{"query", std::string(expr)},
                                              {"start", FormatTimestampSeconds(start_ms)},
                                              {"end", FormatTimestampSeconds(end_ms)},
                                              {"step", FormatTimestampSeconds(step_ms)},
                                              {"timeout", FormatDurationMs(timeout_ms_)}});
  absl::StatusOr<QueryResult> result =
      response.ok()
          ? Interpret<QueryResult>(
                url, *response, [&](const std::string& body) { return decoder_.DecodeQuery(body); })
          : absl::StatusOr<QueryResult>(response.status());
  if (!result.ok()) return Prefix(result.status(), Cat("query_range `", expr, "`"));
  return result;
}

absl::StatusOr<int64_t> PrometheusApi::ScrapeIntervalMs() {
  const std::string url = Cat(http_->base_url(), "/api/v1/status/config");
  absl::StatusOr<HttpResponse> response = http_->Get("/api/v1/status/config");
  if (!response.ok()) return response.status();
  return Interpret<int64_t>(url, *response, [&](const std::string& body) {
    return decoder_.DecodeScrapeIntervalMs(body);
  });
}

void PrometheusApi::Cancel() { http_->Cancel(); }

const std::string& PrometheusApi::url() const { return http_->base_url(); }

}  // namespace promfeed::upstream
