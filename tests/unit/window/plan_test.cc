#include "daemon/window/plan.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/window/window_test_util.h"

namespace promfeed::window {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1'000'000;

class PlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<Sample> s;
    for (int64_t t = 900'000; t <= kNow; t += 1000) s.push_back({t, 1});
    Put(store_, "a", s);
    Put(store_, "b", s);
    store_.Append(Labels({{"__name__", "c"}, {"job", "test"}, {"cpu", "0"}}), s);
    store_.Append(Labels({{"__name__", "c"}, {"job", "test"}, {"cpu", "1"}}), s);
    store_.Publish();
  }
  absl::StatusOr<WindowPlan> Plan(WindowRequest req) {
    return PlanWindows(store_, req, limits_, kNow);
  }
  store::SeriesStore store_{{.retention_ms = 3'600'000, .interval_ms = 1000, .max_series = 10}};
  PlanLimits limits_{.default_step_ms = 1000, .retention_ms = 3'600'000};
};

TEST_F(PlanTest, ColumnsFollowSelectorOrderThenLabels) {
  absl::StatusOr<WindowPlan> plan = Plan({.features = {"c", "a", "{__name__=~\"a|b\"}"}});
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->series.size(), 4u);
  EXPECT_EQ(plan->series[0]->labels().Get("cpu"), "0");
  EXPECT_EQ(plan->series[1]->labels().Get("cpu"), "1");
  EXPECT_EQ(plan->series[2]->labels().MetricName(), "a");
  // "a" already matched by selector 1: it is not repeated for selector 2.
  EXPECT_EQ(plan->series[3]->labels().MetricName(), "b");
  EXPECT_EQ(plan->selector_index, (std::vector<int32_t>{0, 0, 1, 2}));
}

TEST_F(PlanTest, DefaultsFromLimitsAndData) {
  absl::StatusOr<WindowPlan> plan = Plan({.features = {"a"}, .window = 5});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->spec.step_ms, 1000);
  EXPECT_EQ(plan->spec.lookback_ms, 2000);
  EXPECT_EQ(plan->spec.shift, 1);
  EXPECT_EQ(plan->spec.start_ms, 900'000);
  // Samples every second: the newest one (kNow) is final with its row, the next is due
  // a second later.
  EXPECT_EQ(plan->spec.end_ms, kNow);
}

TEST_F(PlanTest, AlignsStartUpAndEndDownToStep) {
  absl::StatusOr<WindowPlan> plan =
      Plan({.features = {"a"}, .step_ms = 15'000, .start_ms = 910'001, .end_ms = 989'999});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->spec.start_ms, 915'000);
  EXPECT_EQ(plan->spec.end_ms, 975'000);
  EXPECT_EQ(plan->spec.lookback_ms, 30'000);
}

TEST_F(PlanTest, FollowHasNoEnd) {
  absl::StatusOr<WindowPlan> plan = Plan({.features = {"a"}, .end_ms = 5, .follow = true});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->spec.end_ms, kFollowEnd);
}

TEST_F(PlanTest, InvalidArgumentsSayWhatToChange) {
  struct Case {
    WindowRequest req;
    std::string message;
  } cases[] = {
      {{.features = {}}, "features is empty"},
      {{.features = {"a{"}}, "features[0] 'a{'"},
      {{.features = {"a"}, .window = 0}, "window must be at least 1"},
      {{.features = {"a"}, .step_ms = -1}, "step_ms is negative"},
      {{.features = {"a"}, .shift = -2}, "shift must be at least 1"},
      {{.features = {"a"}, .lookback_ms = -5}, "lookback_ms is negative"},
      {{.features = {"a"}, .start_ms = 990'000, .end_ms = 950'000}, "is before start_ms"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<WindowPlan> plan = Plan(c.req);
    EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(plan.status().message(), HasSubstr(c.message));
  }
}

TEST_F(PlanTest, UnknownSeriesIsNotFound) {
  absl::StatusOr<WindowPlan> plan = Plan({.features = {"a", "nope{job=\"x\"}"}});
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(plan.status().message(), HasSubstr("features[1]"));
  EXPECT_THAT(plan.status().message(), HasSubstr("ListSeries"));
}

TEST_F(PlanTest, StartBeforeRetentionIsOutOfRange) {
  absl::StatusOr<WindowPlan> plan = Plan({.features = {"a"}, .start_ms = kNow - 3'700'000});
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(plan.status().message(), HasSubstr("use a later start_ms"));
}

TEST_F(PlanTest, StartBeforeOverwrittenDataIsOutOfRange) {
  store::SeriesStore small({.retention_ms = 10'000, .interval_ms = 1000, .max_series = 10});
  std::vector<Sample> s;
  for (int64_t t = 1000; t <= 100'000; t += 1000) s.push_back({t, 1});
  Put(small, "a", s);
  absl::StatusOr<WindowPlan> plan =
      PlanWindows(small, {.features = {"a"}, .start_ms = 50'000}, limits_, 100'000);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kOutOfRange);
  plan = PlanWindows(small, {.features = {"a"}}, limits_, 100'000);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->spec.start_ms, small.All()[0]->ring().oldest_time_ms());
}

TEST_F(PlanTest, TooManyFeaturesIsResourceExhausted) {
  limits_.max_features = 1;
  EXPECT_EQ(Plan({.features = {"c"}}).status().code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace promfeed::window
