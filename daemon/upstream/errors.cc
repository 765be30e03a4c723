#include "daemon/upstream/errors.h"

#include <optional>

#include "absl/strings/cord.h"

namespace promfeed::upstream {
namespace {

constexpr std::string_view kReasonPayload = "type.googleapis.com/promfeed.upstream.FailureReason";

}  // namespace

std::string_view FailureReasonName(FailureReason reason) {
  switch (reason) {
    case FailureReason::kTimeout:
      return "timeout";
    case FailureReason::kConnect:
      return "connect";
    case FailureReason::kHttpStatus:
      return "http_status";
    case FailureReason::kDecode:
      return "decode";
    case FailureReason::kApiError:
      return "api_error";
    case FailureReason::kLimit:
      return "limit";
    case FailureReason::kOther:
      break;
  }
  return "other";
}

absl::Status WithReason(absl::Status status, FailureReason reason) {
  if (!status.ok())
    status.SetPayload(absl::string_view(kReasonPayload.data(), kReasonPayload.size()),
                      absl::Cord(absl::string_view(FailureReasonName(reason).data(),
                                                   FailureReasonName(reason).size())));
  return status;
}

FailureReason ReasonOf(const absl::Status& status) {
  auto payload = status.GetPayload(absl::string_view(kReasonPayload.data(), kReasonPayload.size()));
  if (!payload) return FailureReason::kOther;
  for (FailureReason r :
       {FailureReason::kTimeout, FailureReason::kConnect, FailureReason::kHttpStatus,
        FailureReason::kDecode, FailureReason::kApiError, FailureReason::kLimit}) {
    if (*payload == std::string(FailureReasonName(r))) return r;
  }
  return FailureReason::kOther;
}

}  // namespace promfeed::upstream
