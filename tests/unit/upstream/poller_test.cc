#include "daemon/upstream/poller.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "daemon/model/selector.h"
#include "daemon/upstream/prom_json.h"
#include "tests/unit/upstream/fake_http_server.h"

namespace promfeed::upstream {
namespace {

using ::promfeed::testing::FakeHttpServer;
using ::promfeed::testing::FakeRequest;
using ::promfeed::testing::FakeResponse;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

constexpr int64_t kInterval = 1'000;
constexpr int64_t kP = 1'700'000'000'000;  // A grid tick.

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

std::map<std::string, std::string> DecodeForm(const std::string& body) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t amp = body.find('&', pos);
    if (amp == std::string::npos) amp = body.size();
    std::string pair = body.substr(pos, amp - pos);
    const size_t eq = pair.find('=');
    auto decode = [](std::string_view s) {
      std::string r;
      for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
          r += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() + 0) {
          r += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
          i += 2;
        } else {
          r += s[i];
        }
      }
      return r;
    };
    if (eq != std::string::npos) out[decode(pair.substr(0, eq))] = decode(pair.substr(eq + 1));
    pos = amp + 1;
  }
  return out;
}

// One recorded API call, decoded.
struct Call {
  std::string path;
  std::string query;
  int64_t time = 0, start = 0, end = 0, step = 0;  // ms
};

// A fake Prometheus holding series `up{instance="a"}` and `up{instance="b"}` with one sample
// per second (value = seconds), answering instant range-vector queries `sel[Nms]` (samples in
// [t-N, t], as Prometheus 2.x) and query_range (value = point time in seconds).
class FakePrometheus {
 public:
  FakePrometheus() : server_([this](const FakeRequest& r) { return Handle(r); }) {}

  std::string url() const { return server_.url(); }
  void SetDown(bool down) {
    std::lock_guard<std::mutex> lock(mu_);
    down_ = down;
  }
  void SetHang(bool hang) {
    std::lock_guard<std::mutex> lock(mu_);
    hang_ = hang;
  }
  std::vector<Call> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  void ClearCalls() {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.clear();
  }
  FakeHttpServer& server() { return server_; }

 private:
  static int64_t Ms(const std::string& seconds) { return *ParseTimestampMs(seconds); }

  FakeResponse Handle(const FakeRequest& r) {
    FakeResponse out;
    std::map<std::string, std::string> form = DecodeForm(r.body);
    Call call{r.target, form["query"]};
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (hang_) {
        out.hang = true;
        return out;
      }
      if (down_) {
        out.status = 503;
        out.content_type = "text/plain";
        out.body = "Service Unavailable";
        return out;
      }
    }
    if (r.target == "/api/v1/status/config") {
      out.body = R"({"status":"success","data":{"yaml":"global:\n  scrape_interval: 7s\n"}})";
      return out;
    }
    std::string result;
    if (r.target == "/api/v1/query") {
      call.time = Ms(form["time"]);
      const size_t open = call.query.rfind('[');
      const int64_t range = std::stoll(call.query.substr(open + 1));
      std::string sel = call.query.substr(0, open);
      if (sel == "broken") {
        out.status = 400;
        out.body = R"({"status":"error","errorType":"bad_data","error":"unknown"})";
        Record(call);
        return out;
      }
      for (const char* instance : {"a", "b"}) {
        std::string values;
        for (int64_t t = CeilDiv(call.time - range, 1000) * 1000; t <= call.time; t += 1000) {
          if (!values.empty()) values += ",";
          values += "[" + FormatTimestampSeconds(t) + ",\"" + std::to_string(t / 1000) + "\"]";
        }
        if (values.empty()) continue;
        if (!result.empty()) result += ",";
        result += std::string(R"({"metric":{"__name__":"up","instance":")") + instance +
                  R"("},"values":[)" + values + "]}";
      }
    } else if (r.target == "/api/v1/query_range") {
      call.start = Ms(form["start"]);
      call.end = Ms(form["end"]);
      call.step = Ms(form["step"]);
      std::string values;
      for (int64_t t = call.start; t <= call.end; t += call.step) {
        if (!values.empty()) values += ",";
        values += "[" + FormatTimestampSeconds(t) + ",\"" + std::to_string(t / 1000) + "\"]";
      }
      result = R"({"metric":{"instance":"a"},"values":[)" + values + "]}";
    }
    Record(call);
    out.body = R"({"status":"success","data":{"resultType":"matrix","result":[)" + result + "]}}";
    return out;
  }

  static int64_t CeilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : a / b; }

  void Record(const Call& call) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(call);
  }

  std::mutex mu_;
  std::vector<Call> calls_;
  bool down_ = false;
  bool hang_ = false;
  FakeHttpServer server_;  // Last: stops before the state above goes.
};

// Keeps what the store would: per series, samples newer than the newest held.
class FakeSink : public IngestSink {
 public:
  struct State {
    std::mutex mu;
    std::map<std::string, std::vector<Sample>> series;  // By Labels::ToString().
    std::vector<int64_t> complete_through;
    int publishes = 0;
  };
  explicit FakeSink(std::shared_ptr<State> state) : state_(std::move(state)) {}
  size_t Append(const Labels& labels, std::span<const Sample> samples) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    std::vector<Sample>& held = state_->series[labels.ToString()];
    size_t appended = 0;
    for (const Sample& s : samples) {
      if (!held.empty() && s.time_ms <= held.back().time_ms) continue;
      held.push_back(s);
      ++appended;
    }
    return appended;
  }
  void Publish() override {
    std::lock_guard<std::mutex> lock(state_->mu);
    ++state_->publishes;
  }
  void AdvanceCompleteThrough(int64_t t_ms) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->complete_through.push_back(t_ms);
  }

 private:
  std::shared_ptr<State> state_;
};

config::Input SelectorInput(std::string_view text) {
  config::Input in;
  in.kind = config::Input::Kind::kSelector;
  absl::StatusOr<Selector> sel = Selector::Parse(text);
  EXPECT_TRUE(sel.ok()) << sel.status();
  if (sel.ok()) in.selector = *sel;
  return in;
}

config::Input ExprInput(std::string name, std::string expr) {
  config::Input in;
  in.kind = config::Input::Kind::kExpr;
  in.name = std::move(name);
  in.expr = std::move(expr);
  return in;
}

config::Config ConfigFor(const std::string& url, std::vector<config::Input> inputs) {
  config::Config c;
  c.poll_interval_ms = kInterval;
  c.backfill_ms = 12'000;
  c.retention_ms = 3'600'000;
  c.upstream.url = url;
  c.upstream.timeout_ms = 5'000;
  c.inputs = std::move(inputs);
  return c;
}

PollerOptions SmallChunks() {
  PollerOptions o;
  o.max_points_per_query = 5;
  return o;
}

// Expects `samples` to be exactly one per second over [from, to] (ms).
void ExpectContiguous(const std::vector<Sample>& samples, int64_t from, int64_t to) {
  ASSERT_FALSE(samples.empty());
  EXPECT_EQ(samples.front().time_ms, from);
  EXPECT_EQ(samples.back().time_ms, to);
  for (size_t i = 1; i < samples.size(); ++i) {
    ASSERT_EQ(samples[i].time_ms - samples[i - 1].time_ms, 1000) << "gap before index " << i;
  }
}

TEST(PollerTest, BackfillIsChunkedOldestFirst) {
  FakePrometheus prom;
  auto sink = std::make_shared<FakeSink::State>();
  Poller poller(ConfigFor(prom.url(), {SelectorInput("up"), ExprInput("load", "sum(rate(x[1m]))")}),
                std::make_unique<FakeSink>(sink), SmallChunks());
  ASSERT_TRUE(poller.PollOnce(kP).ok());
  std::vector<Call> calls = prom.calls();
  ASSERT_EQ(calls.size(), 6u);
  // Selector: (P-12s, P] in spans of at most 5 points x 1s, each evaluated at its end.
  EXPECT_EQ(calls[0].query, "up[5000ms]");
  EXPECT_EQ(calls[0].time, kP - 7'000);
  EXPECT_EQ(calls[1].query, "up[5000ms]");
  EXPECT_EQ(calls[1].time, kP - 2'000);
  EXPECT_EQ(calls[2].query, "up[2000ms]");
  EXPECT_EQ(calls[2].time, kP);
  // Expr: grid points P-12s .. P-1s, at most 5 per query, oldest first.
  for (int i = 3; i < 6; ++i) {
    EXPECT_EQ(calls[i].path, "/api/v1/query_range");
    EXPECT_EQ(calls[i].query, "sum(rate(x[1m]))");
    EXPECT_EQ(calls[i].step, kInterval);
  }
  EXPECT_EQ(calls[3].start, kP - 12'000);
  EXPECT_EQ(calls[3].end, kP - 8'000);
  EXPECT_EQ(calls[4].start, kP - 7'000);
  EXPECT_EQ(calls[4].end, kP - 3'000);
  EXPECT_EQ(calls[5].start, kP - 2'000);
  EXPECT_EQ(calls[5].end, kP - 1'000);

  std::lock_guard<std::mutex> lock(sink->mu);
  ASSERT_EQ(sink->series.size(), 3u);
  ExpectContiguous(sink->series["up{instance=\"a\"}"], kP - 12'000, kP);
  ExpectContiguous(sink->series["up{instance=\"b\"}"], kP - 12'000, kP);
  // Expr results are named after the input.
  ExpectContiguous(sink->series["load{instance=\"a\"}"], kP - 12'000, kP - 1'000);
  EXPECT_THAT(sink->complete_through, ElementsAre(kP - kInterval));
  PollerStats stats = poller.Stats();
  EXPECT_TRUE(stats.ready);
  EXPECT_EQ(stats.state, UpstreamState::kUp);
  EXPECT_EQ(stats.samples_ingested_total, 13 + 13 + 12);
}

TEST(PollerTest, SelectorsAreReadUpToTheRoundsWallTime) {
  FakePrometheus prom;
  auto sink = std::make_shared<FakeSink::State>();
  Poller poller(ConfigFor(prom.url(), {SelectorInput("up")}), std::make_unique<FakeSink>(sink),
                PollerOptions{});
  ASSERT_TRUE(poller.PollOnce(kP, kP + 600).ok());
  std::vector<Call> calls = prom.calls();
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back().time, kP + 600);  // Samples since the tick are read now, not next round.
  std::lock_guard<std::mutex> lock(sink->mu);
  EXPECT_EQ(sink->series["up{instance=\"a\"}"].back().time_ms, kP);
  EXPECT_THAT(sink->complete_through, ElementsAre(kP - kInterval));  // Still from the tick.
}

TEST(PollerTest, RoundsMoveJustAfterTheScrapes) {
  FakePrometheus prom;  // Samples on whole seconds: phase 0.
  auto sink = std::make_shared<FakeSink::State>();
  Poller poller(ConfigFor(prom.url(), {SelectorInput("up")}), std::make_unique<FakeSink>(sink),
                PollerOptions{});
  EXPECT_EQ(poller.tick_offset_ms(), kInterval / 4);
  ASSERT_TRUE(poller.PollOnce(kP).ok());
  // The end of phase bucket 0 (1000 ms / 64) plus the 100 ms ingestion allowance.
  EXPECT_EQ(poller.tick_offset_ms(), 15 + 100);

  PollerOptions fixed;
  fixed.tick_offset_ms = 300;
  Poller pinned(ConfigFor(prom.url(), {SelectorInput("up")}), std::make_unique<FakeSink>(sink),
                fixed);
  ASSERT_TRUE(pinned.PollOnce(kP).ok());
  EXPECT_EQ(pinned.tick_offset_ms(), 300);
}

TEST(PollerTest, ZeroBackfillStillPollsTheLastInterval) {
  FakePrometheus prom;
  auto sink = std::make_shared<FakeSink::State>();
  config::Config config = ConfigFor(prom.url(), {SelectorInput("up")});
  config.backfill_ms = 0;
  Poller poller(config, std::make_unique<FakeSink>(sink), SmallChunks());
  ASSERT_TRUE(poller.PollOnce(kP).ok());
  ASSERT_TRUE(poller.PollOnce(kP + kInterval).ok());
  std::vector<Call> calls = prom.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].query, "up[1000ms]");
  EXPECT_EQ(calls[0].time, kP);
  std::lock_guard<std::mutex> lock(sink->mu);
  ExpectContiguous(sink->series["up{instance=\"a\"}"], kP - kInterval, kP + kInterval);
}

TEST(PollerTest, SteadyPollsOverlapByOneIntervalAndDeduplicate) {
  FakePrometheus prom;
  auto sink = std::make_shared<FakeSink::State>();
  Poller poller(ConfigFor(prom.url(), {SelectorInput("up"), ExprInput("load", "x")}),
                std::make_unique<FakeSink>(sink), SmallChunks());
  ASSERT_TRUE(poller.PollOnce(kP).ok());
  const int64_t after_backfill = poller.Stats().samples_ingested_total;
  prom.ClearCalls();
  ASSERT_TRUE(poller.PollOnce(kP + kInterval).ok());
  std::vector<Call> calls = prom.calls();
  ASSERT_EQ(calls.size(), 2u);
  // D = P - last P + interval.
  EXPECT_EQ(calls[0].query, "up[2000ms]");
  EXPECT_EQ(calls[0].time, kP + kInterval);
  EXPECT_EQ(calls[1].start, kP);
  EXPECT_EQ(calls[1].end, kP);
  // 3 samples per selector series came back, 2 were held already: 1 new each, 1 expr point.
  EXPECT_EQ(poller.Stats().samples_ingested_total, after_backfill + 1 + 1 + 1);
  std::lock_guard<std::mutex> lock(sink->mu);
  ExpectContiguous(sink->series["up{instance=\"a\"}"], kP - 12'000, kP + kInterval);
  EXPECT_THAT(sink->complete_through, ElementsAre(kP - kInterval, kP));
}

TEST(PollerTest, OutageThenRecoveryCoversTheGap) {
  FakePrometheus prom;
  auto sink = std::make_shared<FakeSink::State>();
  config::Config config = ConfigFor(prom.url(), {SelectorInput("up"), ExprInput("load", "x")});
  config.upstream.url = "http://alice:s3cret@" + prom.url().substr(7);
  Poller poller(config, std::make_unique<FakeSink>(sink), SmallChunks());
  ASSERT_TRUE(poller.PollOnce(kP).ok());

  prom.SetDown(true);
  for (int64_t p = kP + kInterval; p <= kP + 3 * kInterval; p += kInterval) {
    absl::Status st = poller.PollOnce(p);
    EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  }
  PollerStats stats = poller.Stats();
  EXPECT_EQ(stats.state, UpstreamState::kDown);
  EXPECT_THAT(stats.last_error, HasSubstr("answered HTTP 503"));
  EXPECT_THAT(stats.last_error, HasSubstr("/api/v1/query"));
  EXPECT_THAT(stats.last_error, Not(HasSubstr("s3cret")));
  EXPECT_THAT(stats.upstream_url, Not(HasSubstr("s3cret")));
  EXPECT_EQ(stats.polls_total, 4);
  EXPECT_EQ(stats.poll_failures_total, 3);
  EXPECT_EQ(stats.failures_by_reason.http_status, 6);  // Two inputs, three rounds.
  EXPECT_TRUE(stats.ready);

  prom.SetDown(false);
  prom.ClearCalls();
  const int64_t p = kP + 20 * kInterval;
  ASSERT_TRUE(poller.PollOnce(p).ok());
  // Selector: (P - 1s, P + 20s] in 5 s spans; expr: points P .. P+19s in chunks of 5.
  std::vector<Call> calls = prom.calls();
  ASSERT_EQ(calls.size(), 5u + 4u);
  EXPECT_EQ(calls[0].query, "up[5000ms]");
  EXPECT_EQ(calls[0].time, kP + 4'000);
  EXPECT_EQ(calls[4].query, "up[1000ms]");
  EXPECT_EQ(calls[4].time, p);
  EXPECT_EQ(calls[5].start, kP);
  EXPECT_EQ(calls[8].end, p - kInterval);

  stats = poller.Stats();
  EXPECT_EQ(stats.state, UpstreamState::kUp);
  EXPECT_EQ(stats.last_error, "");
  std::lock_guard<std::mutex> lock(sink->mu);
  ExpectContiguous(sink->series["up{instance=\"a\"}"], kP - 12'000, p);
  ExpectContiguous(sink->series["up{instance=\"b\"}"], kP - 12'000, p);
  ExpectContiguous(sink->series["load{instance=\"a\"}"], kP - 12'000, p - kInterval);
  // Completion advanced only after successful rounds.
  EXPECT_THAT(sink->complete_through, ElementsAre(kP - kInterval, p - kInterval));
}

TEST(PollerTest, GapIsCappedAtRetention) {
  FakePrometheus prom;
  auto sink = std::make_shared<FakeSink::State>();
  config::Config config = ConfigFor(prom.url(), {SelectorInput("up"), ExprInput("load", "x")});
  config.retention_ms = 8'000;
  config.backfill_ms = 60'000;  // Longer than the retention: capped too.
  Poller poller(config, std::make_unique<FakeSink>(sink), PollerOptions{});
  ASSERT_TRUE(poller.PollOnce(kP).ok());
  std::vector<Call> calls = prom.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].query, "up[8000ms]");
  EXPECT_EQ(calls[1].start, kP - 8'000);
  prom.ClearCalls();
  ASSERT_TRUE(poller.PollOnce(kP + 100'000).ok());
  calls = prom.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].query, "up[8000ms]");
  EXPECT_EQ(calls[1].start, kP + 100'000 - 8'000);
}

TEST(PollerTest, FailedInputFailsRoundButOthersIngest) {
  FakePrometheus prom;
  auto sink = std::make_shared<FakeSink::State>();
  Poller poller(ConfigFor(prom.url(), {SelectorInput("broken"), SelectorInput("up")}),
                std::make_unique<FakeSink>(sink), PollerOptions{});
  absl::Status st = poller.PollOnce(kP);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(Msg(st), HasSubstr("query `broken[12000ms]`"));
  EXPECT_THAT(Msg(st), HasSubstr("prometheus bad_data: unknown"));
  PollerStats stats = poller.Stats();
  EXPECT_EQ(stats.state, UpstreamState::kDown);
  EXPECT_FALSE(stats.ready);
  EXPECT_EQ(stats.failures_by_reason.api_error, 1);
  std::lock_guard<std::mutex> lock(sink->mu);
  EXPECT_EQ(sink->series["up{instance=\"a\"}"].size(), 13u);
  EXPECT_TRUE(sink->complete_through.empty());
}

TEST(PollerTest, StartPollsOnTheGridAndStopIsPrompt) {
  FakePrometheus prom;
  auto sink = std::make_shared<FakeSink::State>();
  config::Config config = ConfigFor(prom.url(), {SelectorInput("up")});
  config.poll_interval_ms = 100;
  config.backfill_ms = 1'000;
  Poller poller(config, std::make_unique<FakeSink>(sink), PollerOptions{});
  ASSERT_TRUE(poller.Start().ok());
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(10);
  while (poller.Stats().polls_total < 3 && Clock::now() < deadline) {
    ASSERT_TRUE(prom.server().WaitForRequests(prom.calls().size() + 1, std::chrono::seconds(5)));
  }
  ASSERT_GE(poller.Stats().polls_total, 3);
  poller.Stop();
  // After the first round the rounds fire just after the samples' phase (0 here): the end of
  // phase bucket 0 (100 ms / 64 = 1) plus the allowance (interval / 10). Selectors are read at
  // the round's wall time: at or after that offset past a tick, one round per tick.
  const int64_t offset = poller.tick_offset_ms();
  EXPECT_EQ(offset, 1 + 10);
  std::vector<Call> calls = prom.calls();
  int64_t last_tick = 0;
  for (size_t i = 1; i < calls.size(); ++i) {
    const int64_t tick = (calls[i].time - offset) / 100 * 100;
    EXPECT_GT(tick, last_tick) << "two rounds on one tick";
    last_tick = tick;
  }
  EXPECT_TRUE(poller.Stats().ready);
}

TEST(PollerTest, StopCancelsHangingRequest) {
  FakePrometheus prom;
  prom.SetHang(true);
  auto sink = std::make_shared<FakeSink::State>();
  config::Config config = ConfigFor(prom.url(), {SelectorInput("up")});
  config.upstream.timeout_ms = 60'000;
  Poller poller(config, std::make_unique<FakeSink>(sink), PollerOptions{});
  ASSERT_TRUE(poller.Start().ok());
  ASSERT_TRUE(prom.server().WaitForRequests(1, std::chrono::seconds(10)));
  const Clock::time_point start = Clock::now();
  poller.Stop();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(1));
  EXPECT_FALSE(poller.Stats().ready);
  prom.server().Stop();
}

// A poll answered with `series` series of two samples each (at P-1s and P), sent in chunked
// pieces; series `odd_one` (if any) has a label with a surrogate pair escape, which the
// streaming decoder leaves to the general path.
FakeHttpServer LargePollServer(int series, int odd_one, std::mutex& mu,
                               std::vector<std::string>& forms) {
  std::string result;
  for (int i = 0; i < series; ++i) {
    if (i > 0) result += ',';
    result += R"({"metric":{"__name__":"up","instance":"10.0.)" + std::to_string(i / 250) + "." +
              std::to_string(i % 250) + R"(:9100")" +
              (i == odd_one ? R"(,"emoji":"\ud83d\ude00")" : "") + R"(},"values":[[)" +
              FormatTimestampSeconds(kP - 1'000) + R"(,"1"],[)" + FormatTimestampSeconds(kP) +
              ",\"" + std::to_string(i) + "\"]]}";
  }
  const std::string body =
      R"({"status":"success","data":{"resultType":"matrix","result":[)" + result + "]}}";
  return FakeHttpServer([&mu, &forms, body](const FakeRequest& r) {
    {
      std::lock_guard<std::mutex> lock(mu);
      forms.push_back(r.body);
    }
    FakeResponse out;
    out.body = body;
    out.chunked = true;
    out.piece_bytes = 256 * 1024;
    return out;
  });
}

TEST(PollerTest, LargeResponseIsStoredWhole) {
  constexpr int kSeries = 20'000;  // About 2.6 MB of body.
  for (int odd_one : {-1, kSeries / 2}) {
    SCOPED_TRACE(odd_one < 0 ? "fast path" : "refetched");
    std::mutex mu;
    std::vector<std::string> forms;
    FakeHttpServer server = LargePollServer(kSeries, odd_one, mu, forms);
    auto sink = std::make_shared<FakeSink::State>();
    config::Config config = ConfigFor(server.url(), {SelectorInput("up")});
    config.backfill_ms = 0;
    Poller poller(config, std::make_unique<FakeSink>(sink), PollerOptions{});
    ASSERT_TRUE(poller.PollOnce(kP).ok()) << poller.Stats().last_error;
    {
      std::lock_guard<std::mutex> lock(mu);
      // A body left to the general path halfway is fetched again, for the same time.
      ASSERT_EQ(forms.size(), odd_one < 0 ? 1u : 2u);
      EXPECT_EQ(forms.front(), forms.back());
    }
    // Every sample once: the series visited twice add nothing the second time.
    EXPECT_EQ(poller.Stats().samples_ingested_total, 2 * kSeries);
    std::lock_guard<std::mutex> lock(sink->mu);
    ASSERT_EQ(sink->series.size(), static_cast<size_t>(kSeries));
    for (const auto& [labels, samples] : sink->series) {
      ASSERT_EQ(samples.size(), 2u) << labels;
      EXPECT_EQ(samples[0].time_ms, kP - 1'000);
      EXPECT_EQ(samples[1].time_ms, kP);
    }
    EXPECT_EQ(sink->series["up{instance=\"10.0.0.7:9100\"}"][1].value, 7);
    if (odd_one >= 0) {
      EXPECT_EQ(sink->series["up{emoji=\"\xf0\x9f\x98\x80\", instance=\"10.0.40.0:9100\"}"].size(),
                2u);
    }
  }
}

TEST(PollerTest, ResolvePollInterval) {
  FakePrometheus prom;
  config::Config config = ConfigFor(prom.url(), {});
  config.poll_interval_ms = 15'000;
  EXPECT_EQ(*Poller::ResolvePollIntervalMs(config), 15'000);
  config.poll_interval_auto = true;
  absl::StatusOr<int64_t> ms = Poller::ResolvePollIntervalMs(config);
  ASSERT_TRUE(ms.ok()) << ms.status();
  EXPECT_EQ(*ms, 7'000);
  prom.SetDown(true);
  ms = Poller::ResolvePollIntervalMs(config);
  ASSERT_FALSE(ms.ok());
  EXPECT_THAT(Msg(ms.status()), HasSubstr("poll_interval: auto"));
  EXPECT_THAT(Msg(ms.status()), HasSubstr(prom.url() + "/api/v1/status/config"));
}

TEST(PollerTest, BackoffDoublesFromIntervalUpTo30s) {
  EXPECT_EQ(Poller::BackoffDelayMs(1, 1'000, 1.0), 1'000);
  EXPECT_EQ(Poller::BackoffDelayMs(2, 1'000, 1.0), 2'000);
  EXPECT_EQ(Poller::BackoffDelayMs(3, 1'000, 1.0), 4'000);
  EXPECT_EQ(Poller::BackoffDelayMs(10, 1'000, 1.0), 30'000);
  EXPECT_EQ(Poller::BackoffDelayMs(100, 1'000, 1.0), 30'000);
  EXPECT_EQ(Poller::BackoffDelayMs(1, 1'000, 0.0), 800);
  EXPECT_EQ(Poller::BackoffDelayMs(3, 60'000, 1.0), 60'000);  // Never below the interval.
}

TEST(PollerTest, BadUpstreamUrlFailsStart) {
  config::Config config = ConfigFor("ftp://nowhere", {});
  Poller poller(config, std::make_unique<FakeSink>(std::make_shared<FakeSink::State>()));
  absl::Status st = poller.Start();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(st), HasSubstr("upstream.url"));
}

}  // namespace
}  // namespace promfeed::upstream
