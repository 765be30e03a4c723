// SpareThreads: a few threads that take the second half of a job when they are idle, so that
// one large computation (a stream's block of rows) can use a core the rest of the process
// leaves free, while many concurrent ones never oversubscribe the machine: with every spare
// thread busy, the caller simply runs both halves itself. Thread-safe.
#ifndef PROMFEED_WINDOW_SPARE_THREADS_H_
#define PROMFEED_WINDOW_SPARE_THREADS_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"

namespace promfeed::window {

class SpareThreads {
 public:
  // Starts `threads` (>= 0) threads; with 0, Run runs everything on the caller.
  explicit SpareThreads(int threads);
  // Stops and joins the threads. REQUIRES: no Run in progress.
  ~SpareThreads();
  SpareThreads(const SpareThreads&) = delete;
  SpareThreads& operator=(const SpareThreads&) = delete;

  // Runs `a` on the calling thread and, at the same time, `b` on an idle spare thread, or
  // `b` after `a` on the calling thread when no spare thread is idle. Returns when both have
  // finished.
  void Run(absl::FunctionRef<void()> a, absl::FunctionRef<void()> b);

  int threads() const { return static_cast<int>(workers_.size()); }
  // Runs so far whose `b` ran on a spare thread.
  int64_t shared_runs() const { return shared_runs_.load(std::memory_order_relaxed); }

 private:
  struct Worker {
    std::thread thread;
    std::mutex mu;
    std::condition_variable cv;
    const absl::FunctionRef<void()>* task = nullptr;  // Set by Run, cleared when done.
    bool stop = false;
  };
  static void Loop(Worker* w);

  std::atomic<int64_t> shared_runs_{0};
  std::mutex mu_;
  std::vector<Worker*> idle_;  // Guarded by mu_.
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace promfeed::window

#endif  // PROMFEED_WINDOW_SPARE_THREADS_H_
