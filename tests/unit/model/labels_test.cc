#include "daemon/model/labels.h"

#include <string>
#include <vector>

#include "absl/hash/hash.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace promfeed {
namespace {

using ::testing::ElementsAre;

Labels L(std::vector<Label> l) { return Labels(std::move(l)); }

TEST(LabelsTest, SortsByName) {
  Labels l({{"job", "node"}, {"__name__", "up"}, {"instance", "a:9100"}});
  EXPECT_THAT(l.items(), ElementsAre(Label{"__name__", "up"}, Label{"instance", "a:9100"},
                                     Label{"job", "node"}));
  EXPECT_EQ(l.size(), 3u);
  EXPECT_FALSE(l.empty());
}

TEST(LabelsTest, DuplicateNamesLastOneWins) {
  Labels l({{"job", "a"}, {"x", "1"}, {"job", "b"}, {"job", "c"}});
  EXPECT_THAT(l.items(), ElementsAre(Label{"job", "c"}, Label{"x", "1"}));
}

TEST(LabelsTest, EmptyValuesAreDropped) {
  Labels l({{"job", "node"}, {"env", ""}});
  EXPECT_THAT(l.items(), ElementsAre(Label{"job", "node"}));
  // A later empty value removes an earlier one: empty means absent.
  Labels removed({{"job", "node"}, {"job", ""}});
  EXPECT_TRUE(removed.empty());
}

TEST(LabelsTest, GetReturnsEmptyForAbsent) {
  Labels l({{"__name__", "up"}, {"job", "node"}});
  EXPECT_EQ(l.Get("job"), "node");
  EXPECT_EQ(l.Get("instance"), "");
  EXPECT_EQ(l.Get("zzz"), "");
  EXPECT_EQ(l.Get(""), "");
  EXPECT_EQ(l.MetricName(), "up");
  EXPECT_EQ(Labels().MetricName(), "");
}

TEST(LabelsTest, WithSetsReplacesAndRemoves) {
  Labels l(std::vector<Label>{{"job", "node"}});
  Labels added = l.With("instance", "a:1");
  EXPECT_THAT(added.items(), ElementsAre(Label{"instance", "a:1"}, Label{"job", "node"}));
  Labels replaced = added.With("job", "other");
  EXPECT_EQ(replaced.Get("job"), "other");
  EXPECT_EQ(replaced.size(), 2u);
  Labels removed = replaced.With("job", "");
  EXPECT_THAT(removed.items(), ElementsAre(Label{"instance", "a:1"}));
  // The original is unchanged.
  EXPECT_THAT(l.items(), ElementsAre(Label{"job", "node"}));
}

TEST(LabelsTest, EqualityAndOrderIgnoreInputOrder) {
  Labels a({{"a", "1"}, {"b", "2"}});
  Labels b({{"b", "2"}, {"a", "1"}});
  Labels c({{"a", "1"}, {"b", "3"}});
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_LT(a, c);
  EXPECT_EQ(absl::Hash<Labels>()(a), absl::Hash<Labels>()(b));
  EXPECT_NE(absl::Hash<Labels>()(a), absl::Hash<Labels>()(c));
}

TEST(LabelsTest, SeriesDifferingInAnyLabelStayDistinct) {
  Labels a({{"__name__", "up"}, {"job", "j"}, {"instance", "i"}, {"zone", "a"}});
  Labels b({{"__name__", "up"}, {"job", "j"}, {"instance", "i"}, {"zone", "b"}});
  EXPECT_NE(a, b);
}

TEST(LabelsTest, ToStringPrometheusNotation) {
  Labels l({{"job", "node"}, {"__name__", "up"}, {"instance", "a:9100"}});
  EXPECT_EQ(l.ToString(), "up{instance=\"a:9100\", job=\"node\"}");
  EXPECT_EQ(Labels(std::vector<Label>{{"__name__", "up"}}).ToString(), "up{}");
  EXPECT_EQ(Labels(std::vector<Label>{{"job", "x"}}).ToString(), "{job=\"x\"}");
  EXPECT_EQ(Labels().ToString(), "{}");
}

TEST(LabelsTest, ToStringEscapesValues) {
  Labels l({{"a", "say \"hi\""}, {"b", "back\\slash"}, {"c", "two\nlines"}});
  EXPECT_EQ(l.ToString(), R"({a="say \"hi\"", b="back\\slash", c="two\nlines"})");
}

TEST(LabelsTest, EncodingIsCanonicalAndRoundTrips) {
  // Well-known and other names, long values, and input order must not matter.
  const std::string long_value(300, 'v');
  Labels a({{"zz_custom", long_value}, {"__name__", "up"}, {"job", "j"}, {"a", "1"}});
  LabelsBuilder b;
  b.Add("a", "1");
  b.Add("job", "x");
  b.Add("__name__", "up");
  b.Add("zz_custom", long_value);
  b.Add("job", "j");  // Last one wins.
  b.Add("gone", "");
  EXPECT_EQ(b.Encode(), a.encoded());
  EXPECT_EQ(b.Build(), a);
  EXPECT_EQ(Labels::FromEncoded(a.encoded()), a);
  EXPECT_EQ(a.Get("zz_custom"), long_value);
  EXPECT_EQ(a.size(), 4u);
  Labels copy = a;
  EXPECT_EQ(copy, a);
  Labels moved = std::move(copy);
  EXPECT_EQ(moved, a);
  EXPECT_TRUE(Labels().encoded().empty());
  EXPECT_TRUE(Labels(std::vector<Label>{{"a", ""}}).encoded().empty());
}

TEST(LabelsTest, OrderIsLexicographicOverNamesThenValues) {
  // As a sorted vector of (name, value) pairs compares, whatever the name codes.
  EXPECT_LT(L({{"a", "1"}}), L({{"a", "1"}, {"b", "1"}}));
  EXPECT_LT(L({{"__name__", "z"}}), L({{"a", "a"}}));
  EXPECT_LT(L({{"instance", "a"}, {"job", "z"}}), L({{"instance", "b"}, {"job", "a"}}));
  EXPECT_LT(L({{"job", "a"}}), L({{"joc", "a"}}));
  EXPECT_GT(L({{"mode", "b"}}), L({{"mode", "a"}, {"zone", "z"}}));
}

}  // namespace
}  // namespace promfeed
