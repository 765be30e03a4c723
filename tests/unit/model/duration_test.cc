#include "daemon/model/duration.h"

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace promfeed {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kS = 1000;
constexpr int64_t kM = 60 * kS;
constexpr int64_t kH = 60 * kM;
constexpr int64_t kD = 24 * kH;
constexpr int64_t kW = 7 * kD;
constexpr int64_t kY = 365 * kD;

struct ValidCase {
  const char* text;
  int64_t ms;
};

TEST(DurationTest, ParsesValidDurations) {
  const ValidCase cases[] = {
      {"0", 0},
      {"0s", 0},
      {"0ms", 0},
      {"500ms", 500},
      {"1s", kS},
      {"15s", 15 * kS},
      {"1m", kM},
      {"90m", 90 * kM},
      {"1h30m", kH + 30 * kM},
      {"1h", kH},
      {"1d", kD},
      {"2w", 2 * kW},
      {"1y", kY},
      {"1y2w3d4h5m6s7ms", kY + 2 * kW + 3 * kD + 4 * kH + 5 * kM + 6 * kS + 7},
      {"1s500ms", 1500},
      {"1m0s", kM},
      {"007s", 7 * kS},
      {"292y", 292 * kY},
  };
  for (const ValidCase& c : cases) {
    absl::StatusOr<int64_t> got = ParseDurationMs(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.status();
    EXPECT_EQ(*got, c.ms) << c.text;
  }
}

struct InvalidCase {
  const char* text;
  const char* problem;
};

TEST(DurationTest, RejectsInvalidDurations) {
  const InvalidCase cases[] = {
      {"", "empty"},
      {"1.5s", "fractions are not allowed"},
      {"1.5", "fractions are not allowed"},
      {"-1s", "negative"},
      {"1s1h", "after a smaller unit"},
      {"1ms1s", "after a smaller unit"},
      {"1m1m", "repeated"},
      {"10x", "unknown unit \"x\""},
      {"10", "missing unit"},
      {"00", "missing unit"},
      {"s", "expected a digit"},
      {"1S", "unknown unit \"S\""},
      {"1 s", "unknown unit \" s\""},
      {" 1s", "expected a digit"},
      {"1s ", "unknown unit \"s \""},
      {"1sec", "unknown unit \"sec\""},
      {"+1s", "expected a digit"},
      {"293y", "out of range"},
      {"9223372036854775808ms", "out of range"},
      {"99999999999999999999s", "out of range"},
      {"292y30w", "out of range"},
      {"auto", "expected a digit"},
  };
  for (const InvalidCase& c : cases) {
    absl::StatusOr<int64_t> got = ParseDurationMs(c.text);
    ASSERT_FALSE(got.ok()) << "'" << c.text << "' parsed as " << *got;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(std::string(got.status().message()), HasSubstr(c.problem)) << c.text;
    EXPECT_THAT(std::string(got.status().message()), HasSubstr(std::string("\"") + c.text + "\""))
        << c.text;
  }
}

TEST(DurationTest, ErrorSaysWhatIsAccepted) {
  absl::StatusOr<int64_t> got = ParseDurationMs("10x");
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(std::string(got.status().message()),
              HasSubstr("units y, w, d, h, m, s, ms, largest first"));
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("\"1h30m\""));
}

TEST(DurationTest, FormatsLikePrometheus) {
  EXPECT_EQ(FormatDurationMs(0), "0s");
  EXPECT_EQ(FormatDurationMs(1), "1ms");
  EXPECT_EQ(FormatDurationMs(1500), "1s500ms");
  EXPECT_EQ(FormatDurationMs(90 * kS), "1m30s");
  EXPECT_EQ(FormatDurationMs(kH + 30 * kM), "1h30m");
  EXPECT_EQ(FormatDurationMs(kD), "1d");
  EXPECT_EQ(FormatDurationMs(kW), "1w");
  EXPECT_EQ(FormatDurationMs(2 * kY), "2y");
  // Years and weeks only when exact, as Prometheus: 90d, not 12w6d.
  EXPECT_EQ(FormatDurationMs(90 * kD), "90d");
  EXPECT_EQ(FormatDurationMs(kY + kD), "366d");
  EXPECT_EQ(FormatDurationMs(kD + kH + kM + kS + 1), "1d1h1m1s1ms");
  EXPECT_EQ(FormatDurationMs(-1500), "-1s500ms");
}

TEST(DurationTest, FormatRoundTrips) {
  for (int64_t ms :
       {int64_t{1}, int64_t{999}, 61 * kS, 25 * kH, 8 * kD + 5, 3 * kW, 5 * kY, kY + 3 * kD + 7}) {
    absl::StatusOr<int64_t> back = ParseDurationMs(FormatDurationMs(ms));
    ASSERT_TRUE(back.ok()) << FormatDurationMs(ms) << ": " << back.status();
    EXPECT_EQ(*back, ms);
  }
}

}  // namespace
}  // namespace promfeed
