// GrpcServer: the daemon's gRPC listener: MetricFeed, grpc.health.v1 and server reflection.
// Thread-safe.
#ifndef PROMFEED_SERVER_GRPC_SERVER_H_
#define PROMFEED_SERVER_GRPC_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace grpc {
class Channel;
class Server;
class Service;
}  // namespace grpc

namespace promfeed::server {

// Transport security and authentication of the listener. Default: plaintext, no auth.
struct GrpcSecurity {
  std::string cert_file;             // PEM chain; empty: plaintext.
  std::string key_file;              // PEM key of cert_file.
  std::string client_ca_file;        // PEM CAs client certificates must chain to.
  bool require_client_cert = false;  // Mutual TLS. REQUIRES: client_ca_file set.
  // Accepted bearer tokens for promfeed.v1.MetricFeed; empty: no token needed.
  // REQUIRES: cert_file set when non-empty (tokens are checked on TLS connections).
  std::vector<std::string> bearer_tokens;
};

class GrpcServer {
 public:
  // Health service name that reports readiness (the empty name reports liveness).
  static constexpr char kServiceName[] = "promfeed.v1.MetricFeed";

  // Binds `address` (host:port; port 0 picks one) and starts serving `service`, which must
  // outlive the server. UNAVAILABLE naming the address when it cannot bind; INVALID_ARGUMENT
  // naming the file when a certificate or key cannot be read or used.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(const std::string& address,
                                                           grpc::Service* service,
                                                           const GrpcSecurity& security = {});
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  int port() const { return port_; }
  // Sets the readiness reported by grpc.health.v1 for kServiceName.
  void SetReady(bool ready);
  // A channel to this server that bypasses the network (and TLS), for self-checks.
  // REQUIRES: not shut down.
  std::shared_ptr<grpc::Channel> InProcessChannel();
  // Stops accepting calls; cancels calls still running after `deadline_ms`; waits for all.
  void Shutdown(int64_t deadline_ms);

 private:
  GrpcServer(std::unique_ptr<grpc::Server> server, int port);

  std::unique_ptr<grpc::Server> server_;
  const int port_;
};

}  // namespace promfeed::server

#endif  // PROMFEED_SERVER_GRPC_SERVER_H_
