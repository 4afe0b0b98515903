// A small fixed-size thread pool owned by the caller, with one operation: parallel_for.
//
// Work split is by task index; every op produces identical results for any thread count (integer arithmetic, and
// each task writes disjoint outputs). The calling thread takes part as worker 0, so ThreadPool(1) spawns nothing.
// parallel_for calls from different threads are serialized; a parallel_for issued from inside a task runs inline
// on that worker. The first exception thrown by a task is rethrown to the caller after all workers stopped.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace rcnn::systolic {

class ThreadPool {
 public:
  // threads >= 1 (0 is treated as 1): total number of workers including the calling thread.
  explicit ThreadPool(unsigned threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  unsigned size() const noexcept { return size_; }

  // Runs fn(task, worker) for task in [0, n), worker in [0, size()). Blocks until all tasks finished.
  void parallel_for(std::size_t n, const std::function<void(std::size_t task, unsigned worker)>& fn);

 private:
  void worker_main(unsigned id);
  void run_tasks(unsigned worker);
  int current_worker() const;  // this thread's worker index inside a running parallel_for, else -1

  unsigned size_;
  std::vector<std::thread> threads_;
  std::mutex call_mu_;  // serializes parallel_for calls
  mutable std::mutex mu_;  // guards the fields below
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  const std::function<void(std::size_t, unsigned)>* job_ = nullptr;
  std::size_t job_n_ = 0;
  std::size_t next_ = 0;
  unsigned long long generation_ = 0;
  unsigned active_ = 0;
  std::thread::id caller_;
  bool stop_ = false;
  std::exception_ptr error_;
};

// Runs fn(task, worker) for every task, on `pool` when given (and n > 1), else inline with worker 0.
void parallel_for(ThreadPool* pool, std::size_t n, const std::function<void(std::size_t, unsigned)>& fn);
// Number of workers parallel_for(pool, ...) may use.
inline unsigned worker_count(const ThreadPool* pool) noexcept { return pool ? pool->size() : 1u; }

}  // namespace rcnn::systolic
