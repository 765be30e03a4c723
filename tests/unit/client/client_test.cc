// promfeed::client::Client against an in-process fake MetricFeed server: status mapping,
// an unreachable daemon, and a stream whose windows span messages.
#include "promfeed/client.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "promfeed/v1/metric_feed.grpc.pb.h"

namespace promfeed::client {
namespace {

namespace pb = ::promfeed::v1;
using ::testing::HasSubstr;

constexpr int64_t kT0 = 1'700'000'000'000;

class FakeFeed final : public pb::MetricFeed::Service {
 public:
  grpc::Status ListSeries(grpc::ServerContext*, const pb::ListSeriesRequest* req,
                          pb::ListSeriesResponse* resp) override {
    if (req->selectors_size() > 0 && req->selectors(0) == "nothing") {
      return {grpc::StatusCode::NOT_FOUND, "selector \"nothing\" matches no series"};
    }
    auto* s = resp->add_series();
    auto* l = s->add_labels();
    l->set_name("__name__");
    l->set_value("up");
    l = s->add_labels();
    l->set_name("job");
    l->set_value("a\"b");
    s->set_samples_held(42);
    return grpc::Status::OK;
  }

  // Header, then rows 0..4 in blocks of 2, 2, 1 for window 3, shift 1, 1 feature (float32):
  // windows 0 (rows 0-2), 1, 2 complete in the 2nd and 3rd blocks.
  grpc::Status StreamWindows(grpc::ServerContext*, const pb::StreamWindowsRequest* req,
                             grpc::ServerWriter<pb::StreamWindowsResponse>* w) override {
    last_window = req->window();
    pb::StreamWindowsResponse h;
    h.mutable_header()->set_window(3);
    h.mutable_header()->set_shift(1);
    h.mutable_header()->set_step_ms(1000);
    h.mutable_header()->set_dtype(pb::FLOAT32);
    h.mutable_header()->set_start_time_ms(kT0);
    h.mutable_header()->add_features()->add_labels()->set_name("__name__");
    w->Write(h);
    const int blocks[][4] = {{0, 2, 0, 0}, {2, 2, 0, 2}, {4, 1, 2, 1}};  // first,n,win0,wins
    for (const auto& b : blocks) {
      pb::StreamWindowsResponse m;
      auto* rb = m.mutable_rows();
      rb->set_first_row_index(b[0]);
      rb->set_row_count(b[1]);
      std::string t, v;
      for (int r = b[0]; r < b[0] + b[1]; ++r) {
        int64_t ts = kT0 + r * 1000;
        float x = r * 1.5f;
        t.append(reinterpret_cast<const char*>(&ts), 8);
        v.append(reinterpret_cast<const char*>(&x), 4);
      }
      rb->set_time_ms(t);
      rb->set_values(v);
      rb->set_first_window_index(b[2]);
      rb->set_window_count(b[3]);
      w->Write(m);
    }
    return grpc::Status::OK;
  }

  grpc::Status GetStatus(grpc::ServerContext*, const pb::GetStatusRequest*,
                         pb::GetStatusResponse*) override {
    return {grpc::StatusCode::UNAVAILABLE, "not warmed up yet: wait for the first poll"};
  }

  int last_window = 0;
};

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(&feed_);
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }
  void TearDown() override { server_->Shutdown(); }

  ClientOptions Opts() {
    ClientOptions o;
    o.target = "127.0.0.1:" + std::to_string(port_);
    o.timeout = std::chrono::seconds(10);
    o.wait_for_ready = true;
    return o;
  }

  FakeFeed feed_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(ClientTest, ListSeriesReturnsLabels) {
  Client c(Opts());
  auto s = c.ListSeries({});
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ((*s)[0].ToString(), "up{job=\"a\\\"b\"}");
  EXPECT_EQ((*s)[0].samples_held, 42);
}

TEST_F(ClientTest, ErrorsKeepCodeAndMessageAndNameTheTarget) {
  Client c(Opts());
  auto s = c.ListSeries({"nothing"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.status().message(), HasSubstr("ListSeries on " + c.target()));
  EXPECT_THAT(s.status().message(), HasSubstr("selector \"nothing\" matches no series"));
  auto st = c.GetStatus();
  EXPECT_EQ(st.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(st.status().message(), HasSubstr("not warmed up yet"));
}

TEST_F(ClientTest, StreamWindowsAssemblesWindowsAcrossMessages) {
  Client c(Opts());
  WindowsRequest req;
  req.features = {"x"};
  req.window = 3;
  auto stream = c.StreamWindows(req);
  ASSERT_TRUE(stream.ok()) << stream.status();
  EXPECT_EQ(feed_.last_window, 3);
  EXPECT_EQ((*stream)->header().window, 3);
  std::vector<int64_t> seen;
  while (true) {
    auto b = (*stream)->Next();
    ASSERT_TRUE(b.ok()) << b.status();
    if (*b == nullptr) break;
    for (size_t i = 0; i < (*b)->size(); ++i) {
      const int64_t k = (*b)->index(i);
      seen.push_back(k);
      auto v = (*b)->values<float>(i);
      ASSERT_EQ(v.size(), 3u);
      for (int r = 0; r < 3; ++r) EXPECT_EQ(v[r], (k + r) * 1.5f) << "window " << k;
      EXPECT_EQ((*b)->time_ms(i)[0], kT0 + k * 1000);
    }
  }
  EXPECT_THAT(seen, ::testing::ElementsAre(0, 1, 2));
  EXPECT_EQ((*stream)->rows_received(), 5);
}

TEST(ClientUnreachableTest, NamesTheTarget) {
  // A port that was free a moment ago: nothing listens there.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  ClientOptions o;
  o.target = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  o.timeout = std::chrono::seconds(5);
  Client c(o);
  auto s = c.ListSeries({});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.status().message(), HasSubstr("cannot reach promfeed at " + o.target));
  auto w = c.StreamWindows(WindowsRequest{.features = {"x"}});
  EXPECT_EQ(w.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(w.status().message(), HasSubstr(o.target));
}

}  // namespace
}  // namespace promfeed::client
