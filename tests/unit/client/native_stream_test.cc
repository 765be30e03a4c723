// The Python reader's C++ stream transport (client/python/native/native_stream.h) against the
// daemon's real MetricFeed service on 127.0.0.1, in-process: messages arrive whole and in
// order through the bounded queue, whatever the reader's pace; timeouts, cancellation,
// destruction and errors end the call as the Python side expects. Every wait is bounded.
#include "client/python/native/native_stream.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "daemon/server/grpc_server.h"
#include "daemon/server/metric_feed_service.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/server/feed_test_data.h"

namespace promfeed::native {
namespace {

using server::GrpcServer;
using server::MetricFeedService;
using server::ServiceOptions;
using namespace server::testdata;  // kNow, kT0, ReadyUpstream, Decode, WaitFor, ...
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr char kMethod[] = "/promfeed.v1.MetricFeed/StreamWindows";
constexpr double kTimeoutS = 10;  // Bound on any one Next that expects a message or the end.

std::string Bytes(const Message& m) {
  return std::string(reinterpret_cast<const char*>(m.data()), m.size());
}

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Runs `fn` on its own thread and waits at most `limit` for it. When it does not return in
// time, the test fails and the process exits at once: a hang becomes a failure, and nothing
// is left running on state the test is about to free.
void MustReturnWithin(std::chrono::milliseconds limit, const char* what, std::function<void()> fn) {
  std::promise<void> done;
  std::future<void> returned = done.get_future();
  std::thread t([&] {
    fn();
    done.set_value();
  });
  if (returned.wait_for(limit) != std::future_status::ready) {
    ADD_FAILURE() << what << " did not return within " << limit.count() << " ms";
    std::fflush(stdout);
    std::_Exit(1);
  }
  t.join();
}

// Deletes a Stream (its destructor cancels the call and joins the receiver) within a bound.
struct BoundedDelete {
  void operator()(Stream* s) const {
    MustReturnWithin(std::chrono::seconds(10), "~Stream", [s] { delete s; });
  }
};
using StreamPtr = std::unique_ptr<Stream, BoundedDelete>;

StreamPtr Open(const Channel& channel, const v1::StreamWindowsRequest& req, size_t capacity) {
  return StreamPtr(new Stream(channel.channel(), kMethod, req.SerializeAsString(),
                              std::vector<std::pair<std::string, std::string>>{},
                              /*wait_for_ready=*/false, capacity));
}

class NativeStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AppendTwoLoadSeries(store_);
    ServiceOptions opts;
    opts.version = "test";
    opts.max_streams = 8;
    opts.retention_ms = 3'600'000;
    opts.upstream_status = ReadyUpstream;
    opts.now_ms = [] { return kNow; };
    // Every stream is sampled (none written again from the stream cache), so that the same
    // request read twice takes the same path through the daemon.
    opts.stream_cache_bytes = 0;
    service_ = std::make_unique<MetricFeedService>(&store_, opts);
    auto server = GrpcServer::Start("127.0.0.1:0", service_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    server_->SetReady(true);
    target_ = "127.0.0.1:" + std::to_string(server_->port());
    channel_ = std::make_unique<Channel>(target_, "", "", "", /*tls=*/false, 64 << 20);
  }

  void TearDown() override {
    if (service_) service_->BeginShutdown();
    if (server_) server_->Shutdown(1000);
  }

  StreamPtr Open(const v1::StreamWindowsRequest& req, size_t capacity) {
    return native::Open(*channel_, req, capacity);
  }

  // Every message of a stream that ends, read with Next (each wait bounded).
  std::vector<std::string> ReadAll(Stream& s, std::chrono::milliseconds pause = {}) {
    std::vector<std::string> out;
    while (auto m = s.Next(kTimeoutS)) {
      out.push_back(Bytes(*m));
      if (pause.count() > 0) std::this_thread::sleep_for(pause);
    }
    EXPECT_TRUE(s.Ended()) << "Next returned nothing before the stream ended (timed out)";
    return out;
  }

  // The next message parsed (failing the test when none arrives within kTimeoutS).
  v1::StreamWindowsResponse NextParsed(Stream& s) {
    v1::StreamWindowsResponse msg;
    auto m = s.Next(kTimeoutS);
    EXPECT_NE(m, nullptr) << "no message within " << kTimeoutS << " s";
    if (m) {
      EXPECT_TRUE(msg.ParseFromArray(m->data(), static_cast<int>(m->size())));
    }
    return msg;
  }

  // A follow stream of both series from `start_ms`, one window per row.
  static v1::StreamWindowsRequest FollowRequest(int64_t start_ms, int max_rows_per_message) {
    v1::StreamWindowsRequest req;
    req.add_features("load");
    req.set_window(1);
    req.set_start_ms(start_ms);
    req.set_follow(true);
    req.set_max_rows_per_message(max_rows_per_message);
    return req;
  }

  // A history stream of all 100 rows of both series.
  static v1::StreamWindowsRequest HistoryRequest(int max_rows_per_message) {
    v1::StreamWindowsRequest req;
    req.add_features("load");
    req.set_window(5);
    req.set_start_ms(kT0);
    req.set_end_ms(kT0 + 99'000);
    req.set_max_rows_per_message(max_rows_per_message);
    return req;
  }

  store::SeriesStore store_{{.retention_ms = 3'600'000, .interval_ms = 1000, .max_series = 100}};
  std::unique_ptr<MetricFeedService> service_;
  std::unique_ptr<GrpcServer> server_;
  std::string target_;
  std::unique_ptr<Channel> channel_;
};

TEST_F(NativeStreamTest, NativeStreamHistoryArrivesInOrderThenEnds) {
  const v1::StreamWindowsRequest req = ThirtyRowsRequest();
  auto s = Open(req, 4);
  const std::vector<std::string> msgs = ReadAll(*s);
  ASSERT_EQ(msgs.size(), 6u);  // The header, then 30 rows in messages of 7, 7, 7, 7, 2.

  v1::StreamWindowsResponse first;
  ASSERT_TRUE(first.ParseFromString(msgs[0]));
  ASSERT_TRUE(first.has_header());
  EXPECT_EQ(first.header().features_size(), 2);
  EXPECT_EQ(first.header().window(), 5);
  EXPECT_EQ(first.header().start_time_ms(), kT0);
  EXPECT_EQ(first.header().end_time_ms(), kT0 + 29'000);

  // The rows, as the grid asks: row r at kT0 + r s holds (r, r + 1000), all present.
  std::vector<int64_t> times;
  std::vector<float> values;
  int64_t windows = 0;
  for (size_t i = 1; i < msgs.size(); ++i) {
    v1::StreamWindowsResponse m;
    ASSERT_TRUE(m.ParseFromString(msgs[i])) << "message " << i;
    ASSERT_TRUE(m.has_rows()) << "message " << i;
    const v1::RowBlock& b = m.rows();
    EXPECT_EQ(b.first_row_index(), static_cast<int64_t>(times.size())) << "message " << i;
    EXPECT_LE(b.row_count(), 7);
    EXPECT_TRUE(b.mask().empty());
    windows += b.window_count();
    for (int64_t t : Decode<int64_t>(b.time_ms())) times.push_back(t);
    for (float v : Decode<float>(b.values())) values.push_back(v);
  }
  std::vector<int64_t> want_times;
  std::vector<float> want_values;
  for (int64_t r = 0; r < 30; ++r) {
    want_times.push_back(kT0 + r * 1000);
    want_values.push_back(static_cast<float>(r));
    want_values.push_back(static_cast<float>(r + 1000));
  }
  EXPECT_EQ(times, want_times);
  EXPECT_EQ(values, want_values);
  EXPECT_EQ(windows, 13);  // Windows end at rows 4, 6, ..., 28.

  // Ended: nothing more, at once, and every time.
  const auto t = Clock::now();
  EXPECT_EQ(s->Next(kTimeoutS), nullptr);
  EXPECT_EQ(s->Next(-1), nullptr);
  EXPECT_LT(SecondsSince(t), 1.0);
  EXPECT_TRUE(s->Ended());
  EXPECT_FALSE(s->Waiting());
  EXPECT_EQ(s->Status(), std::make_pair(0, std::string()));
}

// A queue of one message and a reader that sleeps between messages: the receiver waits for
// room, and the reader still gets every message, the same as a fast reader.
TEST_F(NativeStreamTest, NativeStreamBackpressureSlowReaderGetsEveryMessage) {
  const v1::StreamWindowsRequest req = HistoryRequest(/*max_rows_per_message=*/2);
  auto fast = Open(req, 64);
  const std::vector<std::string> want = ReadAll(*fast);
  ASSERT_EQ(want.size(), 51u);  // The header and 100 rows in messages of 2.

  auto slow = Open(req, 1);
  ASSERT_TRUE(WaitFor([&] { return slow->Waiting(); })) << "nothing queued";
  // The queue is full: the receiver holds the next message and waits; no message is lost.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(slow->Waiting());
  EXPECT_FALSE(slow->Ended());
  const std::vector<std::string> got = ReadAll(*slow, std::chrono::milliseconds(10));
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i], want[i]) << "message " << i;
  EXPECT_EQ(slow->Status(), std::make_pair(0, std::string()));
  EXPECT_FALSE(slow->Waiting());
}

// A follow stream with nothing new: Next gives up after about its timeout, the stream goes on.
TEST_F(NativeStreamTest, NativeStreamNextTimesOutOnAnIdleFollowStream) {
  auto s = Open(FollowRequest(kT0 + 95'000, 100), 4);
  ASSERT_TRUE(NextParsed(*s).has_header());
  int64_t rows = 0;
  while (rows < 5 && !HasFailure()) rows += NextParsed(*s).rows().row_count();  // 95..99 s.
  ASSERT_EQ(rows, 5);

  for (double timeout : {0.0, 0.3}) {
    const auto t = Clock::now();
    std::unique_ptr<Message> m;
    MustReturnWithin(std::chrono::seconds(5), "Next(timeout)", [&] { m = s->Next(timeout); });
    const double took = SecondsSince(t);
    EXPECT_EQ(m, nullptr);
    EXPECT_GE(took, timeout * 0.9) << "timeout " << timeout;
    EXPECT_LT(took, timeout + 2.0) << "timeout " << timeout;
    EXPECT_FALSE(s->Ended());
    EXPECT_FALSE(s->Waiting());
  }
  EXPECT_EQ(s->Status(), std::make_pair(0, std::string()));
  EXPECT_EQ(service_->active_streams(), 1);

  // The stream is still live: a new row arrives.
  store_.Append(Metric("load", "a:1"), std::vector<Sample>{{kT0 + 100'000, 100}});
  store_.Append(Metric("load", "b:1"), std::vector<Sample>{{kT0 + 100'000, 1100}});
  store_.AdvanceCompleteThrough(kT0 + 100'000);
  const v1::StreamWindowsResponse m = NextParsed(*s);
  EXPECT_EQ(m.rows().first_row_index(), 5);
  EXPECT_EQ(Decode<int64_t>(m.rows().time_ms()).front(), kT0 + 100'000);
}

// Cancel with messages queued: Next gives the rest of the queue, then nothing; the call ends
// CANCELLED and the daemon's stream is freed.
TEST_F(NativeStreamTest, NativeStreamCancelDeliversTheQueueThenEndsCancelled) {
  auto s = Open(FollowRequest(kT0, /*max_rows_per_message=*/7), 64);
  ASSERT_TRUE(NextParsed(*s).has_header());
  const v1::StreamWindowsResponse first = NextParsed(*s);
  ASSERT_TRUE(first.has_rows());
  int64_t next_row = first.rows().first_row_index() + first.rows().row_count();
  ASSERT_TRUE(WaitFor([&] { return s->Waiting(); })) << "nothing queued";
  EXPECT_EQ(service_->active_streams(), 1);

  s->Cancel();
  int after = 0;
  while (auto m = s->Next(kTimeoutS)) {
    v1::StreamWindowsResponse msg;
    ASSERT_TRUE(msg.ParseFromArray(m->data(), static_cast<int>(m->size())));
    EXPECT_EQ(msg.rows().first_row_index(), next_row);
    next_row += msg.rows().row_count();
    ++after;
  }
  EXPECT_GE(after, 1) << "the queued messages were dropped";
  EXPECT_LE(next_row, 100);
  EXPECT_TRUE(s->Ended()) << "Next timed out instead of seeing the end";
  EXPECT_EQ(s->Status().first, static_cast<int>(grpc::StatusCode::CANCELLED));
  EXPECT_EQ(s->Next(0), nullptr);
  s->Cancel();  // Again: nothing changes.
  EXPECT_EQ(s->Status().first, static_cast<int>(grpc::StatusCode::CANCELLED));

  EXPECT_TRUE(WaitFor([&] { return service_->active_streams() == 0; }));
  grpc::ClientContext ctx;
  v1::GetStatusResponse status;
  ASSERT_TRUE(v1::MetricFeed::NewStub(channel_->channel())
                  ->GetStatus(&ctx, v1::GetStatusRequest(), &status)
                  .ok());
  EXPECT_EQ(status.active_streams(), 0);
}

// Destroying a stream whose receiver waits for room (queue full, nobody reading) returns
// at once and ends the daemon's stream.
TEST_F(NativeStreamTest, NativeStreamDestroyWhileReceiverWaitsForRoom) {
  for (int run = 0; run < 3; ++run) {
    auto s = Open(FollowRequest(kT0, /*max_rows_per_message=*/1), 1);  // 100 row messages.
    ASSERT_TRUE(WaitFor([&] { return s->Waiting(); })) << "nothing queued";
    ASSERT_TRUE(WaitFor([&] { return service_->active_streams() == 1; }));
    // The receiver takes the next message and waits for room.
    std::this_thread::sleep_for(std::chrono::milliseconds(run == 0 ? 0 : 200));
    EXPECT_FALSE(s->Ended());
    const auto t = Clock::now();
    s.reset();  // Bounded (BoundedDelete).
    EXPECT_LT(SecondsSince(t), 2.0);
    EXPECT_TRUE(WaitFor([&] { return service_->active_streams() == 0; })) << "run " << run;
  }
}

TEST_F(NativeStreamTest, NativeStreamInvalidRequestEndsInvalidArgument) {
  v1::StreamWindowsRequest req;  // No features.
  req.set_window(3);
  auto s = Open(req, 4);
  EXPECT_EQ(s->Next(kTimeoutS), nullptr);
  ASSERT_TRUE(s->Ended());
  const auto [code, details] = s->Status();
  EXPECT_EQ(code, static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(details, HasSubstr("features"));
  EXPECT_TRUE(WaitFor([&] { return service_->active_streams() == 0; }));
}

TEST_F(NativeStreamTest, NativeStreamUnreachableTargetEndsUnavailable) {
  // A port that is bound (so nobody else takes it) but not listening: connections are refused.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  {
    Channel nowhere("127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), "", "", "", false,
                    64 << 20);
    StreamPtr s = native::Open(nowhere, HistoryRequest(7), 4);
    const auto t = Clock::now();
    EXPECT_EQ(s->Next(kTimeoutS), nullptr);
    EXPECT_LT(SecondsSince(t), kTimeoutS - 1);
    ASSERT_TRUE(s->Ended());
    EXPECT_EQ(s->Status().first, static_cast<int>(grpc::StatusCode::UNAVAILABLE));
    EXPECT_FALSE(s->Status().second.empty());
  }
  close(fd);
}

TEST_F(NativeStreamTest, NativeStreamDrainCountsWhatNextReads) {
  const v1::StreamWindowsRequest req = HistoryRequest(/*max_rows_per_message=*/7);
  auto read = Open(req, 4);
  const std::vector<std::string> msgs = ReadAll(*read);
  ASSERT_EQ(msgs.size(), 16u);  // The header and 100 rows in messages of 7.
  int64_t bytes = 0;
  for (const std::string& m : msgs) bytes += static_cast<int64_t>(m.size());

  for (size_t capacity : {1, 4}) {
    auto drained = Open(req, capacity);
    std::pair<int64_t, int64_t> got;
    MustReturnWithin(std::chrono::seconds(20), "Drain", [&] { got = drained->Drain(); });
    EXPECT_EQ(got, std::make_pair(static_cast<int64_t>(msgs.size()), bytes))
        << "capacity " << capacity;
    EXPECT_TRUE(drained->Ended());
    EXPECT_EQ(drained->Status(), std::make_pair(0, std::string()));
  }
}

}  // namespace
}  // namespace promfeed::native
