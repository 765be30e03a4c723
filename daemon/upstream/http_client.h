// HttpClient: an HTTP/1.1 client for one upstream base URL (http or https), keeping one
// connection alive between requests. Requests are synchronous: each call runs the client's
// own event loop on the calling thread until the response arrives or the request fails.
// Thread-safety: one thread at a time makes requests; Cancel() may be called from any thread.
#ifndef PROMFEED_UPSTREAM_HTTP_CLIENT_H_
#define PROMFEED_UPSTREAM_HTTP_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "daemon/config/config.h"

namespace promfeed::upstream {

struct HttpResponse {
  int status = 0;  // HTTP status code; non-2xx answers are responses, not errors.
  std::string content_type;
  std::string body;  // Holds kJsonPadding (prom_json.h) spare capacity past size().
};

using FormParams = std::vector<std::pair<std::string, std::string>>;

// Receives a response body piece by piece; a piece is valid only during the call.
using BodyPieceFn = absl::FunctionRef<void(std::string_view piece)>;

struct HttpClientOptions {
  // Bound on name resolution + TCP connect + TLS handshake; 0 means the request timeout.
  // Either way a request never takes longer than UpstreamConfig::timeout_ms overall.
  int64_t connect_timeout_ms = 0;
};

class HttpClient {
 public:
  // Validates `config` (URL, TLS files); fails with INVALID_ARGUMENT naming the config key.
  // Credentials in the URL (user:pass@) are used for basic auth unless basic_auth is set.
  static absl::StatusOr<std::unique_ptr<HttpClient>> Create(const config::UpstreamConfig& config,
                                                            HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // GET `target` (a path with optional query string, appended to the base URL's path).
  // POST `path` with `params` as an application/x-www-form-urlencoded body.
  // The connection is reused; when the server closed an idle kept-alive connection the
  // request is retried once on a new one. Errors name the URL (never credentials):
  //   timeout -> UNAVAILABLE "upstream <url> timed out after 10s";
  //   resolve/connect/TLS/socket errors -> UNAVAILABLE;
  //   body over max_response_bytes -> RESOURCE_EXHAUSTED;
  //   unparseable HTTP -> DATA_LOSS; after Cancel() -> CANCELLED.
  // Each carries a FailureReason (errors.h).
  absl::StatusOr<HttpResponse> Get(std::string_view target);
  absl::StatusOr<HttpResponse> PostForm(std::string_view path, const FormParams& params);
  // As PostForm, but the body of a 2xx answer (Content-Length or chunked) goes to `on_body`
  // in pieces of at most 64 KiB as it arrives, and HttpResponse::body stays empty; any other
  // answer comes whole, as from PostForm. The same errors, limits and retry (a retry happens
  // only before any piece); an error in the middle of the body comes after the pieces before
  // it. If `on_body` throws, the connection is closed and the exception propagates.
  absl::StatusOr<HttpResponse> PostFormStreaming(std::string_view path, const FormParams& params,
                                                 BodyPieceFn on_body);

  // Aborts the request in flight, if any, and makes every later request fail with CANCELLED.
  // Thread-safe; returns without waiting.
  void Cancel();

  // The base URL without credentials, e.g. "http://prometheus:9090/prefix".
  const std::string& base_url() const;
  // TCP connections opened so far (keep-alive reuse shows as a small number).
  int64_t connections_opened() const;

 private:
  class Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// application/x-www-form-urlencoded: unreserved characters (A-Z a-z 0-9 - . _ ~) kept,
// space as '+', every other byte as %XX (upper-case hex).
std::string FormUrlEncode(const FormParams& params);

}  // namespace promfeed::upstream

#endif  // PROMFEED_UPSTREAM_HTTP_CLIENT_H_
