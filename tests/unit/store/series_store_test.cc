#include "daemon/store/series_store.h"

#include <atomic>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace promfeed::store {
namespace {

Labels L(std::vector<Label> l) { return Labels(std::move(l)); }

Labels Metric(std::string name, std::string job, std::string instance = "a:1") {
  return L({{"__name__", name}, {"job", job}, {"instance", instance}});
}

Selector Sel(std::string_view text) {
  auto s = Selector::Parse(text);
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

StoreOptions Opts(int64_t max_series = 100) {
  return {.retention_ms = 60'000, .interval_ms = 1'000, .max_series = max_series};
}

TEST(SeriesStoreTest, NewSeriesInvisibleUntilPublish) {
  SeriesStore store(Opts());
  const Sample s[] = {{1000, 1}};
  store.Append(Metric("up", "node"), s);
  EXPECT_TRUE(store.All().empty());
  store.Publish();
  ASSERT_EQ(store.All().size(), 1u);
  EXPECT_EQ(store.All()[0]->labels(), Metric("up", "node"));
}

TEST(SeriesStoreTest, SeriesDifferingInAnyLabelStayApart) {
  SeriesStore store(Opts());
  const Sample s[] = {{1000, 1}};
  store.Append(L({{"__name__", "x"}, {"job", "j"}, {"instance", "i"}, {"cpu", "0"}}), s);
  store.Append(L({{"__name__", "x"}, {"job", "j"}, {"instance", "i"}, {"cpu", "1"}}), s);
  store.Publish();
  EXPECT_EQ(store.All().size(), 2u);
  EXPECT_EQ(store.Stats().series, 2);
}

TEST(SeriesStoreTest, DropsDuplicatesAcrossOverlappingPolls) {
  SeriesStore store(Opts());
  const Sample first[] = {{1000, 1}, {2000, 2}, {3000, 3}};
  const Sample overlap[] = {{2000, 2}, {3000, 3}, {4000, 4}};
  EXPECT_EQ(store.Append(Metric("up", "node"), first).appended, 3u);
  auto r = store.Append(Metric("up", "node"), overlap);
  EXPECT_EQ(r.appended, 1u);
  EXPECT_EQ(r.duplicates, 2u);
  store.Publish();
  std::vector<Sample> out;
  store.All()[0]->ring().Read(INT64_MIN, INT64_MAX, &out);
  EXPECT_EQ(out.size(), 4u);
  EXPECT_EQ(store.Stats().duplicates_dropped_total, 2);
  EXPECT_EQ(store.Stats().samples_held, 4);
}

TEST(SeriesStoreTest, MaxSeriesRejectsAndCountsNewSeriesOnly) {
  SeriesStore store(Opts(/*max_series=*/2));
  const Sample s[] = {{1000, 1}};
  const Sample later[] = {{2000, 2}};
  EXPECT_FALSE(store.Append(Metric("a", "j"), s).rejected);
  EXPECT_FALSE(store.Append(Metric("b", "j"), s).rejected);
  EXPECT_TRUE(store.Append(Metric("c", "j"), s).rejected);
  EXPECT_TRUE(store.Append(Metric("d", "j"), s).rejected);
  // Existing series keep ingesting at the limit.
  EXPECT_EQ(store.Append(Metric("a", "j"), later).appended, 1u);
  store.Publish();
  EXPECT_EQ(store.All().size(), 2u);
  EXPECT_EQ(store.Stats().series_rejected_total, 2);
}

TEST(SeriesStoreTest, SelectUsesMatchersAndSortsByLabels) {
  SeriesStore store(Opts());
  const Sample s[] = {{1000, 1}};
  store.Append(Metric("up", "prometheus"), s);
  store.Append(Metric("up", "node", "b:2"), s);
  store.Append(Metric("up", "node", "a:1"), s);
  store.Append(Metric("go_gc", "node"), s);
  store.Publish();
  auto up_node = store.Select(Sel(R"(up{job="node"})"));
  ASSERT_EQ(up_node.size(), 2u);
  EXPECT_EQ(up_node[0]->labels().Get("instance"), "a:1");
  EXPECT_EQ(up_node[1]->labels().Get("instance"), "b:2");
  EXPECT_EQ(store.Select(Sel(R"({job=~"node|prometheus"})")).size(), 4u);
  EXPECT_EQ(store.Select(Sel(R"(up{job!="node"})")).size(), 1u);
  EXPECT_TRUE(store.Select(Sel("nothing_here")).empty());
}

TEST(SeriesStoreTest, RingSizedFromRetentionAndObservedSpacing) {
  SeriesStore store(Opts());  // 60 s retention, 1 s interval.
  const Sample slow[] = {{1000, 1}};
  std::vector<Sample> fast;
  for (int i = 0; i < 10; ++i) fast.push_back({1000 + i * 250, double(i)});
  store.Append(Metric("slow", "j"), slow);
  store.Append(Metric("fast", "j"), fast);
  store.Publish();
  auto slow_s = store.Select(Sel("slow"));
  auto fast_s = store.Select(Sel("fast"));
  EXPECT_GE(slow_s[0]->ring().capacity(), 60u);
  EXPECT_LT(slow_s[0]->ring().capacity(), 70u);
  EXPECT_GE(fast_s[0]->ring().capacity(), 240u);
}

TEST(SeriesStoreTest, AdvanceCompleteThroughPublishesAndNotifies) {
  SeriesStore store(Opts());
  int calls = 0;
  const uint64_t id = store.AddListener([&] { ++calls; });
  const Sample s[] = {{1000, 1}};
  store.Append(Metric("up", "node"), s);
  store.AdvanceCompleteThrough(5000);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(store.complete_through_ms(), 5000);
  EXPECT_EQ(store.All().size(), 1u);
  store.AdvanceCompleteThrough(4000);  // Never moves backwards.
  EXPECT_EQ(store.complete_through_ms(), 5000);
  store.RemoveListener(id);
  store.AdvanceCompleteThrough(6000);
  EXPECT_EQ(calls, 2);
}

// Readers select and read while the writer ingests and creates series.
TEST(SeriesStoreTest, ConcurrentReadersWhileWriterIngests) {
  SeriesStore store(Opts(/*max_series=*/1000));
  std::atomic<bool> done{false};
  std::thread reader([&] {
    Selector sel = Sel(R"({job="j"})");
    std::vector<Sample> out;
    while (!done.load()) {
      for (const SeriesPtr& s : store.Select(sel)) {
        out.clear();
        s->ring().Read(INT64_MIN, INT64_MAX, &out);
        for (const Sample& x : out) ASSERT_EQ(x.value, double(x.time_ms));
      }
      store.Stats();
    }
  });
  for (int64_t t = 1; t <= 2000; ++t) {
    const Sample s[] = {{t, double(t)}};
    store.Append(Metric("m" + std::to_string(t % 50), "j"), s);
    if (t % 10 == 0) store.AdvanceCompleteThrough(t);
  }
  done = true;
  reader.join();
  EXPECT_EQ(store.Stats().series, 50);
}

TEST(SeriesStoreTest, AppendEncodedFindsTheSameSeries) {
  SeriesStore store(Opts());
  const Sample a[] = {{1000, 1}};
  const Sample b[] = {{2000, 2}};
  store.Append(Metric("up", "node"), a);
  LabelsBuilder builder;
  builder.Add("job", "node");
  builder.Add("instance", "a:1");
  builder.Add("__name__", "up");
  EXPECT_EQ(store.AppendEncoded(builder.Encode(), b).appended, 1u);
  builder.Clear();
  builder.Add("__name__", "down");
  EXPECT_EQ(store.AppendEncoded(builder.Encode(), b).appended, 1u);
  store.Publish();
  ASSERT_EQ(store.All().size(), 2u);
  EXPECT_EQ(store.All()[0]->labels(), L({{"__name__", "down"}}));
  EXPECT_EQ(store.All()[1]->labels(), Metric("up", "node"));
  EXPECT_EQ(store.All()[1]->ring().size(), 2u);
}

}  // namespace
}  // namespace promfeed::store
