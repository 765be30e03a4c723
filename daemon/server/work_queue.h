// WorkQueue: a fixed pool of threads running posted tasks in FIFO order.
// Thread-safe. Used so that producing stream messages never runs on the ingestion thread.
#ifndef PROMFEED_SERVER_WORK_QUEUE_H_
#define PROMFEED_SERVER_WORK_QUEUE_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace promfeed::server {

class WorkQueue {
 public:
  explicit WorkQueue(int threads);
  // Runs the tasks already posted, then joins.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void Post(std::function<void()> task);

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace promfeed::server

#endif  // PROMFEED_SERVER_WORK_QUEUE_H_
