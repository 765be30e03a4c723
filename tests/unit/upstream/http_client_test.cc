#include "daemon/upstream/http_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "daemon/upstream/errors.h"
#include "daemon/upstream/prom_json.h"
#include "tests/unit/upstream/fake_http_server.h"

namespace promfeed::upstream {
namespace {

using ::promfeed::testing::FakeHttpServer;
using ::promfeed::testing::FakeRequest;
using ::promfeed::testing::FakeResponse;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

config::UpstreamConfig ConfigFor(const FakeHttpServer& server) {
  config::UpstreamConfig c;
  c.url = server.url();
  c.timeout_ms = 5'000;
  return c;
}

std::unique_ptr<HttpClient> MustCreate(const config::UpstreamConfig& c) {
  absl::StatusOr<std::unique_ptr<HttpClient>> client = HttpClient::Create(c);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

FakeResponse Ok(std::string body = R"({"status":"success"})") {
  FakeResponse r;
  r.body = std::move(body);
  return r;
}

TEST(FormUrlEncodeTest, EncodesReservedBytes) {
  EXPECT_EQ(FormUrlEncode({{"query", "sum by (job)(rate(x{a=\"b c\"}[1m]))"}, {"time", "1.5"}}),
            "query=sum+by+%28job%29%28rate%28x%7Ba%3D%22b+c%22%7D%5B1m%5D%29%29&time=1.5");
  EXPECT_EQ(FormUrlEncode({{"a&b", "1+2=3%"}, {"u", "\xc3\xa9~-._"}}),
            "a%26b=1%2B2%3D3%25&u=%C3%A9~-._");
  EXPECT_EQ(FormUrlEncode({}), "");
}

TEST(HttpClientTest, RejectsBadConfig) {
  config::UpstreamConfig c;
  for (const char* url : {"ftp://x", "http://", "http://host:99999", "http://host:abc",
                          "http://host?x=1", "http://[::1"}) {
    c.url = url;
    absl::StatusOr<std::unique_ptr<HttpClient>> client = HttpClient::Create(c);
    EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument) << url;
    EXPECT_THAT(Msg(client.status()), HasSubstr("upstream.url")) << url;
  }
  c.url = "http://localhost:9090";
  c.timeout_ms = 0;
  EXPECT_FALSE(HttpClient::Create(c).ok());
  c.timeout_ms = 1000;
  c.url = "https://localhost:9090";
  c.tls_config.ca_file = "/nonexistent/ca.pem";
  absl::StatusOr<std::unique_ptr<HttpClient>> client = HttpClient::Create(c);
  EXPECT_THAT(Msg(client.status()), HasSubstr("upstream.tls_config.ca_file /nonexistent/ca.pem"));
}

TEST(HttpClientTest, GetSendsHeadersAndReusesConnection) {
  FakeHttpServer server([](const FakeRequest&) { return Ok(); });
  config::UpstreamConfig c = ConfigFor(server);
  c.url += "/prom/";
  c.bearer_token = "s3cret";
  c.headers["X-Scope-OrgID"] = "tenant-1";
  std::unique_ptr<HttpClient> client = MustCreate(c);
  EXPECT_EQ(client->base_url(), server.url() + "/prom");
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<HttpResponse> r = client->Get("/api/v1/status/config");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, R"({"status":"success"})");
    EXPECT_EQ(r->content_type, "application/json");
    EXPECT_GE(r->body.capacity() - r->body.size(), kJsonPadding);
  }
  std::vector<FakeRequest> reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  for (const FakeRequest& r : reqs) {
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.target, "/prom/api/v1/status/config");
    EXPECT_EQ(r.connection, 1) << "keep-alive: every request on the first connection";
    EXPECT_EQ(r.headers.at("authorization"), "Bearer s3cret");
    EXPECT_EQ(r.headers.at("x-scope-orgid"), "tenant-1");
    EXPECT_THAT(r.headers.at("user-agent"), HasSubstr("promfeed/"));
    EXPECT_EQ(r.headers.at("accept-encoding"), "identity");
    EXPECT_EQ(r.headers.at("host"), "127.0.0.1:" + std::to_string(server.port()));
  }
  EXPECT_EQ(server.connections_accepted(), 1);
  EXPECT_EQ(client->connections_opened(), 1);
}

TEST(HttpClientTest, PostFormEncodesBodyAndBasicAuth) {
  FakeHttpServer server([](const FakeRequest&) { return Ok(); });
  config::UpstreamConfig c = ConfigFor(server);
  c.basic_auth =
      config::BasicAuth{.username = "alice", .password = "p@ss:word", .password_file = ""};
  std::unique_ptr<HttpClient> client = MustCreate(c);
  absl::StatusOr<HttpResponse> r = client->PostForm(
      "/api/v1/query", {{"query", "up{job=\"a b\"}[5m]"}, {"time", "1700000000.123"}});
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<FakeRequest> reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/api/v1/query");
  EXPECT_EQ(reqs[0].headers.at("content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(reqs[0].body, "query=up%7Bjob%3D%22a+b%22%7D%5B5m%5D&time=1700000000.123");
  // base64("alice:p@ss:word")
  EXPECT_EQ(reqs[0].headers.at("authorization"), "Basic YWxpY2U6cEBzczp3b3Jk");
}

TEST(HttpClientTest, UrlCredentialsBecomeBasicAuthAndStayOutOfMessages) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeResponse r;
    r.hang = true;
    return r;
  });
  config::UpstreamConfig c;
  c.url = "http://bob:hunter2@127.0.0.1:" + std::to_string(server.port());
  c.timeout_ms = 200;
  std::unique_ptr<HttpClient> client = MustCreate(c);
  EXPECT_THAT(client->base_url(), Not(HasSubstr("hunter2")));
  absl::StatusOr<HttpResponse> r = client->Get("/api/v1/query?query=up");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Msg(r.status()), Not(HasSubstr("hunter2")));
  EXPECT_THAT(Msg(r.status()), Not(HasSubstr("bob")));
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].headers.at("authorization"), "Basic Ym9iOmh1bnRlcjI=");
  server.Stop();
}

TEST(HttpClientTest, HangingServerTimesOutWithinBound) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeResponse r;
    r.hang = true;
    return r;
  });
  config::UpstreamConfig c = ConfigFor(server);
  c.timeout_ms = 300;
  std::unique_ptr<HttpClient> client = MustCreate(c);
  const Clock::time_point start = Clock::now();
  absl::StatusOr<HttpResponse> r = client->Get("/api/v1/query?query=up");
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ReasonOf(r.status()), FailureReason::kTimeout);
  EXPECT_THAT(Msg(r.status()),
              HasSubstr("upstream " + server.url() + "/api/v1/query timed out after 300ms"));
  EXPECT_GE(elapsed, std::chrono::milliseconds(280));
  EXPECT_LT(elapsed, std::chrono::milliseconds(2000));
  server.Stop();
}

TEST(HttpClientTest, BodyOverLimitIsResourceExhausted) {
  FakeHttpServer server([](const FakeRequest&) { return Ok(std::string(200'000, 'x')); });
  config::UpstreamConfig c = ConfigFor(server);
  c.max_response_bytes = 100'000;
  std::unique_ptr<HttpClient> client = MustCreate(c);
  absl::StatusOr<HttpResponse> r = client->Get("/api/v1/query");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ReasonOf(r.status()), FailureReason::kLimit);
  EXPECT_THAT(Msg(r.status()), HasSubstr("exceeds 100000 bytes (upstream.max_response_bytes)"));
  // Exactly at the limit passes, on a fresh connection.
  c.max_response_bytes = 200'000;
  client = MustCreate(c);
  r = client->Get("/api/v1/query");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body.size(), 200'000u);
}

TEST(HttpClientTest, ReconnectsTransparentlyWhenServerClosedKeepAlive) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeResponse r = Ok();
    r.drop_connection_after = true;
    return r;
  });
  std::unique_ptr<HttpClient> client = MustCreate(ConfigFor(server));
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<HttpResponse> r = client->PostForm("/api/v1/query", {{"query", "up"}});
    ASSERT_TRUE(r.ok()) << "request " << i << ": " << r.status();
  }
  std::vector<FakeRequest> reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].connection, 1);
  EXPECT_EQ(reqs[1].connection, 2);
  EXPECT_EQ(reqs[2].connection, 3);
  for (const FakeRequest& r : reqs) EXPECT_EQ(r.body, "query=up");
}

TEST(HttpClientTest, NonSuccessStatusIsAResponse) {
  FakeHttpServer server([](const FakeRequest& req) {
    FakeResponse r;
    if (req.target == "/api/v1/query") {
      r.status = 400;
      r.body = R"({"status":"error","errorType":"bad_data","error":"parse error"})";
    } else {
      r.status = 502;
      r.content_type = "text/plain";
      r.body = "bad gateway";
    }
    return r;
  });
  std::unique_ptr<HttpClient> client = MustCreate(ConfigFor(server));
  absl::StatusOr<HttpResponse> r = client->PostForm("/api/v1/query", {{"query", "up{"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("bad_data"));
  r = client->Get("/other");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(r->body, "bad gateway");
  EXPECT_EQ(server.connections_accepted(), 1);
}

TEST(HttpClientTest, ConnectionRefusedIsConnectFailure) {
  int port = 0;
  {
    FakeHttpServer server([](const FakeRequest&) { return Ok(); });
    port = server.port();
  }  // Closed: nothing listens on the port now.
  config::UpstreamConfig c;
  c.url = "http://127.0.0.1:" + std::to_string(port);
  c.timeout_ms = 2'000;
  std::unique_ptr<HttpClient> client = MustCreate(c);
  absl::StatusOr<HttpResponse> r = client->Get("/api/v1/query");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ReasonOf(r.status()), FailureReason::kConnect);
  EXPECT_THAT(Msg(r.status()), HasSubstr(c.url + "/api/v1/query: connect"));
}

TEST(HttpClientTest, CancelAbortsRequestInFlightAndLaterOnes) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeResponse r;
    r.hang = true;
    return r;
  });
  config::UpstreamConfig c = ConfigFor(server);
  c.timeout_ms = 30'000;
  std::unique_ptr<HttpClient> client = MustCreate(c);
  std::thread canceller([&] {
    ASSERT_TRUE(server.WaitForRequests(1, std::chrono::seconds(10)));
    client->Cancel();
  });
  const Clock::time_point start = Clock::now();
  absl::StatusOr<HttpResponse> r = client->Get("/api/v1/query");
  canceller.join();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
  EXPECT_EQ(client->Get("/api/v1/query").status().code(), absl::StatusCode::kCancelled);
  server.Stop();
}

// --- PostFormStreaming: 2xx bodies in pieces as they arrive.

// A body of `size` bytes that shows where each byte belongs.
std::string Numbered(size_t size) {
  std::string out;
  for (size_t i = 0; out.size() < size; ++i) out += std::to_string(i) + ",";
  out.resize(size);
  return out;
}

struct Pieces {
  std::string body;  // The pieces, joined.
  size_t count = 0;
};

absl::StatusOr<HttpResponse> PostStreaming(HttpClient& client, Pieces& pieces) {
  return client.PostFormStreaming("/api/v1/query", {{"query", "up"}}, [&](std::string_view piece) {
    EXPECT_LE(piece.size(), 64u * 1024);
    pieces.body.append(piece);
    ++pieces.count;
  });
}

TEST(HttpClientStreamingTest, ContentLengthAndChunkedBodiesArriveInPieces) {
  const std::string body = Numbered(300'000);
  for (bool chunked : {false, true}) {
    SCOPED_TRACE(chunked ? "chunked" : "Content-Length");
    FakeHttpServer server([&](const FakeRequest&) {
      FakeResponse r = Ok(body);
      r.chunked = chunked;
      r.piece_bytes = 70'001;
      return r;
    });
    std::unique_ptr<HttpClient> client = MustCreate(ConfigFor(server));
    for (int i = 0; i < 2; ++i) {  // The second on the same kept-alive connection.
      Pieces pieces;
      absl::StatusOr<HttpResponse> r = PostStreaming(*client, pieces);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->content_type, "application/json");
      EXPECT_TRUE(r->body.empty());
      EXPECT_EQ(pieces.body, body);
      EXPECT_GE(pieces.count, 5u);
    }
    EXPECT_EQ(client->connections_opened(), 1);
    EXPECT_EQ(server.requests().back().body, "query=up");
  }
}

TEST(HttpClientStreamingTest, BodiesOverBeastsDefaultLimit) {
  const std::string body = Numbered(9'000'000);  // Beast's own default limit is 8 MB.
  for (bool chunked : {false, true}) {
    FakeHttpServer server([&](const FakeRequest&) {
      FakeResponse r = Ok(body);
      r.chunked = chunked;
      return r;
    });
    std::unique_ptr<HttpClient> client = MustCreate(ConfigFor(server));
    Pieces pieces;
    absl::StatusOr<HttpResponse> r = PostStreaming(*client, pieces);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(pieces.body == body) << chunked;
    r = client->PostForm("/api/v1/query", {});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->body == body) << chunked;
  }
}

TEST(HttpClientStreamingTest, SmallPiecesAndEmptyBodies) {
  for (bool chunked : {false, true}) {
    for (const std::string& body : {std::string(R"({"status":"success"})"), std::string()}) {
      FakeHttpServer server([&](const FakeRequest&) {
        FakeResponse r = Ok(body);
        r.chunked = chunked;
        r.piece_bytes = 3;
        return r;
      });
      std::unique_ptr<HttpClient> client = MustCreate(ConfigFor(server));
      Pieces pieces;
      absl::StatusOr<HttpResponse> r = PostStreaming(*client, pieces);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(pieces.body, body) << chunked;
    }
  }
}

TEST(HttpClientStreamingTest, NonSuccessAnswersComeWhole) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeResponse r;
    r.status = 400;
    r.body = R"({"status":"error","errorType":"bad_data","error":"parse error"})";
    r.chunked = true;
    r.piece_bytes = 10;
    return r;
  });
  std::unique_ptr<HttpClient> client = MustCreate(ConfigFor(server));
  Pieces pieces;
  absl::StatusOr<HttpResponse> r = PostStreaming(*client, pieces);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("bad_data"));
  EXPECT_EQ(pieces.count, 0u);
}

TEST(HttpClientStreamingTest, BodyOverLimitMidStreamIsResourceExhausted) {
  for (bool chunked : {false, true}) {
    SCOPED_TRACE(chunked ? "chunked" : "Content-Length");
    FakeHttpServer server([&](const FakeRequest&) {
      FakeResponse r = Ok(Numbered(300'000));
      r.chunked = chunked;
      r.piece_bytes = 30'000;
      return r;
    });
    config::UpstreamConfig c = ConfigFor(server);
    c.max_response_bytes = 100'000;
    std::unique_ptr<HttpClient> client = MustCreate(c);
    Pieces pieces;
    absl::StatusOr<HttpResponse> r = PostStreaming(*client, pieces);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(ReasonOf(r.status()), FailureReason::kLimit);
    EXPECT_THAT(Msg(r.status()), HasSubstr("upstream " + server.url() +
                                           "/api/v1/query: response body exceeds 100000 bytes"));
    EXPECT_LE(pieces.body.size(), 100'000u);
    // Content-Length says so before the body; chunks only as they come.
    if (chunked) {
      EXPECT_GT(pieces.count, 0u);
    } else {
      EXPECT_EQ(pieces.count, 0u);
    }
  }
}

TEST(HttpClientStreamingTest, ConnectionDroppedMidBodyIsUnavailable) {
  for (bool chunked : {false, true}) {
    SCOPED_TRACE(chunked ? "chunked" : "Content-Length");
    int requests = 0;
    FakeHttpServer server([&](const FakeRequest&) {
      FakeResponse r = Ok(Numbered(200'000));
      r.chunked = chunked;
      r.piece_bytes = 50'000;
      if (++requests == 1) r.drop_after_body_bytes = 120'000;
      return r;
    });
    std::unique_ptr<HttpClient> client = MustCreate(ConfigFor(server));
    Pieces pieces;
    absl::StatusOr<HttpResponse> r = PostStreaming(*client, pieces);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(ReasonOf(r.status()), FailureReason::kConnect);
    EXPECT_THAT(Msg(r.status()), HasSubstr("upstream " + server.url() + "/api/v1/query"));
    EXPECT_EQ(pieces.body, Numbered(200'000).substr(0, pieces.body.size()));
    EXPECT_LE(pieces.body.size(), 120'000u);
    // Not retried (a body had started), and the next request gets a new connection.
    EXPECT_EQ(server.requests().size(), 1u);
    Pieces again;
    r = PostStreaming(*client, again);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(again.body, Numbered(200'000));
    EXPECT_EQ(client->connections_opened(), 2);
  }
}

TEST(HttpClientStreamingTest, StallMidBodyTimesOut) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeResponse r = Ok(Numbered(200'000));
    r.chunked = true;
    r.piece_bytes = 50'000;
    r.drop_after_body_bytes = 100'000;
    r.hang_instead_of_drop = true;
    return r;
  });
  config::UpstreamConfig c = ConfigFor(server);
  c.timeout_ms = 300;
  std::unique_ptr<HttpClient> client = MustCreate(c);
  Pieces pieces;
  const Clock::time_point start = Clock::now();
  absl::StatusOr<HttpResponse> r = PostStreaming(*client, pieces);
  const Clock::duration elapsed = Clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ReasonOf(r.status()), FailureReason::kTimeout);
  EXPECT_THAT(Msg(r.status()),
              HasSubstr("upstream " + server.url() + "/api/v1/query timed out after 300ms"));
  EXPECT_GT(pieces.count, 0u);
  EXPECT_LE(pieces.body.size(), 100'000u);
  EXPECT_GE(elapsed, std::chrono::milliseconds(280));
  EXPECT_LT(elapsed, std::chrono::milliseconds(2000));
  server.Stop();
}

TEST(HttpClientStreamingTest, ReconnectsWhenServerClosedKeepAlive) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeResponse r = Ok(Numbered(100'000));
    r.drop_connection_after = true;
    return r;
  });
  std::unique_ptr<HttpClient> client = MustCreate(ConfigFor(server));
  for (int i = 0; i < 3; ++i) {
    Pieces pieces;
    absl::StatusOr<HttpResponse> r = PostStreaming(*client, pieces);
    ASSERT_TRUE(r.ok()) << "request " << i << ": " << r.status();
    EXPECT_EQ(pieces.body, Numbered(100'000));
  }
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(server.connections_accepted(), 3);
}

TEST(HttpClientStreamingTest, CancelInTheMiddleOfABody) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeResponse r = Ok(Numbered(2'000'000));
    r.chunked = true;
    r.piece_bytes = 20'000;  // 100 writes 1 ms apart: the body takes 100 ms or more.
    return r;
  });
  std::unique_ptr<HttpClient> client = MustCreate(ConfigFor(server));
  size_t received = 0;
  absl::StatusOr<HttpResponse> r =
      client->PostFormStreaming("/api/v1/query", {}, [&](std::string_view piece) {
        if (received == 0) client->Cancel();
        received += piece.size();
      });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
  EXPECT_LT(received, 2'000'000u);
  EXPECT_EQ(client->PostForm("/api/v1/query", {}).status().code(), absl::StatusCode::kCancelled);
  server.Stop();
}

TEST(HttpClientStreamingTest, ThrowingReceiverClosesTheConnection) {
  FakeHttpServer server([](const FakeRequest&) { return Ok(Numbered(200'000)); });
  std::unique_ptr<HttpClient> client = MustCreate(ConfigFor(server));
  absl::StatusOr<HttpResponse> r = client->PostFormStreaming(
      "/api/v1/query", {}, [](std::string_view) { throw std::runtime_error("full"); });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(Msg(r.status()), HasSubstr("full"));
  // The unread rest of that body does not end up in the next response.
  Pieces pieces;
  r = PostStreaming(*client, pieces);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(pieces.body, Numbered(200'000));
  EXPECT_EQ(client->connections_opened(), 2);
}

}  // namespace
}  // namespace promfeed::upstream
