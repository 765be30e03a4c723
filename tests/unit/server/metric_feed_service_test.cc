// In-process tests of every MetricFeed RPC over a real gRPC server on 127.0.0.1.
#include "daemon/server/metric_feed_service.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>

#include "daemon/server/grpc_server.h"
#include "gmock/gmock.h"
#include "grpcpp/health_check_service_interface.h"
#include "gtest/gtest.h"
#include "tests/unit/server/feed_test_data.h"

namespace promfeed::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace testdata;  // kNow, kT0, ReadyUpstream, Metric, Decode, WaitFor

class MetricFeedServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AppendTwoLoadSeries(store_);
    StartServer(/*max_streams=*/8);
  }

  void StartServer(int max_streams) {
    ServiceOptions opts;
    opts.version = "test";
    opts.max_streams = max_streams;
    opts.retention_ms = 3'600'000;
    opts.upstream_status = [this] {
      UpstreamStatus s;
      s.url = "http://prometheus:9090";
      s.state = v1::UP;
      s.poll_interval_ms = 1000;
      s.ready = ready_.load();
      return s;
    };
    opts.now_ms = [] { return kNow; };
    service_ = std::make_unique<MetricFeedService>(&store_, opts);
    auto server = GrpcServer::Start("127.0.0.1:0", service_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    server_->SetReady(true);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::MetricFeed::NewStub(channel_);
  }

  void TearDown() override {
    if (service_) service_->BeginShutdown();
    if (server_) server_->Shutdown(1000);
  }

  // Serves `store` with `opts` instead (the running server must be shut down first).
  void Serve(store::SeriesStore* store, const ServiceOptions& opts) {
    service_ = std::make_unique<MetricFeedService>(store, opts);
    auto server = GrpcServer::Start("127.0.0.1:0", service_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    server_->SetReady(true);
    stub_ = v1::MetricFeed::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_->port()), grpc::InsecureChannelCredentials()));
  }

  // Calls `method` with `request` bytes as they are (no generated stub), for one message.
  grpc::Status RawUnaryCall(const std::string& method, const std::string& request,
                            std::string* response) {
    grpc::GenericStub stub(channel_);
    grpc::Slice slice(request);
    grpc::ByteBuffer in(&slice, 1);
    grpc::ByteBuffer out;
    grpc::ClientContext ctx;
    std::atomic<bool> done{false};
    grpc::Status status;
    stub.UnaryCall(&ctx, method, grpc::StubOptions(), &in, &out, [&](grpc::Status s) {
      status = s;
      done = true;
    });
    EXPECT_TRUE(WaitFor([&] { return done.load(); }));
    std::vector<grpc::Slice> slices;
    if (status.ok()) out.Dump(&slices);
    response->clear();
    for (auto& s : slices) response->append(reinterpret_cast<const char*>(s.begin()), s.size());
    return status;
  }

  // Reads a whole StreamWindows stream.
  grpc::Status ReadWindows(const v1::StreamWindowsRequest& req,
                           std::vector<v1::StreamWindowsResponse>* out) {
    grpc::ClientContext ctx;
    auto reader = stub_->StreamWindows(&ctx, req);
    v1::StreamWindowsResponse msg;
    while (reader->Read(&msg)) out->push_back(msg);
    return reader->Finish();
  }

  grpc::Status ReadRange(const v1::ReadRangeRequest& req, std::vector<v1::ReadRangeResponse>* out) {
    grpc::ClientContext ctx;
    auto reader = stub_->ReadRange(&ctx, req);
    v1::ReadRangeResponse msg;
    while (reader->Read(&msg)) out->push_back(msg);
    return reader->Finish();
  }

  std::atomic<bool> ready_{true};
  store::SeriesStore store_{{.retention_ms = 3'600'000, .interval_ms = 1000, .max_series = 100}};
  std::unique_ptr<MetricFeedService> service_;
  std::unique_ptr<GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::MetricFeed::Stub> stub_;
};

TEST_F(MetricFeedServiceTest, ListSeriesReturnsFullLabelsAndCounts) {
  grpc::ClientContext ctx;
  v1::ListSeriesRequest req;
  req.add_selectors(R"(load{instance="b:1"})");
  v1::ListSeriesResponse resp;
  ASSERT_TRUE(stub_->ListSeries(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.series_size(), 1);
  const v1::Series& s = resp.series(0);
  ASSERT_EQ(s.labels_size(), 3);
  EXPECT_EQ(s.labels(0).name(), "__name__");
  EXPECT_EQ(s.labels(1).value(), "b:1");
  EXPECT_EQ(s.samples_held(), 100);
  EXPECT_EQ(s.oldest_time_ms(), kT0);
  EXPECT_EQ(s.newest_time_ms(), kT0 + 99'000);
}

TEST_F(MetricFeedServiceTest, ListSeriesUnionsSelectorsWithoutDuplicates) {
  grpc::ClientContext ctx;
  v1::ListSeriesRequest req;
  req.add_selectors("load");
  req.add_selectors(R"({instance="a:1"})");
  v1::ListSeriesResponse resp;
  ASSERT_TRUE(stub_->ListSeries(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.series_size(), 2);
}

TEST_F(MetricFeedServiceTest, ListSeriesErrors) {
  {
    grpc::ClientContext ctx;
    v1::ListSeriesRequest req;
    req.add_selectors("load{instance=");
    v1::ListSeriesResponse resp;
    grpc::Status s = stub_->ListSeries(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("selectors[0]"));
  }
  {
    grpc::ClientContext ctx;
    v1::ListSeriesRequest req;
    req.set_limit(1);
    v1::ListSeriesResponse resp;
    grpc::Status s = stub_->ListSeries(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_THAT(s.error_message(), HasSubstr("narrow the selectors"));
  }
  {
    grpc::ClientContext ctx;
    v1::ListSeriesRequest req;
    req.set_limit(-1);
    v1::ListSeriesResponse resp;
    EXPECT_EQ(stub_->ListSeries(&ctx, req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
}

TEST_F(MetricFeedServiceTest, ReadRangeStreamsGridInBlocks) {
  v1::ReadRangeRequest req;
  req.add_selectors("load");
  req.set_start_ms(kT0 + 10'500);  // Rounded up to kT0 + 11 s.
  req.set_end_ms(kT0 + 20'000);
  req.set_step_ms(1000);
  req.set_max_rows_per_message(4);
  std::vector<v1::ReadRangeResponse> msgs;
  ASSERT_TRUE(ReadRange(req, &msgs).ok());
  ASSERT_EQ(msgs.size(), 3u);  // 10 rows in blocks of 4, 4, 2.
  EXPECT_EQ(msgs[0].series_size(), 2);
  EXPECT_EQ(msgs[1].series_size(), 0);
  std::vector<int64_t> times;
  std::vector<double> values;
  for (const auto& m : msgs) {
    for (int64_t t : Decode<int64_t>(m.time_ms())) times.push_back(t);
    for (double v : Decode<double>(m.values())) values.push_back(v);
    EXPECT_EQ(m.mask(), std::string(m.row_count() * 2, '\1'));
  }
  ASSERT_EQ(times.size(), 10u);
  EXPECT_EQ(times.front(), kT0 + 11'000);
  EXPECT_EQ(times.back(), kT0 + 20'000);
  ASSERT_EQ(values.size(), 20u);
  EXPECT_EQ(values[0], 11);
  EXPECT_EQ(values[1], 1011);
  EXPECT_EQ(values[19], 1020);
}

TEST_F(MetricFeedServiceTest, ReadRangeErrors) {
  struct Case {
    std::function<void(v1::ReadRangeRequest*)> edit;
    grpc::StatusCode code;
    std::string message;
  } cases[] = {
      {[](auto* r) { r->set_start_ms(0); }, grpc::StatusCode::INVALID_ARGUMENT, "start_ms"},
      {[](auto* r) { r->set_selectors(0, "nope"); }, grpc::StatusCode::NOT_FOUND, "nope"},
      {[](auto* r) { r->set_selectors(0, "{"); }, grpc::StatusCode::INVALID_ARGUMENT, "'{'"},
      {[](auto* r) { r->set_start_ms(kNow - 7'200'000); }, grpc::StatusCode::OUT_OF_RANGE,
       "older than"},
      {[](auto* r) { r->set_end_ms(kT0); }, grpc::StatusCode::INVALID_ARGUMENT, "before"},
  };
  for (const Case& c : cases) {
    v1::ReadRangeRequest req;
    req.add_selectors("load");
    req.set_start_ms(kT0 + 10'000);
    req.set_end_ms(kT0 + 20'000);
    c.edit(&req);
    std::vector<v1::ReadRangeResponse> msgs;
    grpc::Status s = ReadRange(req, &msgs);
    EXPECT_EQ(s.error_code(), c.code) << c.message << ": " << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(c.message));
    EXPECT_TRUE(msgs.empty());
  }
  EXPECT_TRUE(WaitFor([&] { return service_->active_streams() == 0; }));
}

TEST_F(MetricFeedServiceTest, StreamWindowsSendsHeaderThenRowsOnce) {
  const v1::StreamWindowsRequest req = ThirtyRowsRequest();
  std::vector<v1::StreamWindowsResponse> msgs;
  ASSERT_TRUE(ReadWindows(req, &msgs).ok());
  ASSERT_GE(msgs.size(), 2u);
  ASSERT_TRUE(msgs[0].has_header());
  const v1::WindowHeader& h = msgs[0].header();
  EXPECT_EQ(h.features_size(), 2);
  EXPECT_THAT(h.feature_selector_index(), ElementsAre(0, 1));
  EXPECT_EQ(h.window(), 5);
  EXPECT_EQ(h.shift(), 2);
  EXPECT_EQ(h.start_time_ms(), kT0);
  EXPECT_EQ(h.end_time_ms(), kT0 + 29'000);
  EXPECT_EQ(h.dtype(), v1::FLOAT32);
  int64_t next_row = 0, windows = 0, next_window = 0;
  std::vector<float> values;
  for (size_t i = 1; i < msgs.size(); ++i) {
    ASSERT_TRUE(msgs[i].has_rows());
    const v1::RowBlock& b = msgs[i].rows();
    EXPECT_EQ(b.first_row_index(), next_row);  // Each row exactly once, in order.
    next_row += b.row_count();
    EXPECT_LE(b.row_count(), 7);
    EXPECT_TRUE(b.mask().empty());  // All present.
    if (b.window_count() > 0) {
      EXPECT_EQ(b.first_window_index(), next_window);
      next_window += b.window_count();
    }
    windows += b.window_count();
    for (float v : Decode<float>(b.values())) values.push_back(v);
  }
  EXPECT_EQ(next_row, 30);
  EXPECT_EQ(windows, 13);  // Windows k = 0..12 end at rows 4, 6, ..., 28.
  ASSERT_EQ(values.size(), 60u);
  EXPECT_EQ(values[2 * 29], 29.0f);
  EXPECT_EQ(values[2 * 29 + 1], 1029.0f);
}

TEST_F(MetricFeedServiceTest, StreamWindowsFloat64AndMaskForGaps) {
  v1::StreamWindowsRequest req;
  req.add_features("load");
  req.set_window(1);
  req.set_start_ms(kT0 + 98'000);
  req.set_end_ms(kT0 + 101'000);  // Past the data: the last rows are missing.
  req.set_dtype(v1::FLOAT64);
  req.set_lookback_ms(1000);
  store_.AdvanceCompleteThrough(kT0 + 101'000);
  std::vector<v1::StreamWindowsResponse> msgs;
  ASSERT_TRUE(ReadWindows(req, &msgs).ok());
  ASSERT_EQ(msgs.size(), 2u);
  const v1::RowBlock& b = msgs[1].rows();
  EXPECT_EQ(b.row_count(), 4);
  std::vector<double> v = Decode<double>(b.values());
  EXPECT_EQ(v[0], 98);
  EXPECT_EQ(v[2], 99);
  EXPECT_TRUE(std::isnan(v[4]));
  EXPECT_EQ(b.mask(), std::string("\1\1\1\1\0\0\0\0", 8));
}

// One row per message: many messages pipelined through the stream's two alternating
// messages (buffers reused, the mask present in some and absent in others) arrive whole and
// in order, as the cursor made them.
TEST_F(MetricFeedServiceTest, StreamWindowsOneRowPerMessageMatchesTheGrid) {
  store_.AdvanceCompleteThrough(kT0 + 105'000);
  for (v1::DType dtype : {v1::FLOAT32, v1::FLOAT64}) {
    v1::StreamWindowsRequest req;
    req.add_features(R"(load{instance="a:1"})");
    req.add_features(R"(load{instance="b:1"})");
    req.set_window(1);
    req.set_start_ms(kT0 + 80'000);
    req.set_end_ms(kT0 + 105'000);  // Rows for 100..105 s are missing (lookback 1 s).
    req.set_lookback_ms(1000);
    req.set_max_rows_per_message(1);
    req.set_dtype(dtype);
    std::vector<v1::StreamWindowsResponse> msgs;
    ASSERT_TRUE(ReadWindows(req, &msgs).ok());
    ASSERT_EQ(msgs.size(), 27u);  // Header and 26 rows.
    for (int r = 0; r < 26; ++r) {
      const v1::RowBlock& b = msgs[r + 1].rows();
      const int64_t sec = 80 + r;
      EXPECT_EQ(b.first_row_index(), r);
      EXPECT_EQ(b.row_count(), 1);
      EXPECT_EQ(b.first_window_index(), r);
      EXPECT_EQ(b.window_count(), 1);
      EXPECT_THAT(Decode<int64_t>(b.time_ms()), ElementsAre(kT0 + sec * 1000));
      std::vector<double> v;
      if (dtype == v1::FLOAT32) {
        for (float f : Decode<float>(b.values())) v.push_back(f);
      } else {
        v = Decode<double>(b.values());
      }
      ASSERT_EQ(v.size(), 2u);
      if (sec < 100) {
        EXPECT_EQ(v[0], sec);
        EXPECT_EQ(v[1], sec + 1000);
        EXPECT_TRUE(b.mask().empty());
      } else {
        EXPECT_TRUE(std::isnan(v[0]) && std::isnan(v[1]));
        EXPECT_EQ(b.mask(), std::string("\0\0", 2));
      }
    }
  }
}

TEST_F(MetricFeedServiceTest, StreamWindowsDropPolicyReportsDroppedWindows) {
  v1::StreamWindowsRequest req;
  req.add_features(R"(load{instance="a:1"})");
  req.set_window(2);
  req.set_fill(v1::DROP);
  req.set_lookback_ms(1000);
  req.set_start_ms(kT0 + 97'000);
  req.set_end_ms(kT0 + 100'000);
  store_.AdvanceCompleteThrough(kT0 + 100'000);
  std::vector<v1::StreamWindowsResponse> msgs;
  ASSERT_TRUE(ReadWindows(req, &msgs).ok());
  const v1::RowBlock& b = msgs.back().rows();
  EXPECT_EQ(b.window_count(), 3);
  EXPECT_THAT(b.dropped_window_indices(), ElementsAre(2));  // Rows 99 s and 100 s (gap).
  EXPECT_EQ(b.dropped_windows_total(), 1);
}

TEST_F(MetricFeedServiceTest, StreamWindowsInvalidRequests) {
  struct Case {
    std::function<void(v1::StreamWindowsRequest*)> edit;
    grpc::StatusCode code;
    std::string message;
  } cases[] = {
      {[](auto* r) { r->set_window(0); }, grpc::StatusCode::INVALID_ARGUMENT, "window"},
      {[](auto* r) { r->set_fill(static_cast<v1::Fill>(99)); }, grpc::StatusCode::INVALID_ARGUMENT,
       "fill 99"},
      {[](auto* r) { r->set_dtype(static_cast<v1::DType>(7)); }, grpc::StatusCode::INVALID_ARGUMENT,
       "dtype 7"},
      {[](auto* r) { r->clear_features(); }, grpc::StatusCode::INVALID_ARGUMENT, "features"},
      {[](auto* r) { r->set_step_ms(-5); }, grpc::StatusCode::INVALID_ARGUMENT, "step_ms"},
      {[](auto* r) { r->set_features(0, "missing_metric"); }, grpc::StatusCode::NOT_FOUND,
       "missing_metric"},
      {[](auto* r) { r->set_start_ms(1); }, grpc::StatusCode::OUT_OF_RANGE, "start_ms"},
  };
  for (const Case& c : cases) {
    v1::StreamWindowsRequest req;
    req.add_features("load");
    req.set_window(3);
    c.edit(&req);
    std::vector<v1::StreamWindowsResponse> msgs;
    grpc::Status s = ReadWindows(req, &msgs);
    EXPECT_EQ(s.error_code(), c.code) << c.message << ": " << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(c.message));
  }
}

// A history request (features a, b; window 5) in messages of 7 rows.
v1::StreamWindowsRequest HistoryRequest(int64_t end_ms) {
  v1::StreamWindowsRequest req;
  req.add_features("load");
  req.set_window(5);
  req.set_start_ms(kT0);
  req.set_end_ms(end_ms);
  req.set_max_rows_per_message(7);
  return req;
}

// The same history request again is written from the stream cache: the same row messages,
// a header with the series' current counts, the windows counted again.
TEST_F(MetricFeedServiceTest, HistoryStreamIsKeptAndWrittenAgainUnchanged) {
  const v1::StreamWindowsRequest req = HistoryRequest(kT0 + 59'000);
  std::vector<v1::StreamWindowsResponse> first, second;
  ASSERT_TRUE(ReadWindows(req, &first).ok());
  StreamCacheStats stats = service_->stream_cache_stats();
  EXPECT_EQ(stats.entries, 1);
  EXPECT_EQ(stats.misses_total, 1);
  EXPECT_EQ(stats.hits_total, 0);
  EXPECT_GT(stats.bytes, 60 * 2 * 4);
  const int64_t windows = service_->windows_sent_total();
  EXPECT_EQ(windows, 56);
  // A new sample: the header tells it, the rows over the range stay as they were.
  store_.Append(Metric("load", "a:1"), std::vector<Sample>{{kT0 + 100'000, 100}});
  ASSERT_TRUE(ReadWindows(req, &second).ok());
  stats = service_->stream_cache_stats();
  EXPECT_EQ(stats.hits_total, 1);
  EXPECT_EQ(stats.entries, 1);
  ASSERT_EQ(first.size(), second.size());
  ASSERT_EQ(first.size(), 10u);  // Header + 60 rows in messages of 7.
  EXPECT_EQ(first[0].header().features(0).samples_held(), 100);
  EXPECT_EQ(second[0].header().features(0).samples_held(), 101);
  for (size_t i = 1; i < first.size(); ++i) {
    EXPECT_EQ(first[i].SerializeAsString(), second[i].SerializeAsString()) << "message " << i;
  }
  EXPECT_EQ(service_->windows_sent_total(), 2 * windows);
}

// Identical history streams at once: one records, the others sample or replay; all get the
// same rows.
TEST_F(MetricFeedServiceTest, ConcurrentIdenticalHistoryStreamsGetTheSameRows) {
  const v1::StreamWindowsRequest req = HistoryRequest(kT0 + 99'000);
  std::vector<v1::StreamWindowsResponse> want;
  {
    // The rows as sampled, from a service that keeps nothing.
    ServiceOptions opts;
    opts.upstream_status = ReadyUpstream;
    opts.now_ms = [] { return kNow; };
    opts.stream_cache_bytes = 0;
    MetricFeedService plain(&store_, opts);
    auto server = GrpcServer::Start("127.0.0.1:0", &plain);
    ASSERT_TRUE(server.ok());
    auto stub = v1::MetricFeed::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string((*server)->port()), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    auto reader = stub->StreamWindows(&ctx, req);
    v1::StreamWindowsResponse msg;
    while (reader->Read(&msg)) want.push_back(msg);
    ASSERT_TRUE(reader->Finish().ok());
    plain.BeginShutdown();
    (*server)->Shutdown(1000);
  }
  constexpr int kThreads = 4, kReads = 3;
  std::vector<std::thread> threads;
  std::atomic<int> same{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kReads; ++i) {
        std::vector<v1::StreamWindowsResponse> got;
        if (!ReadWindows(req, &got).ok() || got.size() != want.size()) continue;
        bool equal = true;
        for (size_t m = 1; m < got.size(); ++m) {
          equal = equal && got[m].SerializeAsString() == want[m].SerializeAsString();
        }
        same += equal ? 1 : 0;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(same.load(), kThreads * kReads);
  const StreamCacheStats stats = service_->stream_cache_stats();
  EXPECT_EQ(stats.entries, 1);
  EXPECT_EQ(stats.hits_total + stats.misses_total, kThreads * kReads);
  EXPECT_GE(stats.hits_total, 1);
}

// Rows that could still change, or a stream that never ends, are not kept.
TEST_F(MetricFeedServiceTest, StreamsPastThePollHorizonOrFollowingAreNotKept) {
  // Ends past the poll horizon (kT0 + 99 s): waits for the rows, then ends; not kept.
  const v1::StreamWindowsRequest req = HistoryRequest(kT0 + 104'000);
  std::vector<v1::StreamWindowsResponse> msgs;
  std::thread reader([&] { EXPECT_TRUE(ReadWindows(req, &msgs).ok()); });
  ASSERT_TRUE(WaitFor([&] { return service_->active_streams() == 1; }));  // Started: waits.
  std::vector<Sample> more;
  for (int64_t i = 100; i < 106; ++i) more.push_back({kT0 + i * 1000, double(i)});
  store_.Append(Metric("load", "a:1"), more);
  store_.Append(Metric("load", "b:1"), more);
  store_.AdvanceCompleteThrough(kT0 + 105'000);
  reader.join();
  EXPECT_EQ(msgs.back().rows().first_row_index() + msgs.back().rows().row_count(), 105);
  EXPECT_EQ(service_->stream_cache_stats().entries, 0);
  // Now final: the same request is kept.
  msgs.clear();
  ASSERT_TRUE(ReadWindows(req, &msgs).ok());
  EXPECT_EQ(service_->stream_cache_stats().entries, 1);

  v1::StreamWindowsRequest follow = HistoryRequest(0);
  follow.set_follow(true);
  grpc::ClientContext ctx;
  auto stream = stub_->StreamWindows(&ctx, follow);
  v1::StreamWindowsResponse msg;
  ASSERT_TRUE(stream->Read(&msg));  // Header.
  ASSERT_TRUE(stream->Read(&msg));  // Rows.
  ctx.TryCancel();
  stream->Finish();
  const StreamCacheStats stats = service_->stream_cache_stats();
  EXPECT_EQ(stats.entries, 1);
  // Only the second read looked in the cache: neither the first (not final when it started)
  // nor the follow stream did.
  EXPECT_EQ(stats.misses_total, 1);
  EXPECT_EQ(stats.hits_total, 0);
}

TEST_F(MetricFeedServiceTest, StreamCacheOfZeroBytesKeepsNothing) {
  service_->BeginShutdown();
  server_->Shutdown(1000);
  ServiceOptions opts;
  opts.upstream_status = ReadyUpstream;
  opts.now_ms = [] { return kNow; };
  opts.stream_cache_bytes = 0;
  Serve(&store_, opts);
  const v1::StreamWindowsRequest req = HistoryRequest(kT0 + 59'000);
  for (int i = 0; i < 2; ++i) {
    std::vector<v1::StreamWindowsResponse> msgs;
    ASSERT_TRUE(ReadWindows(req, &msgs).ok());
    EXPECT_EQ(msgs.size(), 10u);
  }
  const StreamCacheStats stats = service_->stream_cache_stats();
  EXPECT_EQ(stats.entries, 0);
  EXPECT_EQ(stats.hits_total, 0);
}

TEST_F(MetricFeedServiceTest, FollowDeliversNewRowsAndCancelFreesTheStream) {
  v1::StreamWindowsRequest req;
  req.add_features("load");
  req.set_window(1);
  req.set_start_ms(kT0 + 95'000);
  req.set_follow(true);
  grpc::ClientContext ctx;
  auto reader = stub_->StreamWindows(&ctx, req);
  v1::StreamWindowsResponse msg;
  ASSERT_TRUE(reader->Read(&msg));
  ASSERT_TRUE(msg.has_header());
  EXPECT_EQ(msg.header().end_time_ms(), 0);
  int64_t rows = 0;
  while (rows < 5) {  // 95..99 s are complete already.
    ASSERT_TRUE(reader->Read(&msg));
    rows += msg.rows().row_count();
  }
  EXPECT_EQ(service_->active_streams(), 1);
  // New data arrives: rows 100 s and 101 s follow.
  for (int64_t t : {100, 101}) {
    store_.Append(Metric("load", "a:1"), std::vector<Sample>{{kT0 + t * 1000, double(t)}});
    store_.Append(Metric("load", "b:1"), std::vector<Sample>{{kT0 + t * 1000, double(t)}});
  }
  store_.AdvanceCompleteThrough(kT0 + 101'000);
  ASSERT_TRUE(reader->Read(&msg));
  EXPECT_EQ(msg.rows().first_row_index(), 5);
  EXPECT_EQ(Decode<int64_t>(msg.rows().time_ms()).front(), kT0 + 100'000);
  ctx.TryCancel();
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(WaitFor([&] { return service_->active_streams() == 0; }));
}

TEST_F(MetricFeedServiceTest, SlowFollowerIsToldItLostWindows) {
  store::SeriesStore small({.retention_ms = 20'000, .interval_ms = 1000, .max_series = 10});
  std::vector<Sample> s;
  for (int64_t i = 0; i < 10; ++i) s.push_back({kT0 + i * 1000, double(i)});
  small.Append(Metric("x", "a"), s);
  small.AdvanceCompleteThrough(kT0 + 9000);
  service_->BeginShutdown();
  server_->Shutdown(1000);
  ServiceOptions opts;
  opts.upstream_status = ReadyUpstream;
  opts.now_ms = [] { return kT0 + 10'000; };
  Serve(&small, opts);

  v1::StreamWindowsRequest req;
  req.add_features("x");
  req.set_window(3);
  req.set_start_ms(kT0);
  req.set_follow(true);
  grpc::ClientContext ctx;
  auto reader = stub_->StreamWindows(&ctx, req);
  v1::StreamWindowsResponse msg;
  ASSERT_TRUE(reader->Read(&msg));  // Header.
  ASSERT_TRUE(reader->Read(&msg));  // Rows 0..9.
  // The client stops reading while the ring turns over many times.
  for (int64_t i = 10; i < 200; ++i) {
    small.Append(Metric("x", "a"), std::vector<Sample>{{kT0 + i * 1000, double(i)}});
  }
  small.AdvanceCompleteThrough(kT0 + 199'000);
  int64_t lost = 0;
  for (int i = 0; i < 50 && lost == 0; ++i) {
    ASSERT_TRUE(reader->Read(&msg));
    lost = msg.rows().lost_windows_total();
  }
  EXPECT_GT(lost, 0);
  ctx.TryCancel();
  reader->Finish();
  EXPECT_TRUE(WaitFor([&] { return service_->active_streams() == 0; }));
  EXPECT_GT(service_->windows_lost_total(), 0);
  // `small` dies with this scope: stop what reads it first.
  service_->BeginShutdown();
  server_.reset();
  service_.reset();
}

// A store of many series, so that a stream's messages are large enough for gRPC's flow
// control to hold the writer back when the client does not read.
class MetricFeedServiceBigTest : public MetricFeedServiceTest {
 protected:
  static constexpr int kSeries = 1000;
  static constexpr int kRows = 2000;
  void SetUp() override {
    for (int f = 0; f < kSeries; ++f) {
      std::vector<Sample> samples;
      for (int64_t i = 0; i < kRows; ++i) samples.push_back({kT0 + i * 1000, double(f + i)});
      big_.Append(Metric("big", "i" + std::to_string(f)), samples);
    }
    big_.AdvanceCompleteThrough(kT0 + (kRows - 1) * 1000);
    MetricFeedServiceTest::SetUp();
    // Serve big_ instead of the fixture's store.
    service_->BeginShutdown();
    server_->Shutdown(1000);
    ServiceOptions opts;
    opts.max_streams = 8;
    opts.retention_ms = 3'600'000;
    opts.upstream_status = ReadyUpstream;
    opts.now_ms = [] { return kT0 + kRows * 1000; };
    service_ = std::make_unique<MetricFeedService>(&big_, opts);
    auto server = GrpcServer::Start("127.0.0.1:0", service_.get());
    ASSERT_TRUE(server.ok());
    server_ = *std::move(server);
    // A fixed flow-control window (no BDP probing, which can grow it past the whole 8 MB
    // stream): a client that stops reading then holds the writer back on any machine.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    stub_ = v1::MetricFeed::NewStub(grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(server_->port()), grpc::InsecureChannelCredentials(), args));
  }
  void TearDown() override {
    // big_ dies after the fixture's members: stop what reads it first.
    service_->BeginShutdown();
    server_.reset();
    service_.reset();
  }
  v1::StreamWindowsRequest Request() const {
    v1::StreamWindowsRequest req;
    req.add_features("big");
    req.set_window(1);
    req.set_start_ms(kT0);
    req.set_end_ms(kT0 + (kRows - 1) * 1000);
    req.set_max_rows_per_message(50);  // 200 KB of float32 per message, 40 messages.
    return req;
  }
  // Rows produced so far, once the count has not changed for 200 ms (bounded wait).
  int64_t SettledRowsProduced() {
    int64_t last = -1;
    int same = 0;
    WaitFor([&] {
      const int64_t now = service_->windows_sent_total();
      same = now == last ? same + 1 : 0;
      last = now;
      return same >= 40;
    });
    return last;
  }
  store::SeriesStore big_{{.retention_ms = 2'100'000, .interval_ms = 1000, .max_series = 2000}};
};

TEST_F(MetricFeedServiceBigTest, SlowReaderHoldsTheStreamBackThenGetsEveryRowInOrder) {
  grpc::ClientContext ctx;
  auto reader = stub_->StreamWindows(&ctx, Request());
  v1::StreamWindowsResponse msg;
  ASSERT_TRUE(reader->Read(&msg));  // Header.
  ASSERT_TRUE(reader->Read(&msg));  // Rows 0..49.
  // The client stops reading: the daemon produces what flow control lets through, plus the
  // message being written and the next one, and then waits.
  const int64_t produced = SettledRowsProduced();
  EXPECT_LT(produced, kRows) << "the writer was not held back";
  int64_t next_row = msg.rows().first_row_index() + msg.rows().row_count();
  while (reader->Read(&msg)) {
    ASSERT_EQ(msg.rows().first_row_index(), next_row);
    const std::vector<float> v = Decode<float>(msg.rows().values());
    ASSERT_EQ(v.size(), static_cast<size_t>(msg.rows().row_count()) * kSeries);
    // Series are listed in label order ("i0", "i1", "i10", ...): check the first, i0.
    EXPECT_EQ(v[0], static_cast<float>(next_row));
    next_row += msg.rows().row_count();
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(next_row, kRows);
}

TEST_F(MetricFeedServiceBigTest, CancelWithTwoMessagesInFlightFinishesOnce) {
  for (int run = 0; run < 5; ++run) {
    grpc::ClientContext ctx;
    auto reader = stub_->StreamWindows(&ctx, Request());
    v1::StreamWindowsResponse msg;
    ASSERT_TRUE(reader->Read(&msg));     // Header.
    ASSERT_TRUE(reader->Read(&msg));     // Rows 0..49; the daemon writes on and produces ahead.
    if (run > 0) SettledRowsProduced();  // Run 0 cancels at once, mid-production.
    ctx.TryCancel();
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
    EXPECT_TRUE(WaitFor([&] { return service_->active_streams() == 0; }));
  }
  // The service still serves whole streams.
  std::vector<v1::StreamWindowsResponse> msgs;
  ASSERT_TRUE(ReadWindows(Request(), &msgs).ok());
  EXPECT_EQ(msgs.size(), 1u + kRows / 50);
}

TEST_F(MetricFeedServiceTest, MaxStreamsIsResourceExhausted) {
  service_->BeginShutdown();
  server_->Shutdown(1000);
  StartServer(/*max_streams=*/1);
  v1::StreamWindowsRequest req;
  req.add_features("load");
  req.set_window(1);
  req.set_follow(true);
  grpc::ClientContext ctx;
  auto first = stub_->StreamWindows(&ctx, req);
  v1::StreamWindowsResponse msg;
  ASSERT_TRUE(first->Read(&msg));
  std::vector<v1::StreamWindowsResponse> msgs;
  grpc::Status s = ReadWindows(req, &msgs);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), HasSubstr("max_streams"));
  ctx.TryCancel();
  first->Finish();
}

TEST_F(MetricFeedServiceTest, NotReadyIsUnavailable) {
  ready_ = false;
  grpc::ClientContext ctx;
  v1::ListSeriesResponse resp;
  grpc::Status s = stub_->ListSeries(&ctx, v1::ListSeriesRequest(), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("not ready"));
  v1::StreamWindowsRequest req;
  req.add_features("load");
  req.set_window(1);
  std::vector<v1::StreamWindowsResponse> msgs;
  EXPECT_EQ(ReadWindows(req, &msgs).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(MetricFeedServiceTest, ShutdownEndsFollowStreamsWithUnavailable) {
  v1::StreamWindowsRequest req;
  req.add_features("load");
  req.set_window(1);
  req.set_follow(true);
  grpc::ClientContext ctx;
  auto reader = stub_->StreamWindows(&ctx, req);
  v1::StreamWindowsResponse msg;
  while (reader->Read(&msg) && !msg.has_rows()) {
  }
  service_->BeginShutdown();
  while (reader->Read(&msg)) {
  }
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("shutting down"));
}

TEST_F(MetricFeedServiceTest, GetStatusReportsStoreAndUpstream) {
  grpc::ClientContext ctx;
  v1::GetStatusResponse resp;
  ASSERT_TRUE(stub_->GetStatus(&ctx, v1::GetStatusRequest(), &resp).ok());
  EXPECT_EQ(resp.version(), "test");
  EXPECT_EQ(resp.upstream_url(), "http://prometheus:9090");
  EXPECT_EQ(resp.upstream_state(), v1::UP);
  EXPECT_EQ(resp.series_count(), 2);
  EXPECT_EQ(resp.samples_held(), 200);
  EXPECT_GT(resp.ring_bytes(), 200 * 16);
  EXPECT_TRUE(resp.ready());
  EXPECT_EQ(resp.complete_through_ms(), kT0 + 99'000);
  EXPECT_EQ(resp.active_streams(), 0);
}

TEST_F(MetricFeedServiceTest, HealthReportsReadiness) {
  auto check = [&](const std::string& service) {
    // HealthCheckRequest{service} = field 1, length-delimited.
    std::string resp;
    grpc::Status s = RawUnaryCall("/grpc.health.v1.Health/Check",
                                  std::string(1, '\x0a') + char(service.size()) + service, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    // HealthCheckResponse{status = 1 (SERVING) or 2 (NOT_SERVING)}.
    return resp.size() == 2 ? int(resp[1]) : -1;
  };
  EXPECT_EQ(check(GrpcServer::kServiceName), 1);
  server_->SetReady(false);
  EXPECT_EQ(check(GrpcServer::kServiceName), 2);
  EXPECT_EQ(check(""), 1);  // Liveness stays up.
}

TEST_F(MetricFeedServiceTest, StreamWindowsRejectsARequestThatDoesNotDecode) {
  // Field 1 (features), length-delimited, claiming 100 bytes where 1 follows.
  std::string resp;
  grpc::Status s =
      RawUnaryCall("/promfeed.v1.MetricFeed/StreamWindows", std::string("\x0a\x64x", 3), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("not a promfeed.v1.StreamWindowsRequest"));
  EXPECT_EQ(service_->active_streams(), 0);
}

}  // namespace
}  // namespace promfeed::server
