// ThreadPool: persistent workers woken per parallel_for; tasks are claimed one at a time under a mutex (tasks are
// coarse: output tiles or row blocks), the caller participates as worker 0.
#include "systolic/thread_pool.h"

namespace rcnn::systolic {

ThreadPool::ThreadPool(unsigned threads) : size_(threads == 0 ? 1u : threads) {
  threads_.reserve(size_ - 1);
  for (unsigned i = 1; i < size_; ++i) threads_.emplace_back([this, i] { worker_main(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

int ThreadPool::current_worker() const {
  const auto me = std::this_thread::get_id();
  for (std::size_t i = 0; i < threads_.size(); ++i)
    if (threads_[i].get_id() == me) return static_cast<int>(i + 1);
  std::lock_guard<std::mutex> lock(mu_);
  if (job_ != nullptr && caller_ == me) return 0;
  return -1;
}

void ThreadPool::run_tasks(unsigned worker) {
  for (;;) {
    std::size_t task;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (next_ >= job_n_ || error_) return;
      task = next_++;
    }
    try {
      (*job_)(task, worker);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = std::current_exception();
    }
  }
}

void ThreadPool::worker_main(unsigned id) {
  unsigned long long seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      start_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    run_tasks(id);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (--active_ == 0) done_cv_.notify_all();
    }
  }
}

void ThreadPool::parallel_for(std::size_t n, const std::function<void(std::size_t, unsigned)>& fn) {
  if (n == 0) return;
  const int nested = current_worker();
  if (size_ == 1 || n == 1 || nested >= 0) {
    // Inline: single worker, a single task, or a nested call from inside a task (would deadlock otherwise); a
    // nested call keeps the worker index of the task it runs in, so per-worker scratch stays private.
    const unsigned w = nested >= 0 ? static_cast<unsigned>(nested) : 0u;
    for (std::size_t i = 0; i < n; ++i) fn(i, w);
    return;
  }
  std::lock_guard<std::mutex> call_lock(call_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    job_n_ = n;
    next_ = 0;
    error_ = nullptr;
    active_ = size_ - 1;
    caller_ = std::this_thread::get_id();
    ++generation_;
  }
  start_cv_.notify_all();
  run_tasks(0);
  std::exception_ptr err;
  {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return active_ == 0; });
    job_ = nullptr;
    caller_ = std::thread::id();
    err = error_;
    error_ = nullptr;
  }
  if (err) std::rethrow_exception(err);
}

void parallel_for(ThreadPool* pool, std::size_t n, const std::function<void(std::size_t, unsigned)>& fn) {
  if (pool) {
    pool->parallel_for(n, fn);
  } else {
    for (std::size_t i = 0; i < n; ++i) fn(i, 0);
  }
}

}  // namespace rcnn::systolic
