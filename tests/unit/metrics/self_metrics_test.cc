#include "daemon/metrics/self_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>

namespace promfeed::metrics {
namespace {

using ::testing::HasSubstr;

// Sample lines of the text format: "name{labels}" -> value. Fails on lines it cannot read.
std::map<std::string, double> Samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    EXPECT_NE(space, std::string::npos) << line;
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

SelfMetrics Make(Snapshot snapshot = {}) {
  return SelfMetrics("1.2.3", [snapshot] { return snapshot; });
}

TEST(SelfMetricsTest, EveryFamilyHasHelpAndTypeAndPromfeedPrefix) {
  SelfMetrics m = Make();
  const std::string text = m.Render();
  const std::map<std::string, std::string> types = {
      {"promfeed_polls_total", "counter"},
      {"promfeed_poll_rounds_failed_total", "counter"},
      {"promfeed_poll_failures_total", "counter"},
      {"promfeed_poll_duration_seconds", "histogram"},
      {"promfeed_samples_ingested_total", "counter"},
      {"promfeed_series", "gauge"},
      {"promfeed_series_rejected_total", "counter"},
      {"promfeed_samples_held", "gauge"},
      {"promfeed_ring_bytes", "gauge"},
      {"promfeed_ring_bytes_per_sample", "gauge"},
      {"promfeed_active_streams", "gauge"},
      {"promfeed_windows_sent_total", "counter"},
      {"promfeed_windows_lost_total", "counter"},
      {"promfeed_windows_dropped_total", "counter"},
      {"promfeed_upstream_up", "gauge"},
      {"promfeed_ready", "gauge"},
      {"promfeed_config_last_reload_successful", "gauge"},
      {"promfeed_config_reloads_total", "counter"},
      {"promfeed_build_info", "gauge"},
  };
  for (const auto& [name, type] : types) {
    EXPECT_THAT(text, HasSubstr("# TYPE " + name + " " + type + "\n")) << name;
    EXPECT_THAT(text, HasSubstr("# HELP " + name + " ")) << name;
  }
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    EXPECT_EQ(line.rfind("promfeed_", 0), 0u) << line;
  }
  EXPECT_EQ(Samples(text)["promfeed_build_info{version=\"1.2.3\"}"], 1);
}

TEST(SelfMetricsTest, FailureReasonsStartAtZeroAndCountPerInput) {
  SelfMetrics m = Make();
  for (std::string_view reason : SelfMetrics::FailureReasons()) {
    EXPECT_EQ(Samples(m.Render())
                  .count("promfeed_poll_failures_total{reason=\"" + std::string(reason) + "\"}"),
              1u)
        << reason;
  }
  m.ObserveRound({.duration_seconds = 0.3,
                  .ok = false,
                  .samples_ingested = 0,
                  .failure_reasons = {"timeout", "timeout", "connect"}});
  m.ObserveRound(
      {.duration_seconds = 0.01, .ok = true, .samples_ingested = 42, .failure_reasons = {}});
  auto s = Samples(m.Render());
  EXPECT_EQ(s["promfeed_polls_total"], 2);
  EXPECT_EQ(s["promfeed_poll_rounds_failed_total"], 1);
  EXPECT_EQ(s["promfeed_poll_failures_total{reason=\"timeout\"}"], 2);
  EXPECT_EQ(s["promfeed_poll_failures_total{reason=\"connect\"}"], 1);
  EXPECT_EQ(s["promfeed_poll_failures_total{reason=\"decode\"}"], 0);
  EXPECT_EQ(s["promfeed_samples_ingested_total"], 42);
}

TEST(SelfMetricsTest, PollDurationHistogramBucketsAreCumulative) {
  SelfMetrics m = Make();
  m.ObserveRound(
      {.duration_seconds = 0.3, .ok = true, .samples_ingested = 0, .failure_reasons = {}});
  m.ObserveRound(
      {.duration_seconds = 0.004, .ok = true, .samples_ingested = 0, .failure_reasons = {}});
  auto s = Samples(m.Render());
  EXPECT_EQ(s["promfeed_poll_duration_seconds_bucket{le=\"0.005\"}"], 1);
  EXPECT_EQ(s["promfeed_poll_duration_seconds_bucket{le=\"0.25\"}"], 1);
  EXPECT_EQ(s["promfeed_poll_duration_seconds_bucket{le=\"0.5\"}"], 2);
  EXPECT_EQ(s["promfeed_poll_duration_seconds_bucket{le=\"+Inf\"}"], 2);
  EXPECT_EQ(s["promfeed_poll_duration_seconds_count"], 2);
  EXPECT_DOUBLE_EQ(s["promfeed_poll_duration_seconds_sum"], 0.304);
}

TEST(SelfMetricsTest, LevelsComeFromTheSnapshotAtEveryRender) {
  Snapshot snap{.series = 3,
                .samples_held = 100,
                .ring_bytes = 1600,
                .active_streams = 2,
                .windows_sent_total = 7,
                .windows_lost_total = 5,
                .upstream_up = true,
                .ready = true,
                .poll_interval_ms = 1500};
  int calls = 0;
  SelfMetrics m("v", [&] {
    ++calls;
    return snap;
  });
  auto s = Samples(m.Render());
  EXPECT_EQ(s["promfeed_series"], 3);
  EXPECT_EQ(s["promfeed_samples_held"], 100);
  EXPECT_EQ(s["promfeed_ring_bytes"], 1600);
  EXPECT_EQ(s["promfeed_ring_bytes_per_sample"], 16);
  EXPECT_EQ(s["promfeed_active_streams"], 2);
  EXPECT_EQ(s["promfeed_windows_sent_total"], 7);
  EXPECT_EQ(s["promfeed_windows_lost_total"], 5);
  EXPECT_EQ(s["promfeed_upstream_up"], 1);
  EXPECT_EQ(s["promfeed_ready"], 1);
  EXPECT_EQ(s["promfeed_poll_interval_seconds"], 1.5);
  snap = Snapshot{};  // Empty store: bytes per sample is 0, not NaN.
  s = Samples(m.Render());
  EXPECT_EQ(s["promfeed_ring_bytes_per_sample"], 0);
  EXPECT_EQ(s["promfeed_upstream_up"], 0);
  EXPECT_EQ(calls, 2);
}

TEST(SelfMetricsTest, ReloadOutcomeSetsGaugeAndCounters) {
  SelfMetrics m = Make();
  auto s = Samples(m.Render());
  EXPECT_EQ(s["promfeed_config_last_reload_successful"], 1);  // Started with a valid config.
  m.ObserveReload(false, 0);
  s = Samples(m.Render());
  EXPECT_EQ(s["promfeed_config_last_reload_successful"], 0);
  EXPECT_EQ(s["promfeed_config_reloads_total{result=\"failure\"}"], 1);
  EXPECT_EQ(s["promfeed_config_reloads_total{result=\"success\"}"], 0);
  m.ObserveReload(true, 1700000000.5);
  s = Samples(m.Render());
  EXPECT_EQ(s["promfeed_config_last_reload_successful"], 1);
  EXPECT_EQ(s["promfeed_config_last_reload_success_timestamp_seconds"], 1700000000.5);
  EXPECT_EQ(s["promfeed_config_reloads_total{result=\"success\"}"], 1);
}

}  // namespace
}  // namespace promfeed::metrics
