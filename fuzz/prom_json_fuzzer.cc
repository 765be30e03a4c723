// Fuzzes PromJsonDecoder (bodies of /api/v1/query, /api/v1/query_range and
// /api/v1/status/config as an upstream could send them) and the number helpers it uses.
// Beyond "no crash, no sanitizer report", it checks the decoder's contract: a failure carries
// a message, a success holds at most max_samples samples in ascending time order per series,
// a timestamp it parsed prints back to the same milliseconds, and the fast path (the default)
// decodes every body exactly as the general path (DecodeOptions::fast_path = false) does:
// the same result or the same error, and the same series visited. QueryStreamDecoder, fed the
// body in two pieces and in small pieces at cuts taken from the input, gives what the
// whole-body decode gives.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/upstream/prom_json.h"
#include "fuzz/fuzz_check.h"

namespace {

using promfeed::Sample;
using promfeed::fuzz::Check;
using promfeed::upstream::DecodeOptions;
using promfeed::upstream::FormatTimestampSeconds;
using promfeed::upstream::ParseTimestampMs;
using promfeed::upstream::PromJsonDecoder;
using promfeed::upstream::QueryResult;
using promfeed::upstream::QueryStreamDecoder;

constexpr size_t kMaxSamples = 10'000;

// Same samples, bit for bit (NaN equals NaN, -0 differs from 0).
bool SameSamples(std::span<const Sample> a, std::span<const Sample> b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].time_ms != b[i].time_ms || std::memcmp(&a[i].value, &b[i].value, sizeof(double))) {
      return false;
    }
  }
  return true;
}

bool SameResult(const QueryResult& a, const QueryResult& b) {
  if (a.type != b.type || a.string_value != b.string_value || a.warnings != b.warnings ||
      a.series.size() != b.series.size()) {
    return false;
  }
  for (size_t i = 0; i < a.series.size(); ++i) {
    if (a.series[i].labels != b.series[i].labels ||
        !SameSamples(a.series[i].samples, b.series[i].samples)) {
      return false;
    }
  }
  return true;
}

using Visits = std::vector<std::pair<std::string, std::vector<Sample>>>;

absl::StatusOr<QueryResult> DecodeVisiting(PromJsonDecoder& decoder, const std::string& body,
                                           Visits& visits) {
  return decoder.DecodeQuery(body, [&](std::string_view labels, std::span<const Sample> samples) {
    visits.emplace_back(std::string(labels), std::vector<Sample>(samples.begin(), samples.end()));
  });
}

// Streams `body` in pieces that end at `cuts` (ascending) and the rest; a stream that asks for
// the body again gets DecodeQuery on the whole body, as PrometheusApi does. `before_refetch`:
// the visits made before that, or -1.
absl::StatusOr<QueryResult> DecodeStreamed(PromJsonDecoder& decoder, const std::string& body,
                                           const std::vector<size_t>& cuts, Visits& visits,
                                           long& before_refetch) {
  auto visit = [&](std::string_view labels, std::span<const Sample> samples) {
    visits.emplace_back(std::string(labels), std::vector<Sample>(samples.begin(), samples.end()));
  };
  QueryStreamDecoder stream(decoder, visit);
  size_t from = 0;
  for (size_t cut : cuts) {
    stream.Feed(std::string_view(body).substr(from, cut - from));
    from = cut;
  }
  stream.Feed(std::string_view(body).substr(from));
  std::optional<absl::StatusOr<QueryResult>> r = stream.Finish();
  before_refetch = -1;
  if (r) return *std::move(r);
  before_refetch = static_cast<long>(visits.size());
  return decoder.DecodeQuery(body, visit);
}

// The stream against the whole-body decode (`whole`, `whole_visits`).
void CheckStreamed(PromJsonDecoder& decoder, const std::string& body,
                   const std::vector<size_t>& cuts, const absl::StatusOr<QueryResult>& whole,
                   const Visits& whole_visits) {
  Visits visits;
  long before_refetch;
  absl::StatusOr<QueryResult> r = DecodeStreamed(decoder, body, cuts, visits, before_refetch);
  // The one documented difference: the sample limit is reported at once, where the whole
  // body fails on a malformed byte that simdjson checks up front.
  const bool limit_first = before_refetch < 0 &&
                           r.status().code() == absl::StatusCode::kResourceExhausted &&
                           whole.status().code() == absl::StatusCode::kDataLoss;
  Check(r.status() == whole.status() || limit_first, "stream and whole body: different status");
  if (r.ok() && whole.ok()) {
    Check(r->type == whole->type && r->warnings == whole->warnings,
          "stream and whole body: different result");
  }
  const size_t before = before_refetch < 0 ? 0 : static_cast<size_t>(before_refetch);
  Check(limit_first ? visits.size() >= whole_visits.size()
                    : visits.size() == before + whole_visits.size(),
        "stream and whole body: different number of visits");
  for (size_t i = 0; i < visits.size() && i < before + whole_visits.size(); ++i) {
    const auto& want = whole_visits[i < before ? i : i - before];
    Check(visits[i].first == want.first && SameSamples(visits[i].second, want.second),
          "stream and whole body: different visit");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static PromJsonDecoder* decoder = new PromJsonDecoder(DecodeOptions{.max_samples = kMaxSamples});
  static PromJsonDecoder* general =
      new PromJsonDecoder(DecodeOptions{.max_samples = kMaxSamples, .fast_path = false});
  const std::string body(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<QueryResult> r = decoder->DecodeQuery(body);
  if (!r.ok()) {
    Check(!r.status().message().empty(), "DecodeQuery error without a message");
  } else {
    size_t total = 0;
    for (const auto& series : r->series) {
      total += series.samples.size();
      for (size_t i = 1; i < series.samples.size(); ++i) {
        Check(series.samples[i - 1].time_ms < series.samples[i].time_ms,
              "samples not in ascending time order");
      }
    }
    Check(total <= kMaxSamples, "more samples than max_samples");
  }

  // The fast path against the general path.
  absl::StatusOr<QueryResult> g = general->DecodeQuery(body);
  Check(r.status() == g.status(), "fast and general path: different status");
  if (r.ok() && g.ok()) Check(SameResult(*r, *g), "fast and general path: different result");
  Visits fast_visits, general_visits;
  absl::StatusOr<QueryResult> fv = DecodeVisiting(*decoder, body, fast_visits);
  absl::StatusOr<QueryResult> gv = DecodeVisiting(*general, body, general_visits);
  Check(fv.status() == gv.status(), "fast and general path: different status with a visitor");
  // The same visits; except that on an error simdjson finds before reading anything (invalid
  // UTF-8, an unclosed string), the fast path may have visited the series before it.
  Check(gv.ok() ? fast_visits.size() == general_visits.size()
                : fast_visits.size() >= general_visits.size(),
        "fast and general path: different number of visits");
  for (size_t i = 0; i < general_visits.size(); ++i) {
    Check(fast_visits[i].first == general_visits[i].first &&
              SameSamples(fast_visits[i].second, general_visits[i].second),
          "fast and general path: different visit");
  }

  // The stream: in two pieces, and in pieces of 1..64 bytes, cut where the input says.
  uint32_t hash = 2166136261u;  // FNV-1a of the body.
  for (size_t i = 0; i < size; ++i) hash = (hash ^ data[i]) * 16777619u;
  CheckStreamed(*decoder, body, {hash % (size + 1)}, fv, fast_visits);
  std::vector<size_t> cuts;
  for (size_t at = hash % 64 + 1; at < size; at += (hash >> 8) % 64 + 1) cuts.push_back(at);
  CheckStreamed(*decoder, body, cuts, fv, fast_visits);

  absl::StatusOr<int64_t> interval = decoder->DecodeScrapeIntervalMs(body);
  if (!interval.ok()) Check(!interval.status().message().empty(), "config error without message");

  // Timestamps: whatever parses must survive a round trip through the API's format.
  if (size <= 64) {
    absl::StatusOr<int64_t> ms = ParseTimestampMs(body);
    if (ms.ok()) {
      absl::StatusOr<int64_t> again = ParseTimestampMs(FormatTimestampSeconds(*ms));
      Check(again.ok() && *again == *ms, "timestamp does not round-trip");
    }
    (void)promfeed::upstream::ParseSampleValue(body);
  }
  return 0;
}
