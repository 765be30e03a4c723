#include "daemon/window/spare_threads.h"

namespace promfeed::window {

SpareThreads::SpareThreads(int threads) {
  for (int i = 0; i < threads; ++i) {
    auto w = std::make_unique<Worker>();
    w->thread = std::thread(Loop, w.get());
    idle_.push_back(w.get());
    workers_.push_back(std::move(w));
  }
}

SpareThreads::~SpareThreads() {
  for (const std::unique_ptr<Worker>& w : workers_) {
    {
      std::lock_guard<std::mutex> lock(w->mu);
      w->stop = true;
    }
    w->cv.notify_all();
    w->thread.join();
  }
}

void SpareThreads::Loop(Worker* w) {
  std::unique_lock<std::mutex> lock(w->mu);
  for (;;) {
    w->cv.wait(lock, [w] { return w->task != nullptr || w->stop; });
    if (w->task == nullptr) return;  // Stopped.
    lock.unlock();
    (*w->task)();
    lock.lock();
    w->task = nullptr;
    w->cv.notify_all();
  }
}

void SpareThreads::Run(absl::FunctionRef<void()> a, absl::FunctionRef<void()> b) {
  Worker* w = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      w = idle_.back();
      idle_.pop_back();
    }
  }
  if (w == nullptr) {
    a();
    b();
    return;
  }
  shared_runs_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(w->mu);
    w->task = &b;
  }
  w->cv.notify_all();
  // `b` refers to the caller's frame: wait for it even if `a` throws.
  struct Join {
    SpareThreads* pool;
    Worker* w;
    ~Join() {
      {
        std::unique_lock<std::mutex> lock(w->mu);
        w->cv.wait(lock, [this] { return w->task == nullptr; });
      }
      std::lock_guard<std::mutex> lock(pool->mu_);
      pool->idle_.push_back(w);
    }
  } join{this, w};
  a();
}

}  // namespace promfeed::window
