// Decoding of Prometheus HTTP API responses (/api/v1/query, /api/v1/query_range,
// /api/v1/status/config) and the number formats they use.
// PromJsonDecoder is thread-compatible: one decoder per thread (it reuses its parse buffers).
#ifndef PROMFEED_UPSTREAM_PROM_JSON_H_
#define PROMFEED_UPSTREAM_PROM_JSON_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "daemon/model/labels.h"
#include "daemon/model/sample.h"

namespace promfeed::upstream {

// Spare capacity (bytes past size()) that lets the decoder parse a body in place instead of
// copying it; the HTTP client reserves it on every response body.
inline constexpr size_t kJsonPadding = 64;

enum class ResultType { kMatrix, kVector, kScalar, kString };

// "matrix", "vector", "scalar", "string".
std::string_view ResultTypeName(ResultType type);

struct SeriesData {
  Labels labels;
  std::vector<Sample> samples;  // Ascending by time.
};

struct QueryResult {
  ResultType type = ResultType::kVector;
  // matrix and vector: one entry per series. scalar: one entry with empty labels and one
  // sample. string: one entry with empty labels and one sample whose value is NaN; the text
  // is in string_value.
  std::vector<SeriesData> series;
  std::string string_value;
  std::vector<std::string> warnings;  // Prometheus "warnings", then "infos" and decoder notes.
};

// Receives each series of a matrix or vector result as soon as it is decoded: its labels in
// Labels' canonical encoding (Labels::FromEncoded) and its samples, ascending by time; both
// valid only during the call.
using SeriesVisitor =
    absl::FunctionRef<void(std::string_view encoded_labels, std::span<const Sample> samples)>;

struct DecodeOptions {
  // A response holding more samples than this (over all series) fails with
  // RESOURCE_EXHAUSTED; decoding stops there.
  size_t max_samples = 50'000'000;
  // Decodes matrix and vector results in the exact shape Prometheus writes with a direct
  // scanner, and anything else with the general (simdjson) decoder; either gives the same
  // result and the same errors. false: the general decoder only (tests and the fuzzer compare
  // the two).
  bool fast_path = true;
};

class PromJsonDecoder {
 public:
  explicit PromJsonDecoder(DecodeOptions options = {});
  ~PromJsonDecoder();
  PromJsonDecoder(const PromJsonDecoder&) = delete;
  PromJsonDecoder& operator=(const PromJsonDecoder&) = delete;

  // Decodes a query or query_range response. A matrix or vector in the shape Prometheus
  // writes is scanned in place (DecodeOptions::fast_path); anything else goes to the general
  // decoder, which parses in place when `body` has kJsonPadding spare capacity, else copies
  // it once. Either way the result, or the error, is the same.
  // Errors:
  //   {"status":"error"}: bad_data -> INVALID_ARGUMENT, timeout/canceled -> DEADLINE_EXCEEDED,
  //     execution/internal -> INTERNAL, unavailable -> UNAVAILABLE, other -> UNKNOWN; the
  //     message is "prometheus <errorType>: <error>" (plus warnings if any);
  //   malformed JSON (truncated, bad syntax) -> DATA_LOSS with the byte offset;
  //   well-formed JSON of the wrong shape (missing field, wrong type, bad number)
  //     -> INVALID_ARGUMENT naming the field and the byte offset;
  //   more than max_samples samples -> RESOURCE_EXHAUSTED.
  // All failures carry a FailureReason (daemon/upstream/errors.h).
  absl::StatusOr<QueryResult> DecodeQuery(const std::string& body);
  // As above, but hands the series of a matrix or vector to `visit` instead of collecting
  // them in QueryResult::series (a scalar or string result is still returned there), so
  // that a large response is not held decoded all at once. On an error, the series decoded
  // before it have been visited.
  absl::StatusOr<QueryResult> DecodeQuery(const std::string& body, SeriesVisitor visit);

  // Decodes /api/v1/status/config and returns global.scrape_interval in milliseconds
  // (Prometheus's default, 1m, when absent). Same error contract as DecodeQuery; a YAML or
  // duration error in data.yaml is INVALID_ARGUMENT with its line and column.
  absl::StatusOr<int64_t> DecodeScrapeIntervalMs(const std::string& body);

  // Frees the parse buffers if the last documents made them large (they take about as much
  // memory as the largest document again: structural index, unescaped strings); the next
  // decode allocates them anew. For callers that decode large documents only now and then.
  void ReleaseMemory();

 private:
  absl::StatusOr<QueryResult> DecodeQueryImpl(const std::string& body, const SeriesVisitor* visit);
  // The simdjson decoder for any shape; DecodeQueryImpl tries the fast path first.
  absl::StatusOr<QueryResult> DecodeQueryGeneral(const std::string& body,
                                                 const SeriesVisitor* visit);

  friend class QueryStreamDecoder;
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Decodes a query response from pieces of its body as they arrive, handing each series of a
// matrix or vector to the visitor as soon as it is complete, as DecodeQuery(body, visit) does
// with the whole body. Thread-compatible; it uses its decoder's buffers, so a decoder serves
// one stream (or one DecodeQuery) at a time.
//
// Memory: a body in the shape Prometheus writes (the decoder's fast path) is held only in
// part: the bytes not yet decoded, i.e. at most the last piece plus one series (and the short
// tail after the last series). Any other body is held whole and decoded at Finish, unless the
// fast path gives up only after it has visited series (an escape it leaves to the general
// path, such as a surrogate pair, or bad JSON further on): the start of the body is gone by
// then, so the caller must fetch the body again and decode it whole with DecodeQuery
// (Finish returns nullopt). That decode visits the first series again. The poller's sink
// (the series store) drops samples that are not newer than the ones it holds, so a second
// visit stores nothing and adds nothing to the samples ingested; the store counts those
// samples in duplicates_dropped_total (and a series refused for max_series is counted twice).
// This is rare: Prometheus writes non-ASCII text as UTF-8, not as surrogate escapes.
//
// Results, warnings and errors are those of DecodeQuery(body, visit) for the same body, with
// one exception: when the sample limit is exceeded, Finish fails with the limit error at once
// (the rest of the body is not held), where DecodeQuery would report a malformed byte further
// on (one that simdjson checks up front, such as invalid UTF-8) instead.
class QueryStreamDecoder {
 public:
  // `decoder` and the callable behind `visit` must outlive this object.
  QueryStreamDecoder(PromJsonDecoder& decoder, SeriesVisitor visit);
  ~QueryStreamDecoder();
  QueryStreamDecoder(const QueryStreamDecoder&) = delete;
  QueryStreamDecoder& operator=(const QueryStreamDecoder&) = delete;

  // The next piece of the body (any size, including empty). Visits the series it completes.
  // Once the body must be fetched again (see Finish), later pieces are dropped unread.
  void Feed(std::string_view piece);
  // After the last piece: what DecodeQuery(body, visit) returns, or nullopt when the body
  // must be fetched again and decoded whole with DecodeQuery (see above).
  std::optional<absl::StatusOr<QueryResult>> Finish();

  // Bytes of the body held now (the memory bound above; for tests).
  size_t buffered_bytes() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// A JSON number of (float) seconds, as Prometheus writes timestamps ("1700000000.123",
// "1700000000", "1.7e9"), to integer milliseconds, computed from the decimal text without
// binary floating point. Sub-millisecond digits round half away from zero.
// INVALID_ARGUMENT if `text` is not a JSON number or the result does not fit int64.
absl::StatusOr<int64_t> ParseTimestampMs(std::string_view text);

// A Prometheus sample value: a decimal or exponent float, "NaN", "Inf", "+Inf", "-Inf".
// INVALID_ARGUMENT otherwise, or when a finite literal overflows double.
absl::StatusOr<double> ParseSampleValue(std::string_view text);

// Milliseconds as decimal seconds with millisecond precision, as the API takes them:
// 1700000000123 -> "1700000000.123", 1700000000000 -> "1700000000", -1500 -> "-1.5".
std::string FormatTimestampSeconds(int64_t ms);

}  // namespace promfeed::upstream

#endif  // PROMFEED_UPSTREAM_PROM_JSON_H_
