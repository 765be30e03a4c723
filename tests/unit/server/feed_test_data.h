// Shared by the in-process MetricFeed tests (server and the reader's C++ transport): the
// two series they serve, and small helpers to read what comes back.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "daemon/server/metric_feed_service.h"

namespace promfeed::server::testdata {

constexpr int64_t kNow = 1'700'000'100'000;
constexpr int64_t kT0 = 1'700'000'000'000;

// A healthy upstream polled every second.
inline UpstreamStatus ReadyUpstream() {
  UpstreamStatus s;
  s.poll_interval_ms = 1000;
  s.ready = true;
  return s;
}

inline Labels Metric(const std::string& name, const std::string& instance) {
  return Labels({{"__name__", name}, {"job", "node"}, {"instance", instance}});
}

// Two series "load" sampled every second from kT0 to kT0 + 99 s; value = seconds (+1000 for
// instance b:1); complete through the last sample.
inline void AppendTwoLoadSeries(store::SeriesStore& store) {
  std::vector<Sample> a, b;
  for (int64_t i = 0; i < 100; ++i) {
    a.push_back({kT0 + i * 1000, double(i)});
    b.push_back({kT0 + i * 1000, double(i) + 1000});
  }
  store.Append(Metric("load", "a:1"), a);
  store.Append(Metric("load", "b:1"), b);
  store.AdvanceCompleteThrough(kT0 + 99'000);
}

// Both series' first 30 rows, float32, in windows of 5 every 2 rows, 7 rows per message.
inline v1::StreamWindowsRequest ThirtyRowsRequest() {
  v1::StreamWindowsRequest req;
  req.add_features(R"(load{instance="a:1"})");
  req.add_features(R"(load{instance="b:1"})");
  req.set_step_ms(1000);
  req.set_window(5);
  req.set_shift(2);
  req.set_start_ms(kT0);
  req.set_end_ms(kT0 + 29'000);
  req.set_max_rows_per_message(7);
  req.set_dtype(v1::FLOAT32);
  return req;
}

// The little-endian values of a bytes field.
template <typename T>
std::vector<T> Decode(const std::string& bytes) {
  std::vector<T> out(bytes.size() / sizeof(T));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
  return out;
}

// Waits (bounded) until `pred` holds.
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace promfeed::server::testdata
