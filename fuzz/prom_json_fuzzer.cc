// Fuzzes PromJsonDecoder (bodies of /api/v1/query, /api/v1/query_range and
// /api/v1/status/config as an upstream could send them) and the number helpers it uses.
// Beyond "no crash, no sanitizer report", it checks the decoder's contract: a failure carries
// a message, a success holds at most max_samples samples in ascending time order per series,
// and a timestamp it parsed prints back to the same milliseconds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "daemon/upstream/prom_json.h"

namespace {

using promfeed::upstream::DecodeOptions;
using promfeed::upstream::FormatTimestampSeconds;
using promfeed::upstream::ParseTimestampMs;
using promfeed::upstream::PromJsonDecoder;
using promfeed::upstream::QueryResult;

constexpr size_t kMaxSamples = 10'000;

void Check(bool ok, const char* what) {
  if (!ok) {
    __builtin_printf("contract violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static PromJsonDecoder* decoder = new PromJsonDecoder(DecodeOptions{.max_samples = kMaxSamples});
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
