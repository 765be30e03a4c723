#include "daemon/server/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/security/server_credentials.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <array>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string_view>

#include "absl/status/status.h"

namespace promfeed::server {
namespace {

using Digest = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

Digest Sha256(std::string_view s) {
  Digest d;
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
  return d;
}

// Checks `authorization: Bearer <token>` on every call except health checks and reflection.
// Tokens are compared as SHA-256 digests with CRYPTO_memcmp: time depends on neither the
// token's content nor its length.
class BearerAuth final : public grpc::AuthMetadataProcessor {
 public:
  explicit BearerAuth(const std::vector<std::string>& tokens) {
    for (const std::string& t : tokens) digests_.push_back(Sha256(t));
  }

  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* /*context*/,
                       OutputMetadata* /*consumed*/, OutputMetadata* /*response*/) override {
    const auto path = metadata.find(":path");
    if (path != metadata.end()) {
      const std::string method(path->second.data(), path->second.size());
      if (method.starts_with("/grpc.health.v1.Health/") ||
          method.starts_with("/grpc.reflection.")) {
        return grpc::Status::OK;
      }
    }
    const auto auth = metadata.find("authorization");
    if (auth == metadata.end()) {
      return {grpc::StatusCode::UNAUTHENTICATED,
              "missing bearer token: send metadata 'authorization: Bearer <token>'"};
    }
    const std::string_view value(auth->second.data(), auth->second.size());
    constexpr std::string_view kScheme = "bearer ";
    std::string scheme(value.substr(0, kScheme.size()));
    for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme != kScheme || value.size() == kScheme.size()) {
      return {grpc::StatusCode::UNAUTHENTICATED,
              "malformed authorization metadata: expected 'Bearer <token>'"};
    }
    const Digest given = Sha256(value.substr(kScheme.size()));
    int matches = 0;
    for (const Digest& d : digests_) {
      matches |= CRYPTO_memcmp(d.data(), given.data(), d.size()) == 0 ? 1 : 0;
    }
    if (matches == 0) {
      return {grpc::StatusCode::PERMISSION_DENIED, "the bearer token is not accepted"};
    }
    return grpc::Status::OK;
  }

 private:
  std::vector<Digest> digests_;
};

absl::StatusOr<std::string> ReadPem(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || text.str().empty()) {
    return absl::InvalidArgumentError("cannot read the gRPC TLS " + std::string(what) + " " + path +
                                      "; check the path and the file's permissions");
  }
  return text.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const GrpcSecurity& sec) {
  if (sec.cert_file.empty()) {
    if (!sec.bearer_tokens.empty()) {
      return absl::InvalidArgumentError("gRPC bearer tokens need TLS (server.tls_config)");
    }
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions options(
      sec.require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                              : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  absl::StatusOr<std::string> cert = ReadPem(sec.cert_file, "cert_file");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPem(sec.key_file, "key_file");
  if (!key.ok()) return key.status();
  pair.cert_chain = *std::move(cert);
  pair.private_key = *std::move(key);
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!sec.client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPem(sec.client_ca_file, "client_ca_file");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *std::move(ca);
  }
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::SslServerCredentials(options);
  if (!sec.bearer_tokens.empty()) {
    creds->SetAuthMetadataProcessor(std::make_shared<BearerAuth>(sec.bearer_tokens));
  }
  return creds;
}

}  // namespace

GrpcServer::GrpcServer(std::unique_ptr<grpc::Server> server, int port)
    : server_(std::move(server)), port_(port) {}

GrpcServer::~GrpcServer() { Shutdown(0); }

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(const std::string& address,
                                                              grpc::Service* service,
                                                              const GrpcSecurity& security) {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = Credentials(security);
  if (!creds.ok()) return creds.status();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, *creds, &port);
  builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::string tls_hint;
    if (!security.cert_file.empty()) {
      tls_hint = "; or the TLS certificate " + security.cert_file + " and key " +
                 security.key_file + " are not valid PEM or do not match";
    }
    return absl::UnavailableError("cannot listen for gRPC on " + address +
                                  ": the address is invalid or in use; set "
                                  "--grpc.listen-address or server.grpc_listen_address" +
                                  tls_hint);
  }
  server->GetHealthCheckService()->SetServingStatus(kServiceName, false);
  return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(server), port));
}

void GrpcServer::SetReady(bool ready) {
  if (server_) server_->GetHealthCheckService()->SetServingStatus(kServiceName, ready);
}

std::shared_ptr<grpc::Channel> GrpcServer::InProcessChannel() {
  return server_->InProcessChannel(grpc::ChannelArguments());
}

void GrpcServer::Shutdown(int64_t deadline_ms) {
  if (!server_) return;
  server_->GetHealthCheckService()->Shutdown();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
  server_->Wait();
  server_.reset();
}

}  // namespace promfeed::server
