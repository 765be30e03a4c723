// Config: the daemon's configuration, loaded from a YAML file shaped like prometheus.yml.
// A value type; thread-compatible. See config/promfeed.example.yml for every key and default.
#ifndef PROMFEED_CONFIG_CONFIG_H_
#define PROMFEED_CONFIG_CONFIG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/model/selector.h"

namespace promfeed::config {

struct BasicAuth {
  std::string username;
  std::string password;       // Inline secret; exclusive with password_file.
  std::string password_file;  // Read at load time.
};

struct TlsConfig {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string server_name;
  bool insecure_skip_verify = false;
};

struct UpstreamConfig {
  std::string url = "http://localhost:9090";  // Base URL; /api/v1/... is appended.
  int64_t timeout_ms = 10'000;                // Per request: connect + write + read.
  std::string bearer_token_file;              // Token read at load time (trimmed).
  std::string bearer_token;                   // Filled from bearer_token_file; never logged.
  std::optional<BasicAuth> basic_auth;
  std::map<std::string, std::string> headers;  // Extra request headers.
  TlsConfig tls_config;
  int64_t max_response_bytes = 256LL << 20;  // Response bodies above this fail the poll.
};

// `server.tls_config`: TLS for the gRPC listener, optionally verifying client certificates.
struct ServerTlsConfig {
  std::string cert_file;             // Server certificate chain (PEM); empty: plaintext gRPC.
  std::string key_file;              // Its private key (PEM).
  std::string client_ca_file;        // CA bundle that client certificates must chain to.
  bool require_client_cert = false;  // `client_auth: require` (mutual TLS).
  bool enabled() const { return !cert_file.empty(); }
};

// `server.auth`: bearer tokens accepted by promfeed.v1.MetricFeed (health stays open).
struct ServerAuthConfig {
  std::string bearer_tokens_file;
  std::vector<std::string> bearer_tokens;  // Read at load time; never logged.
};

struct Input {
  enum class Kind { kSelector, kExpr };
  Kind kind = Kind::kSelector;
  Selector selector;  // kSelector: polled as raw samples.
  std::string name;   // kExpr: becomes __name__ of the result series.
  std::string expr;   // kExpr: PromQL evaluated on the poll grid with query_range.
  // Where the input was defined, for log lines: "file:line:column".
  std::string location;
};

struct Config {
  // `global:`
  int64_t poll_interval_ms = 15'000;  // Ignored when poll_interval_auto.
  bool poll_interval_auto = false;    // `poll_interval: auto`: Prometheus's scrape_interval.
  int64_t backfill_ms = 3'600'000;    // Span loaded on start; <= retention.
  // `inputs:`
  std::vector<Input> inputs;
  // `upstream:`
  UpstreamConfig upstream;
  // `storage:`
  int64_t retention_ms = 3'600'000;  // Ring capacity is retention / poll interval (+slack).
  int64_t max_series = 100'000;
  // `server:`
  std::string grpc_listen_address = "127.0.0.1:9401";
  std::string web_listen_address = "127.0.0.1:9400";
  int32_t max_streams = 256;
  int64_t stream_cache_bytes = 256 << 20;  // Finished history streams kept; 0: none.
  int64_t shutdown_timeout_ms = 5'000;     // SIGTERM: streams are cancelled after this.
  ServerTlsConfig server_tls;
  ServerAuthConfig server_auth;
  // `log:`
  std::string log_level = "info";     // debug, info, warn, error.
  std::string log_format = "logfmt";  // logfmt or json.
};

// Parses YAML text. `filename` only labels errors. Errors are INVALID_ARGUMENT with
// "file:line:column: field: what is wrong and what to write instead"; unknown keys, wrong
// types, bad durations, bad selectors, missing required fields and unreadable secret files
// are all errors. Relative file paths in the config resolve against the config's directory.
absl::StatusOr<Config> ParseConfig(std::string_view yaml_text, std::string_view filename);

// Reads and parses `path`; NOT_FOUND / PERMISSION_DENIED name the path when it cannot be read.
absl::StatusOr<Config> LoadConfigFile(const std::string& path);

}  // namespace promfeed::config

#endif  // PROMFEED_CONFIG_CONFIG_H_
