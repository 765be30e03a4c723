#include "daemon/logging/logging.h"

#include "gtest/gtest.h"

namespace promfeed::logging {
namespace {

constexpr char kTs[] = "2026-11-30T18:00:00.123Z";

TEST(LoggingTest, LogfmtSplitsEventFromFields) {
  EXPECT_EQ(FormatLine("logfmt", kTs, "info", "poll failed url=http://x:9090 reason=timeout"),
            "ts=2026-11-30T18:00:00.123Z level=info msg=\"poll failed\" url=http://x:9090 "
            "reason=timeout");
}

TEST(LoggingTest, LogfmtQuotesValuesThatNeedIt) {
  EXPECT_EQ(FormatLine("logfmt", kTs, "warn", R"(ready error="a b \"c\"" empty="")"),
            R"(ts=2026-11-30T18:00:00.123Z level=warn msg=ready error="a b \"c\"" empty="")");
  EXPECT_EQ(Quote("plain"), "plain");
  EXPECT_EQ(Quote("x=y"), "\"x=y\"");
  EXPECT_EQ(Quote(""), "\"\"");
}

TEST(LoggingTest, JsonEscapesAndKeepsFieldsAsStrings) {
  EXPECT_EQ(FormatLine("json", kTs, "error", "config rejected file=/etc/p.yml error=\"a\\\"b\""),
            R"({"ts":"2026-11-30T18:00:00.123Z","level":"error","msg":"config rejected",)"
            R"("file":"/etc/p.yml","error":"a\"b"})");
}

TEST(LoggingTest, ConfigureRejectsUnknownLevelAndFormat) {
  EXPECT_TRUE(Configure("info", "logfmt").ok());
  EXPECT_EQ(Configure("verbose", "logfmt").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Configure("info", "xml").code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace promfeed::logging
