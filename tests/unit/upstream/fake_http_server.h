// FakeHttpServer: an in-process HTTP/1.1 server on 127.0.0.1 (port chosen by the kernel) for
// upstream tests. It records every request, answers through a handler, supports keep-alive,
// and can hang or drop connections on demand. Thread-safe; one thread per connection.
#ifndef PROMFEED_TESTS_UNIT_UPSTREAM_FAKE_HTTP_SERVER_H_
#define PROMFEED_TESTS_UNIT_UPSTREAM_FAKE_HTTP_SERVER_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace promfeed::testing {

struct FakeRequest {
  std::string method;  // "GET", "POST".
  std::string target;  // Path and query string.
  std::string body;
  std::map<std::string, std::string> headers;  // Lower-case names.
  int connection = 0;                          // 1-based index of the TCP connection.
};

struct FakeResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  // Close the TCP connection after this response without announcing it (no
  // "Connection: close"), as a server whose keep-alive idle timeout fired.
  bool drop_connection_after = false;
  // Never answer; the connection stays open until the server stops.
  bool hang = false;
  // Send the body with "Transfer-Encoding: chunked" (chunks of piece_bytes, or one chunk)
  // instead of Content-Length.
  bool chunked = false;
  // Send the response in writes of this many bytes, 1 ms apart, so that the client reads
  // the body in pieces; 0: one write.
  size_t piece_bytes = 0;
  // Close the connection once this many body bytes are sent, in the middle of the body.
  size_t drop_after_body_bytes = std::string::npos;
  // With drop_after_body_bytes: stop sending there but keep the connection open until the
  // server stops.
  bool hang_instead_of_drop = false;
};

class FakeHttpServer {
 public:
  using Handler = std::function<FakeResponse(const FakeRequest&)>;

  explicit FakeHttpServer(Handler handler);
  ~FakeHttpServer();  // Stops.
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Closes the listener and every connection (hanging ones too) and joins all threads.
  void Stop();

  std::vector<FakeRequest> requests() const;
  int connections_accepted() const;
  // Waits until at least `n` requests arrived; false if `timeout` passed first.
  bool WaitForRequests(size_t n, std::chrono::milliseconds timeout) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
  int port_ = 0;
};

}  // namespace promfeed::testing

#endif  // PROMFEED_TESTS_UNIT_UPSTREAM_FAKE_HTTP_SERVER_H_
