// What the float and int8 GEMM drivers (gemm.cc, qgemm.cc) share: block-size arithmetic, the
// per-thread packing buffers, the grid of tasks C is split into, and running those tasks on the
// pool with the caller spinning for its workers instead of sleeping.
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <new>
#include <thread>

#include "../threadpool.h"

namespace lathe {
namespace gemm_blocking {

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t roundUp(int64_t a, int64_t b) { return ceilDiv(a, b) * b; }

// Splits `total` into equal blocks of at most `block`, rounded up to `unit`: K=600 with KC=512
// becomes 300+300 rather than 512+88, so no block runs short of work.
inline int64_t evenBlock(int64_t total, int64_t block, int64_t unit) {
  return std::min(roundUp(ceilDiv(total, ceilDiv(total, block)), unit), roundUp(total, unit));
}

// Grown on demand and kept for the thread's lifetime, so steady-state calls never allocate.
// 64-byte alignment starts every packed sliver and panel on a cache line.
class PackBuffer {
 public:
  PackBuffer() = default;
  PackBuffer(const PackBuffer&) = delete;
  PackBuffer& operator=(const PackBuffer&) = delete;
  ~PackBuffer() { release(); }
  void* get(size_t bytes) {
    if (bytes > size_) {
      release();
      size_ = std::max(bytes, size_ * 2);
      ptr_ = ::operator new(size_, std::align_val_t(64));
    }
    return ptr_;
  }

 private:
  void release() {
    if (ptr_) ::operator delete(ptr_, std::align_val_t(64));
    ptr_ = nullptr;
  }
  void* ptr_ = nullptr;
  size_t size_ = 0;
};

// Chooses a tm x tn grid of about `target` tasks over the tile units of C, keeping each task's
// block square-ish (in elements) so the operands each task reads or packs stay small.
inline void chooseGrid(int64_t unitsM, int64_t unitsN, int64_t mr, int64_t nr, int64_t target, int64_t& tm, int64_t& tn) {
  tm = tn = 1;
  double best = 1e300;
  for (int64_t n = 1; n <= std::min(target, unitsN); n++) {
    const int64_t m = std::min(unitsM, std::max<int64_t>(1, target / n));
    if (m * n * 4 < target * 3) continue;  // too few tasks
    const double cost = double(ceilDiv(unitsM, m) * mr) + double(ceilDiv(unitsN, n) * nr);
    if (cost < best) best = cost, tm = m, tn = n;
  }
}

// How long the calling thread busy-waits for workers before sleeping in the pool.
constexpr int kMaxSpinMicros = 200;

// Runs task(t) for t < tasks on the pool. The calling thread does not leave its last task while
// workers still run theirs: returning would put it to sleep in the pool's condition variable, and
// that wake-up cost ~10 us more per call on the VM (32x128x784: 48 vs 58 us mean). All tasks have
// started when it waits, so it never waits on one nobody runs; the spin is bounded in case a
// worker gets preempted.
template <typename Task>
void runSpinning(ThreadPool& pool, int64_t tasks, const Task& task) {
  std::atomic<int64_t> started{0}, finished{0};
  const std::thread::id caller = std::this_thread::get_id();
  pool.run(tasks, [&](int64_t t) {
    started.fetch_add(1, std::memory_order_relaxed);
    task(t);
    finished.fetch_add(1, std::memory_order_acq_rel);
    if (std::this_thread::get_id() == caller && started.load(std::memory_order_relaxed) == tasks) {
      const auto giveUp = std::chrono::steady_clock::now() + std::chrono::microseconds(kMaxSpinMicros);
      for (int i = 1; finished.load(std::memory_order_acquire) < tasks; i++) {
        cpuRelax();
        if (i % 256 == 0 && std::chrono::steady_clock::now() > giveUp) break;
      }
    }
  });
}

}  // namespace gemm_blocking
}  // namespace lathe
