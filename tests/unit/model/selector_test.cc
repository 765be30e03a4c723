#include "daemon/model/selector.h"

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace promfeed {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Op = Matcher::Op;

Selector MustParse(std::string_view text) {
  absl::StatusOr<Selector> s = Selector::Parse(text);
  EXPECT_TRUE(s.ok()) << text << ": " << s.status();
  if (!s.ok()) return Selector();
  return *std::move(s);
}

struct Expected {
  std::string name;
  Op op;
  std::string value;
};

void ExpectMatchers(const Selector& s, const std::vector<Expected>& want) {
  ASSERT_EQ(s.matchers().size(), want.size()) << s.text();
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(s.matchers()[i].name, want[i].name) << s.text() << " #" << i;
    EXPECT_EQ(s.matchers()[i].op, want[i].op) << s.text() << " #" << i;
    EXPECT_EQ(s.matchers()[i].value, want[i].value) << s.text() << " #" << i;
    bool is_regex = want[i].op == Op::kRegexMatch || want[i].op == Op::kRegexNoMatch;
    EXPECT_EQ(s.matchers()[i].regex != nullptr, is_regex) << s.text() << " #" << i;
  }
}

Labels L(std::vector<Label> l) { return Labels(std::move(l)); }

// ---- Parsing ---------------------------------------------------------------------------------

TEST(SelectorTest, ParsesBareMetricName) {
  Selector s = MustParse("up");
  ExpectMatchers(s, {{"__name__", Op::kEqual, "up"}});
  EXPECT_EQ(s.metric_name(), "up");
  EXPECT_EQ(s.text(), "up");
}

TEST(SelectorTest, ParsesMetricNameWithColonsAndDigits) {
  Selector s = MustParse("job:http_requests:rate5m");
  EXPECT_EQ(s.metric_name(), "job:http_requests:rate5m");
  EXPECT_EQ(MustParse(":leading_colon").metric_name(), ":leading_colon");
  EXPECT_EQ(MustParse("_x9").metric_name(), "_x9");
}

TEST(SelectorTest, ParsesMetricWithMatchers) {
  Selector s = MustParse(R"(http_requests_total{job="api",code!="200",path=~"/v1/.*",m!~"GET"})");
  ExpectMatchers(s, {{"__name__", Op::kEqual, "http_requests_total"},
                     {"job", Op::kEqual, "api"},
                     {"code", Op::kNotEqual, "200"},
                     {"path", Op::kRegexMatch, "/v1/.*"},
                     {"m", Op::kRegexNoMatch, "GET"}});
  EXPECT_EQ(s.metric_name(), "http_requests_total");
}

TEST(SelectorTest, ParsesBracesOnly) {
  Selector s = MustParse(R"({__name__=~"go_.*",job!="x"})");
  ExpectMatchers(s, {{"__name__", Op::kRegexMatch, "go_.*"}, {"job", Op::kNotEqual, "x"}});
  EXPECT_EQ(s.metric_name(), "");
}

TEST(SelectorTest, MetricNameFromNameLabel) {
  EXPECT_EQ(MustParse(R"({__name__="up", job="a"})").metric_name(), "up");
  EXPECT_EQ(MustParse(R"({job="a", __name__="up"})").metric_name(), "up");
  EXPECT_EQ(MustParse(R"({__name__!="up", job="a"})").metric_name(), "");
}

TEST(SelectorTest, AllowsTrailingCommaAndWhitespaceAnywhere) {
  ExpectMatchers(MustParse(R"(up{job="a",})"),
                 {{"__name__", Op::kEqual, "up"}, {"job", Op::kEqual, "a"}});
  ExpectMatchers(
      MustParse(" \t\n up \n{ job \t=~\n \"a|b\" ,\r\n x != 'y' , } \n"),
      {{"__name__", Op::kEqual, "up"}, {"job", Op::kRegexMatch, "a|b"}, {"x", Op::kNotEqual, "y"}});
  ExpectMatchers(MustParse("up{}"), {{"__name__", Op::kEqual, "up"}});
}

TEST(SelectorTest, ParsesQuoteStyles) {
  ExpectMatchers(
      MustParse(R"({a="x'y", b='x"y', c=`x\ny"'`})"),
      {{"a", Op::kEqual, "x'y"}, {"b", Op::kEqual, "x\"y"}, {"c", Op::kEqual, "x\\ny\"'"}});
  // Back quotes may span lines.
  ExpectMatchers(MustParse("{a=`one\ntwo`}"), {{"a", Op::kEqual, "one\ntwo"}});
}

TEST(SelectorTest, DecodesGoEscapes) {
  ExpectMatchers(
      MustParse(R"({a="t\tn\nq\"b\\", b="\x41\101\u00e9\U0001F600", c="\a\b\f\r\v", d='\'s'})"),
      {{"a", Op::kEqual, "t\tn\nq\"b\\"},
       {"b", Op::kEqual, "AA\xC3\xA9\xF0\x9F\x98\x80"},
       {"c", Op::kEqual, "\a\b\f\r\v"},
       {"d", Op::kEqual, "'s"}});
}

TEST(SelectorTest, LabelNamesMayLookLikeKeywords) {
  ExpectMatchers(MustParse(R"(up{by="1", offset="2", _="3"})"), {{"__name__", Op::kEqual, "up"},
                                                                 {"by", Op::kEqual, "1"},
                                                                 {"offset", Op::kEqual, "2"},
                                                                 {"_", Op::kEqual, "3"}});
}

// ---- Errors ---------------------------------------------------------------------------------

void ExpectError(std::string_view text, size_t offset, std::string_view substr) {
  size_t got_offset = 12345;
  absl::StatusOr<Selector> s = Selector::Parse(text, &got_offset);
  ASSERT_FALSE(s.ok()) << "parsed: " << text;
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << text;
  EXPECT_EQ(got_offset, offset) << text << ": " << s.status();
  EXPECT_THAT(std::string(s.status().message()),
              StartsWith("column " + std::to_string(offset + 1) + ": "))
      << text;
  EXPECT_THAT(std::string(s.status().message()), HasSubstr(substr)) << text;
  // The overload without offset fails the same way.
  absl::StatusOr<Selector> again = Selector::Parse(text);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status(), s.status());
}

TEST(SelectorTest, RejectsEmpty) {
  ExpectError("", 0, "expected a metric name or '{', got an empty selector");
  ExpectError("   ", 3, "got an empty selector");
}

TEST(SelectorTest, RejectsBadStart) {
  ExpectError("9up", 0, "expected a metric name or '{', got '9'");
  ExpectError("  \"up\"", 2, "expected a metric name or '{', got '\"'");
}

TEST(SelectorTest, RejectsTrailingGarbage) {
  ExpectError("up[5m]", 2, "expected '{' or end of selector after metric name \"up\", got '['");
  ExpectError("up offset 5m", 3, "got 'o'");
  ExpectError(R"(up{job="a"}[5m])", 11, "expected end of selector after '}', got '['");
  ExpectError("up{} x", 5, "expected end of selector");
}

TEST(SelectorTest, RejectsBadLabelName) {
  ExpectError(R"(up{1a="b"})", 3, "expected a label name ([a-zA-Z_][a-zA-Z0-9_]*), got '1'");
  ExpectError(R"(up{a.b="c"})", 4, "expected '=', '!=', '=~' or '!~' after label name \"a\"");
  ExpectError(R"(up{a:b="c"})", 4, "got ':'");
  ExpectError(R"(up{,})", 3, "expected a label name");
}

TEST(SelectorTest, RejectsBadOperator) {
  ExpectError(R"(up{job=="x"})", 7, "expected a quoted label value");
  ExpectError(R"(up{job<"x"})", 6,
              "expected '=', '!=', '=~' or '!~' after label name \"job\", got '<'");
  ExpectError(R"(up{job~"x"})", 6, "got '~'");
  ExpectError("up{job}", 6, "got '}'");
  ExpectError("up{job", 6, "got end of selector");
}

TEST(SelectorTest, RejectsUnquotedValue) {
  ExpectError("up{job=node}", 7,
              "expected a quoted label value (\"...\", '...' or `...`), got 'n'");
}

TEST(SelectorTest, RejectsMissingSeparator) {
  ExpectError(R"(up{a="1" b="2"})", 9, "expected ',' or '}' after a matcher, got 'b'");
  ExpectError(R"(up{a="1",,})", 9, "expected a label name");
}

TEST(SelectorTest, RejectsUnclosedBrace) {
  ExpectError(R"(up{a="1")", 8, "expected ',' or '}' after a matcher, got end of selector");
  ExpectError(R"(up{a="1",)", 9, "to close the '{' at column 3");
  ExpectError("{", 1, "expected a label name or '}'");
}

TEST(SelectorTest, RejectsUnterminatedStrings) {
  ExpectError(R"(up{a="abc})", 5, "unterminated string: add the closing \"");
  ExpectError("up{a='abc}", 5, "unterminated string: add the closing '");
  ExpectError("up{a=`abc}", 5, "unterminated string: add the closing `");
  ExpectError("up{a=\"ab\ncd\"}", 8, "newline in string");
}

TEST(SelectorTest, RejectsBadEscapes) {
  ExpectError(R"(up{a="x\q"})", 7, "unknown escape sequence \\q");
  ExpectError(R"(up{a="x\'"})", 7, "unknown escape sequence \\'");
  ExpectError(R"(up{a='x\"'})", 7, "unknown escape sequence \\\"");
  ExpectError(R"(up{a="\x4"})", 6, "escape sequence needs 2 hex digits");
  ExpectError(R"(up{a="\u12g4"})", 6, "escape sequence needs 4 hex digits");
  ExpectError(R"(up{a="\8"})", 6, "unknown escape sequence \\8");
  ExpectError(R"(up{a="\19"})", 6, "needs 3 octal digits");
  ExpectError(R"(up{a="\ud800"})", 6, "invalid Unicode code point");
  ExpectError(R"(up{a="\U00110000"})", 6, "invalid Unicode code point");
  ExpectError("up{a=\"\\", 6, "escape sequence not terminated");
}

TEST(SelectorTest, RejectsInvalidRegexNamingIt) {
  ExpectError(R"(up{job=~"a(b"})", 8, "invalid regular expression \"a(b\" for label \"job\"");
  ExpectError(R"(up{job!~"*"})", 8, "invalid regular expression \"*\"");
  // Backreferences and lookaheads are not RE2.
  ExpectError("up{job=~\"(?=a)\"}", 8, "RE2 syntax");
}

TEST(SelectorTest, RejectsSelectorMatchingEmpty) {
  ExpectError(R"({job=~".*"})", 0, "add a metric name or at least one matcher that does not match");
  ExpectError(R"({job=""})", 0, "matches the empty string in every matcher");
  ExpectError(R"({job!="x", a=~"b|"})", 0, "matches the empty string");
  ExpectError(R"({job!~".+"})", 0, "matches the empty string");
  ExpectError("{}", 0, "empty selector {}");
  ExpectError("  { }  ", 0, "empty selector {}");
  // One non-empty matcher is enough.
  MustParse(R"({job=~".+"})");
  MustParse(R"({job=~".*", instance="a"})");
  MustParse(R"({job!=""})");
}

TEST(SelectorTest, RejectsMetricNameSetTwice) {
  ExpectError(R"(up{__name__="down"})", 0,
              "metric name is set twice: \"up\" and __name__ = \"down\"");
  ExpectError(R"( up{__name__=~"x.*"})", 1, "set twice");
}

// ---- Matching -------------------------------------------------------------------------------

TEST(SelectorTest, MatchesEqualAndNotEqual) {
  Selector s = MustParse(R"(up{job="node",env!="dev"})");
  EXPECT_TRUE(s.Matches(L({{"__name__", "up"}, {"job", "node"}, {"env", "prod"}})));
  EXPECT_TRUE(s.Matches(L({{"__name__", "up"}, {"job", "node"}})));  // absent env != "dev"
  EXPECT_FALSE(s.Matches(L({{"__name__", "up"}, {"job", "node"}, {"env", "dev"}})));
  EXPECT_FALSE(s.Matches(L({{"__name__", "up"}, {"job", "nodes"}})));
  EXPECT_FALSE(s.Matches(L({{"__name__", "down"}, {"job", "node"}})));
  EXPECT_FALSE(s.Matches(L({{"job", "node"}})));
}

TEST(SelectorTest, AbsentLabelMatchesAsEmpty) {
  EXPECT_TRUE(MustParse(R"(up{env=""})").Matches(L({{"__name__", "up"}})));
  EXPECT_FALSE(MustParse(R"(up{env=""})").Matches(L({{"__name__", "up"}, {"env", "x"}})));
  EXPECT_TRUE(MustParse(R"(up{env=~"|dev"})").Matches(L({{"__name__", "up"}})));
  EXPECT_FALSE(MustParse(R"(up{env=~".+"})").Matches(L({{"__name__", "up"}})));
  EXPECT_TRUE(MustParse(R"(up{env!~".+"})").Matches(L({{"__name__", "up"}})));
  EXPECT_FALSE(MustParse(R"(up{env!=""})").Matches(L({{"__name__", "up"}})));
}

TEST(SelectorTest, RegexIsFullyAnchored) {
  Selector s = MustParse(R"({job=~"node"})");
  EXPECT_TRUE(s.Matches(L({{"job", "node"}})));
  EXPECT_FALSE(s.Matches(L({{"job", "node_exporter"}})));
  EXPECT_FALSE(s.Matches(L({{"job", "my_node"}})));
  // Anchoring wraps the whole alternation, not its first and last branch.
  Selector alt = MustParse(R"({job=~"a|b"})");
  EXPECT_TRUE(alt.Matches(L({{"job", "a"}})));
  EXPECT_TRUE(alt.Matches(L({{"job", "b"}})));
  EXPECT_FALSE(alt.Matches(L({{"job", "ab"}})));
  EXPECT_FALSE(alt.Matches(L({{"job", "xa"}})));
  EXPECT_FALSE(alt.Matches(L({{"job", "bx"}})));
  Selector neg = MustParse(R"(up{job!~"a|b"})");
  EXPECT_FALSE(neg.Matches(L({{"__name__", "up"}, {"job", "a"}})));
  EXPECT_TRUE(neg.Matches(L({{"__name__", "up"}, {"job", "ab"}})));
}

TEST(SelectorTest, RegexIsCaseSensitiveUnlessFlagged) {
  Selector s = MustParse(R"({job=~"node"})");
  EXPECT_FALSE(s.Matches(L({{"job", "NODE"}})));
  Selector ci = MustParse(R"({job=~"(?i)node"})");
  EXPECT_TRUE(ci.Matches(L({{"job", "NODE"}})));
  EXPECT_TRUE(ci.Matches(L({{"job", "Node"}})));
  EXPECT_FALSE(ci.Matches(L({{"job", "Nodes"}})));
}

TEST(SelectorTest, RegexDotMatchesNewlineAsPrometheus) {
  Selector s = MustParse(R"({a=~"x.y"})");
  EXPECT_TRUE(s.Matches(L({{"a", "x\ny"}})));
}

TEST(SelectorTest, RegexOnMetricName) {
  Selector s = MustParse(R"({__name__=~"go_.*",job!="x"})");
  EXPECT_TRUE(s.Matches(L({{"__name__", "go_goroutines"}, {"job", "api"}})));
  EXPECT_TRUE(s.Matches(L({{"__name__", "go_gc_duration_seconds"}})));
  EXPECT_FALSE(s.Matches(L({{"__name__", "go_goroutines"}, {"job", "x"}})));
  EXPECT_FALSE(s.Matches(L({{"__name__", "process_go_x"}})));
}

TEST(SelectorTest, MatcherMatchesDirectly) {
  Selector s = MustParse(R"(up{a=~"[0-9]+"})");
  const Matcher& m = s.matchers()[1];
  EXPECT_TRUE(m.Matches("123"));
  EXPECT_FALSE(m.Matches("12a"));
  EXPECT_FALSE(m.Matches(""));
}

TEST(SelectorTest, SharedAcrossCopies) {
  Selector a = MustParse(R"(up{a=~"x+"})");
  Selector b = a;
  EXPECT_EQ(a.matchers()[1].regex, b.matchers()[1].regex);
  EXPECT_TRUE(b.Matches(L({{"__name__", "up"}, {"a", "xxx"}})));
}

}  // namespace
}  // namespace promfeed
