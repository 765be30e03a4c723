// WebServer: a small HTTP/1.1 server (Boost.Beast) on one thread that routes exact paths to
// handlers; it answers 404 for unknown paths and 405 (with Allow) for other methods.
// Thread-safe: handlers run on the server thread and may answer later from any thread.
#ifndef PROMFEED_WEB_WEB_SERVER_H_
#define PROMFEED_WEB_WEB_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace promfeed::web {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // The target without its query string.
  std::string body;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Sends the response; call exactly once, from any thread. Calling it after the server has
// stopped does nothing.
using Respond = std::function<void(Response)>;

struct Route {
  std::string path;                  // Exact match, e.g. "/-/ready".
  std::vector<std::string> methods;  // e.g. {"GET", "HEAD"}; HEAD answers without the body.
  // Runs on the server thread; keep it short or answer from another thread via `respond`.
  std::function<void(const Request&, Respond respond)> handler;
};

// A handler that answers at once.
std::function<void(const Request&, Respond)> Sync(std::function<Response(const Request&)> fn);

class WebServer {
 public:
  // Binds `address` (host:port, IPv6 as [::1]:port; port 0 picks one) and starts serving.
  // INVALID_ARGUMENT for a malformed address, UNAVAILABLE naming the address when it cannot
  // be bound (e.g. in use).
  static absl::StatusOr<std::unique_ptr<WebServer>> Start(const std::string& address,
                                                          std::vector<Route> routes);
  ~WebServer();  // Stops.
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  int port() const;
  // Closes the listener and every connection, then joins the thread. Idempotent.
  void Stop();

  struct Impl;

 private:
  explicit WebServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace promfeed::web

#endif  // PROMFEED_WEB_WEB_SERVER_H_
