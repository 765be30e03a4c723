// The one place that maps absl::Status to gRPC statuses (and, later, HTTP responses).
#ifndef PROMFEED_SERVER_STATUS_MAP_H_
#define PROMFEED_SERVER_STATUS_MAP_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace promfeed::server {

// Same code, same message; details dropped.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace promfeed::server

#endif  // PROMFEED_SERVER_STATUS_MAP_H_
