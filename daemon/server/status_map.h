// The one place that maps absl::Status to gRPC statuses (and, later, HTTP responses).
#ifndef PROMFEED_SERVER_STATUS_MAP_H_
#define PROMFEED_SERVER_STATUS_MAP_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace promfeed::server {

// Same code, same message; details dropped.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The HTTP status code for `status` (200 for OK), as grpc-gateway maps them: INVALID_ARGUMENT
// 400, NOT_FOUND 404, UNAVAILABLE 503, INTERNAL and unknown codes 500, and so on.
int ToHttpStatus(const absl::Status& status);

}  // namespace promfeed::server

#endif  // PROMFEED_SERVER_STATUS_MAP_H_
