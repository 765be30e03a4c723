// promfeedctl's terminal formatting: human units, durations, times and aligned tables.
#include "client/cpp/tools/format.h"

#include <gtest/gtest.h>

#include <cmath>

namespace promfeed::ctl {
namespace {

TEST(FormatTest, HumanBytes) {
  EXPECT_EQ(HumanBytes(512), "512 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(1.2 * 1024 * 1024), "1.2 MiB");
  EXPECT_EQ(HumanBytes(300.0 * 1024 * 1024 * 1024), "300 GiB");
}

TEST(FormatTest, HumanDurationAndAgo) {
  EXPECT_EQ(HumanDuration(250), "250ms");
  EXPECT_EQ(HumanDuration(1500), "1.5s");
  EXPECT_EQ(HumanDuration(200'000), "3m20s");
  EXPECT_EQ(HumanDuration(90'061'000), "1d1h1m1s");
  EXPECT_EQ(Ago(1'000'000 - 200'000, 1'000'000), "3m20s ago");
  EXPECT_EQ(Ago(0, 5), "never");
}

TEST(FormatTest, ParseDurationAndTime) {
  EXPECT_EQ(*ParseDuration("1h30m"), 5'400'000);
  EXPECT_EQ(*ParseDuration("500ms"), 500);
  EXPECT_FALSE(ParseDuration("5 minutes").ok());
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_EQ(*ParseTime("-5m", 1'000'000), 700'000);
  EXPECT_EQ(*ParseTime("now", 42), 42);
  EXPECT_EQ(*ParseTime("1700000000000", 0), 1'700'000'000'000);
  auto bad = ParseTime("yesterday", 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("-DURATION"), std::string::npos);
}

TEST(FormatTest, TableAlignsColumns) {
  Table t({"NAME", "N"}, {false, true});
  t.Add({"a", "1"});
  t.Add({"long_name", "1,000"});
  EXPECT_EQ(t.Render(), "NAME           N\na              1\nlong_name  1,000\n");
}

TEST(FormatTest, CellValueAndGrouping) {
  EXPECT_EQ(CellValue(std::nan(""), false), "NaN");
  EXPECT_EQ(CellValue(0.25, false), "0.25");
  EXPECT_EQ(CellValue(2048, true), "2.0 KiB");
  EXPECT_EQ(Grouped(12'345'678), "12,345,678");
}

}  // namespace
}  // namespace promfeed::ctl
