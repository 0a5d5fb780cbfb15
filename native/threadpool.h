// A fixed pool of worker threads for data-parallel loops. The calling thread works too, so a
// pool of T threads starts T-1 workers. Small loops should run inline: callers pass a grain
// size, and a loop with fewer than two grains never wakes a worker.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace lathe {

// A hint to the CPU that this thread is spin-waiting (it frees resources for a sibling thread).
inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return threads_; }

  // Runs fn(task) for task in [0, tasks), spread over the pool; returns when all are done.
  // Thread i (the caller is 0) runs the i-th contiguous share of the tasks first, then takes
  // what is left of the others' shares: so consecutive loops over the same items (a batch's
  // images, layer after layer) keep each item on one core, and a slow thread is still helped.
  // Calls from inside a task, or from a second thread while a loop runs, execute inline.
  // If a task throws, the others still finish and the first exception is rethrown here.
  void run(int64_t tasks, const std::function<void(int64_t)>& fn);

  // Wakes sleeping workers without giving them work: they spin for the next loop as after one
  // (2 ms), so a loop started soon after does not pay their wake-up. A caller that knows a loop
  // is coming (ThreadChooser, about to time one) calls it a little ahead; from any thread.
  void wake();

  // Splits [0, n) into at most size() contiguous chunks of at least `grain` items and runs
  // fn(begin, end) on each.
  void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void workerLoop(int self);
  void drain(int self);
  void runTask(int64_t t);

  int threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t tasks_ = 0;
  // Each thread's share of the current loop: the next task index, and the end of the share.
  struct alignas(64) Share {
    std::atomic<int64_t> next{0};
    int64_t end = 0;
  };
  std::unique_ptr<Share[]> shares_;
  std::atomic<int64_t> finished_{0};
  std::atomic<uint64_t> generation_{0};  // bumped per loop; workers spin on it briefly before sleeping
  std::atomic<int> active_{0};  // workers inside drain() for the current job (changed under mu_)
  std::atomic<bool> stop_{false};
  std::atomic<bool> busy_{false};
  std::exception_ptr error_;  // the first exception a task threw in the current loop (under mu_)
};

// Niceness of pool workers and async kernels: below the JS thread, so that a server's event
// loop preempts background compute instead of queueing behind it.
constexpr int kBackgroundNice = 5;

// Lowers the calling thread's priority to `nice` for the rest of its life (Linux; a no-op
// elsewhere). For threads Lathe owns: the pool's workers and the async executor.
void lowerThreadPriority(int nice);

// The process-wide pool, sized by LATHE_NUM_THREADS or the hardware's cores. A kernel holds
// the pointer for its whole run, so setDefaultPoolThreads() can swap in a new pool while an
// async kernel still uses the old one; the old pool goes when its last user lets go.
std::shared_ptr<ThreadPool> acquirePool();
void setDefaultPoolThreads(int threads);

// While set, acquirePool() on the calling thread returns a pool of one thread, so its kernels
// run on that thread alone. For callers that time both ways and keep the faster (a model's
// predict(), src/backends/threads.ts): near the size where splitting starts to pay, whether it
// does depends on how busy the other cores are at the moment.
void setCallerSerial(bool serial);

// The default pool's wake() (nothing where it has not been made yet).
void wakeDefaultPool();

// The pool async kernels use: one thread fewer than the default pool (its caller, the async
// executor, counts as one), so one core stays free for the event loop. With every core busy,
// V8's garbage-collection pauses on the loop's thread stretched to 5-7 ms; leaving one free
// kept the worst setImmediate delay under 2 ms (bench/async-inference.mjs, 2 cores).
std::shared_ptr<ThreadPool> acquireAsyncPool();

}  // namespace lathe
