#include "daemon/web/web_server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>

namespace promfeed::web {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A blocking TCP connection to 127.0.0.1:port with a receive timeout.
class Conn {
 public:
  explicit Conn(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    timeval tv{.tv_sec = 10, .tv_usec = 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Conn() { close(fd_); }
  bool ok() const { return ok_; }
  void Send(const std::string& s) { ASSERT_EQ(write(fd_, s.data(), s.size()), ssize_t(s.size())); }
  // Reads one response: headers, then Content-Length bytes unless `head`.
  // Bytes past the response stay buffered for the next call (responses may arrive together).
  std::string ReadResponse(bool head = false) {
    std::string data = std::move(pending_);
    pending_.clear();
    size_t header_end = std::string::npos;
    while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
      if (!ReadMore(data)) return data;
    }
    size_t length = 0;
    if (size_t p = data.find("Content-Length: "); p != std::string::npos) {
      length = std::stoul(data.substr(p + 16));
    }
    const size_t want = header_end + 4 + (head ? 0 : length);
    while (data.size() < want && ReadMore(data)) {
    }
    if (data.size() > want) {
      pending_ = data.substr(want);
      data.resize(want);
    }
    return data;
  }
  // True when the server closed the connection (read returns 0).
  bool ClosedByPeer() {
    char c;
    return read(fd_, &c, 1) == 0;
  }

 private:
  bool ReadMore(std::string& data) {
    char buf[4096];
    const ssize_t n = read(fd_, buf, sizeof buf);
    if (n <= 0) return false;
    data.append(buf, static_cast<size_t>(n));
    return true;
  }
  int fd_;
  bool ok_ = false;
  std::string pending_;
};

std::string Get(int port, const std::string& method, const std::string& path) {
  Conn c(port);
  EXPECT_TRUE(c.ok());
  c.Send(method + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  return c.ReadResponse(method == "HEAD");
}

std::vector<Route> HelloRoutes() {
  return {{"/hello", {"GET", "HEAD"}, Sync([](const Request& r) {
             return Response{.body = "hello " + r.method + "\n"};
           })},
          {"/post", {"POST"}, Sync([](const Request& r) {
             return Response{.status = 201, .body = "got " + r.body};
           })}};
}

TEST(WebServerTest, RoutesGetAndPostToHandlers) {
  auto server = WebServer::Start("127.0.0.1:0", HelloRoutes());
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);
  std::string res = Get(port, "GET", "/hello?x=1");
  EXPECT_THAT(res, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(res, HasSubstr("Content-Type: text/plain; charset=utf-8\r\n"));
  EXPECT_THAT(res, HasSubstr("\r\n\r\nhello GET\n"));

  Conn c(port);
  c.Send("POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
  res = c.ReadResponse();
  EXPECT_THAT(res, StartsWith("HTTP/1.1 201 Created\r\n"));
  EXPECT_THAT(res, HasSubstr("\r\n\r\ngot abc"));
}

TEST(WebServerTest, HeadSendsLengthButNoBody) {
  auto server = WebServer::Start("127.0.0.1:0", HelloRoutes());
  ASSERT_TRUE(server.ok());
  Conn c((*server)->port());
  c.Send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string head = c.ReadResponse(/*head=*/true);
  EXPECT_THAT(head, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(head, HasSubstr("Content-Length: 11\r\n"));
  // The next bytes on the connection are the GET's response, not a HEAD body.
  const std::string get = c.ReadResponse();
  EXPECT_THAT(get, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(get, HasSubstr("hello GET"));
}

TEST(WebServerTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  auto server = WebServer::Start("127.0.0.1:0", HelloRoutes());
  ASSERT_TRUE(server.ok());
  EXPECT_THAT(Get((*server)->port(), "GET", "/nope"), StartsWith("HTTP/1.1 404 "));
  const std::string res = Get((*server)->port(), "GET", "/post");
  EXPECT_THAT(res, StartsWith("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_THAT(res, HasSubstr("Allow: POST\r\n"));
  EXPECT_THAT(res, HasSubstr("GET is not allowed on /post; use POST"));
}

TEST(WebServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  auto server = WebServer::Start("127.0.0.1:0", HelloRoutes());
  ASSERT_TRUE(server.ok());
  Conn c((*server)->port());
  for (int i = 0; i < 3; ++i) {
    c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_THAT(c.ReadResponse(), HasSubstr("hello GET")) << i;
  }
  c.Send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(c.ReadResponse(), HasSubstr("Connection: close"));
  EXPECT_TRUE(c.ClosedByPeer());
}

TEST(WebServerTest, HandlerMayAnswerLaterFromAnotherThread) {
  std::promise<Respond> handed;
  std::vector<Route> routes = {
      {"/later",
       {"POST"},
       [&](const Request&, Respond respond) { handed.set_value(std::move(respond)); }},
      {"/now", {"GET"}, Sync([](const Request&) { return Response{.body = "now"}; })}};
  auto server = WebServer::Start("127.0.0.1:0", std::move(routes));
  ASSERT_TRUE(server.ok());
  const int port = (*server)->port();
  Conn c(port);
  c.Send("POST /later HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  Respond respond = handed.get_future().get();
  // The server thread is free meanwhile: another connection is served.
  EXPECT_THAT(Get(port, "GET", "/now"), HasSubstr("\r\n\r\nnow"));
  std::thread([&] { respond({.status = 500, .body = "later"}); }).join();
  const std::string res = c.ReadResponse();
  EXPECT_THAT(res, StartsWith("HTTP/1.1 500 Internal Server Error\r\n"));
  EXPECT_THAT(res, HasSubstr("\r\n\r\nlater"));
}

TEST(WebServerTest, RespondingAfterStopAndDestructionIsHarmless) {
  std::promise<Respond> handed;
  auto server =
      WebServer::Start("127.0.0.1:0", {{"/later", {"POST"}, [&](const Request&, Respond respond) {
                                          handed.set_value(std::move(respond));
                                        }}});
  ASSERT_TRUE(server.ok());
  Conn c((*server)->port());
  c.Send("POST /later HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  Respond respond = handed.get_future().get();
  (*server)->Stop();
  EXPECT_TRUE(c.ClosedByPeer());  // Stop closes open connections.
  respond({.body = "too late"});
  server->reset();
  respond({.body = "much too late"});  // Run under ASan: no use after free.
}

TEST(WebServerTest, BodyOverLimitIs413) {
  auto server = WebServer::Start("127.0.0.1:0", HelloRoutes());
  ASSERT_TRUE(server.ok());
  Conn c((*server)->port());
  c.Send("POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
  EXPECT_THAT(c.ReadResponse(), StartsWith("HTTP/1.1 413 "));
}

TEST(WebServerTest, AddressInUseIsUnavailableNamingTheAddress) {
  auto first = WebServer::Start("127.0.0.1:0", HelloRoutes());
  ASSERT_TRUE(first.ok());
  const std::string address = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = WebServer::Start(address, HelloRoutes());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr(address));
  EXPECT_THAT(second.status().message(), HasSubstr("in use"));
  EXPECT_THAT(second.status().message(), HasSubstr("--web.listen-address"));
}

TEST(WebServerTest, MalformedAddressIsInvalidArgument) {
  for (const char* bad : {"127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000"}) {
    auto s = WebServer::Start(bad, {});
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(s.status().message(), HasSubstr("host:port")) << bad;
  }
}

}  // namespace
}  // namespace promfeed::web
