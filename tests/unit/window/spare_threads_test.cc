#include "daemon/window/spare_threads.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace promfeed::window {
namespace {

TEST(SpareThreadsTest, RunsTheSecondHalfOnAnIdleThreadAtTheSameTime) {
  SpareThreads spare(1);
  std::thread::id a_id, b_id;
  // Each half waits for the other to start: they can only finish if they overlap.
  std::atomic<int> started{0};
  auto half = [&](std::thread::id* id) {
    *id = std::this_thread::get_id();
    started.fetch_add(1);
    while (started.load() < 2) std::this_thread::yield();
  };
  spare.Run([&] { half(&a_id); }, [&] { half(&b_id); });
  EXPECT_EQ(a_id, std::this_thread::get_id());
  EXPECT_NE(b_id, std::this_thread::get_id());
  EXPECT_EQ(spare.shared_runs(), 1);
}

TEST(SpareThreadsTest, WithoutAnIdleThreadTheCallerRunsBothInOrder) {
  SpareThreads none(0);
  std::vector<int> order;
  none.Run([&] { order.push_back(1); }, [&] { order.push_back(2); });
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(none.shared_runs(), 0);

  // The only spare thread is held by a first Run; a second caller meanwhile runs alone.
  SpareThreads one(1);
  std::mutex mu;
  std::condition_variable cv;
  bool holding = false, release = false;
  std::thread first([&] {
    one.Run([] {},
            [&] {
              std::unique_lock<std::mutex> lock(mu);
              holding = true;
              cv.notify_all();
              cv.wait(lock, [&] { return release; });
            });
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return holding; });
  }
  std::thread::id b_id;
  one.Run([] {}, [&] { b_id = std::this_thread::get_id(); });
  EXPECT_EQ(b_id, std::this_thread::get_id());
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  first.join();
  EXPECT_EQ(one.shared_runs(), 1);
}

TEST(SpareThreadsTest, ManyCallersEveryHalfRunsOnce) {
  SpareThreads spare(1);
  constexpr int kCallers = 4, kRuns = 2000;
  std::atomic<int64_t> a_sum{0}, b_sum{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      for (int i = 0; i < kRuns; ++i) {
        int64_t local = 0;  // Written by b on whichever thread, read after Run returns.
        spare.Run([&] { a_sum.fetch_add(1); }, [&] { local = c * kRuns + i; });
        b_sum.fetch_add(local);
      }
    });
  }
  for (std::thread& t : callers) t.join();
  const int64_t n = int64_t{kCallers} * kRuns;
  EXPECT_EQ(a_sum.load(), n);
  EXPECT_EQ(b_sum.load(), n * (n - 1) / 2);
  EXPECT_GT(spare.shared_runs(), 0);
}

}  // namespace
}  // namespace promfeed::window
