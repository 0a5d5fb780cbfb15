// Workers sleep on a condition variable between loops; a loop hands each thread a contiguous
// share of the task indices through an atomic counter per share, and a thread done with its own
// takes from the others', so uneven tasks still balance themselves.
#include "threadpool.h"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <memory>

#if defined(__linux__)
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace lathe {

namespace {
thread_local bool inPoolTask = false;

// Locks mu_ as an adaptive mutex would: the pool's threads hold it only for a few stores, so
// spinning briefly beats sleeping in the kernel, where the holder's unlock must wake the waiter
// (a futex round trip of several us on a VM). pool.run of two empty tasks on the 2-vCPU EPYC,
// runs alternating with plain lock(): quiet host, mean 0.61-0.77 us (p90 0.73-0.82) against
// 0.79-1.20 (1.8-2.7); busy host, 1.5-2.0 (2.1-2.8) against 1.8-6.2 (3.7-17). The spin is
// bounded (~15 us) for a holder that the host has preempted.
void lockSpinning(std::unique_lock<std::mutex>& lock) {
  for (int i = 0; i < 1024; i++) {
    if (lock.try_lock()) return;
    cpuRelax();
  }
  lock.lock();
}
}

ThreadPool::ThreadPool(int threads) : threads_(threads < 1 ? 1 : threads), shares_(new Share[threads < 1 ? 1 : threads]) {
  for (int i = 1; i < threads_; i++) workers_.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::runTask(int64_t t) {
  try {
    (*job_)(t);
  } catch (...) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!error_) error_ = std::current_exception();
  }
  finished_.fetch_add(1, std::memory_order_acq_rel);
}

// Its own share first, then the others' in turn. Own shares matter on a VM: MNIST's CNN at
// batch 32 ran its two convs over the batch's images, and with one shared counter an image's
// conv output was often read by the other core in the next layer; with shares, an int8 predict
// took 245-250 us against 318-324, the float one 381-412 against 433-442 (2-vCPU Zen 5).
void ThreadPool::drain(int self) {
  for (int k = 0; k < threads_; k++) {
    Share& share = shares_[(self + k) % threads_];
    if (share.next.load(std::memory_order_relaxed) >= share.end) continue;  // no write to a finished share's line
    int64_t t;
    while ((t = share.next.fetch_add(1, std::memory_order_relaxed)) < share.end) runTask(t);
  }
}

void lowerThreadPriority(int nice) {
#if defined(__linux__)
  // On Linux, PRIO_PROCESS with a thread id sets that one thread's niceness.
  const id_t tid = static_cast<id_t>(syscall(SYS_gettid));
  errno = 0;
  const int current = getpriority(PRIO_PROCESS, tid);
  if (errno == 0 && current < nice) setpriority(PRIO_PROCESS, tid, nice);
#else
  (void)nice;
#endif
}

// How long an idle worker spins for the next loop before it sleeps (see workerLoop).
constexpr int kWorkerSpinMicros = 2000;

void ThreadPool::workerLoop(int self) {
  uint64_t seen = 0;
  inPoolTask = true;
  lowerThreadPriority(kBackgroundNice);
  for (;;) {
    // Spin before sleeping: a training step issues kernels back to back, and waking a sleeping
    // worker costs 20-30 us on this kind of VM, as much as a batch-32 GEMM itself (the brief's
    // training-shape GEMMs went from ~48 to ~34 us median with a 200 us spin). After the process
    // has idled, a wake can take far longer (the VM's vCPU was halted), the caller then runs
    // every task itself, and a worker that sleeps again between calls keeps it that way: 20
    // back-to-back predict() calls of the brief's MLP at batch 256 after 300 ms pauses averaged
    // 1050-1120 us with a 200 us spin, 690-725 with 2 ms, 650-710 with 20 ms (ONNX Runtime, whose
    // workers spin ~40 ms after a run, 620-670), three runs each on the 2-vCPU EPYC.
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(kWorkerSpinMicros);
    while (generation_.load(std::memory_order_acquire) == seen && !stop_.load(std::memory_order_relaxed) &&
           std::chrono::steady_clock::now() < until) {
      cpuRelax();
    }
    {
      std::unique_lock<std::mutex> lock(mu_, std::defer_lock);
      lockSpinning(lock);
      wake_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
      if (stop_) return;
      seen = generation_.load();
      if (job_ == nullptr) continue;  // woke after that loop already ended
      active_++;
    }
    drain(self);
    {
      std::unique_lock<std::mutex> lock(mu_, std::defer_lock);
      lockSpinning(lock);
      active_--;
    }
    done_.notify_all();
  }
}

void ThreadPool::run(int64_t tasks, const std::function<void(int64_t)>& fn) {
  if (tasks <= 0) return;
  bool expected = false;
  if (tasks == 1 || threads_ == 1 || inPoolTask || !busy_.compare_exchange_strong(expected, true)) {
    for (int64_t t = 0; t < tasks; t++) fn(t);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    tasks_ = tasks;
    error_ = nullptr;
    // Rounded up, so that with fewer tasks than threads the caller's share is not the empty one.
    for (int i = 0; i < threads_; i++) {
      shares_[i].next.store((tasks * i + threads_ - 1) / threads_, std::memory_order_relaxed);
      shares_[i].end = (tasks * (i + 1) + threads_ - 1) / threads_;
    }
    finished_.store(0, std::memory_order_relaxed);
    generation_++;
  }
  wake_.notify_all();
  inPoolTask = true;
  drain(0);  // never throws: task exceptions are kept in error_
  inPoolTask = false;
  // Wait until every task ran and no worker still holds this job: spin briefly first, since a
  // worker that is mid-task usually finishes within microseconds and a sleep costs more.
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
  while (!(finished_.load(std::memory_order_acquire) == tasks_ && active_.load(std::memory_order_acquire) == 0) &&
         std::chrono::steady_clock::now() < until) {
    cpuRelax();
  }
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(mu_, std::defer_lock);
    lockSpinning(lock);
    done_.wait(lock, [&] { return finished_.load(std::memory_order_acquire) == tasks_ && active_ == 0; });
    job_ = nullptr;
    error = error_;
    error_ = nullptr;
  }
  busy_.store(false);
  if (error) std::rethrow_exception(error);
}

void ThreadPool::wake() {
  if (threads_ == 1) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation_++;  // with no job_ set (or a loop's, which a worker then joins): workers go back to spinning
  }
  wake_.notify_all();
}

void ThreadPool::parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int64_t chunks = n / grain;
  if (chunks > threads_) chunks = threads_;
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  const int64_t per = (n + chunks - 1) / chunks;
  run(chunks, [&](int64_t c) {
    const int64_t b = c * per;
    const int64_t e = b + per < n ? b + per : n;
    if (b < e) fn(b, e);
  });
}

namespace {
std::mutex poolMutex;
std::shared_ptr<ThreadPool> pool;
std::shared_ptr<ThreadPool> asyncPool;

int threadsFromEnv() {
  if (const char* s = std::getenv("LATHE_NUM_THREADS")) {
    int n = std::atoi(s);
    if (n > 0) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}
}  // namespace

namespace {
thread_local bool callerSerial = false;  // setCallerSerial's, per calling thread
}  // namespace

void setCallerSerial(bool serial) { callerSerial = serial; }

std::shared_ptr<ThreadPool> acquirePool() {
  if (callerSerial) {
    static const std::shared_ptr<ThreadPool> serial = std::make_shared<ThreadPool>(1);  // no workers: every loop inline
    return serial;
  }
  std::lock_guard<std::mutex> lock(poolMutex);
  if (!pool) pool = std::make_shared<ThreadPool>(threadsFromEnv());
  return pool;
}

void wakeDefaultPool() {
  std::shared_ptr<ThreadPool> p;
  {
    std::lock_guard<std::mutex> lock(poolMutex);
    p = pool;
  }
  if (p) p->wake();
}

std::shared_ptr<ThreadPool> acquireAsyncPool() {
  std::lock_guard<std::mutex> lock(poolMutex);
  if (!pool) pool = std::make_shared<ThreadPool>(threadsFromEnv());
  if (!asyncPool) asyncPool = std::make_shared<ThreadPool>(pool->size() > 1 ? pool->size() - 1 : 1);
  return asyncPool;
}

void setDefaultPoolThreads(int threads) {
  auto fresh = std::make_shared<ThreadPool>(threads);
  std::shared_ptr<ThreadPool> old, oldAsync;
  {
    std::lock_guard<std::mutex> lock(poolMutex);
    old = std::move(pool);
    oldAsync = std::move(asyncPool);  // rebuilt at its next use, one thread smaller than `fresh`
    pool = std::move(fresh);
  }
  // `old` and `oldAsync` are destroyed here, outside the lock, unless a running kernel still holds them.
}

}  // namespace lathe
