// GrpcServer: the daemon's gRPC listener: MetricFeed, grpc.health.v1 and server reflection.
// Thread-safe.
#ifndef PROMFEED_SERVER_GRPC_SERVER_H_
#define PROMFEED_SERVER_GRPC_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace grpc {
class Server;
class Service;
}  // namespace grpc

namespace promfeed::server {

class GrpcServer {
 public:
  // Health service name that reports readiness (the empty name reports liveness).
  static constexpr char kServiceName[] = "promfeed.v1.MetricFeed";

  // Binds `address` (host:port; port 0 picks one) and starts serving `service`, which must
  // outlive the server. UNAVAILABLE naming the address when it cannot bind.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(const std::string& address,
                                                           grpc::Service* service);
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  int port() const { return port_; }
  // Sets the readiness reported by grpc.health.v1 for kServiceName.
  void SetReady(bool ready);
  // Stops accepting calls; cancels calls still running after `deadline_ms`; waits for all.
  void Shutdown(int64_t deadline_ms);

 private:
  GrpcServer(std::unique_ptr<grpc::Server> server, int port);

  std::unique_ptr<grpc::Server> server_;
  const int port_;
};

}  // namespace promfeed::server

#endif  // PROMFEED_SERVER_GRPC_SERVER_H_
