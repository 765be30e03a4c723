// Why an upstream call failed, attached to its absl::Status as a payload so the poller can
// count failures by reason without parsing messages. Free functions; thread-safe.
#ifndef PROMFEED_UPSTREAM_ERRORS_H_
#define PROMFEED_UPSTREAM_ERRORS_H_

#include <string_view>

#include "absl/status/status.h"

namespace promfeed::upstream {

enum class FailureReason {
  kOther,       // Cancelled, bad configuration, anything not listed below.
  kTimeout,     // The request did not finish within upstream.timeout.
  kConnect,     // Name resolution, TCP connect or TLS handshake failed.
  kHttpStatus,  // Non-2xx answer without a Prometheus error envelope.
  kDecode,      // The body is not a well-formed Prometheus API response.
  kApiError,    // Prometheus answered {"status":"error", ...}.
  kLimit,       // Response body or sample count over its configured limit.
};

// "timeout", "connect", "http_status", "decode", "api_error", "limit", "other".
std::string_view FailureReasonName(FailureReason reason);

// Returns `status` with `reason` attached. REQUIRES: !status.ok().
absl::Status WithReason(absl::Status status, FailureReason reason);

// The reason attached by WithReason, or kOther.
FailureReason ReasonOf(const absl::Status& status);

}  // namespace promfeed::upstream

#endif  // PROMFEED_UPSTREAM_ERRORS_H_
