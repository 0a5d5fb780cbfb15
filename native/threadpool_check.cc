// Stress check for lathe::ThreadPool, no Node: loops of 1-64 tasks, back to back and after idle
// gaps long enough for workers to sleep (some woken by wake() first), checking that every task
// of every loop ran exactly once and that its writes are visible when run() returns; tasks that
// throw; wake() from a second thread mid-loop; loops started from inside
// a task (inline) and from a second thread while one runs (inline too). From the repo:
//   g++ -O2 -std=c++17 -pthread native/threadpool_check.cc native/threadpool.cc -o /tmp/threadpool_check
//   /tmp/threadpool_check [seconds=20]
// Exit status 1 on any failure.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "threadpool.h"

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
  if (ok) return;
  if (failures++ < 10) std::fprintf(stderr, "threadpool_check: %s\n", what.c_str());
}

void spinFor(int nanos) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(nanos);
  while (std::chrono::steady_clock::now() < until) {
  }
}

// One loop of `tasks` tasks, each working about `nanos`; every slot must be written once.
void oneLoop(lathe::ThreadPool& pool, int64_t tasks, int nanos, uint64_t stamp) {
  std::vector<uint64_t> seen(static_cast<size_t>(tasks), 0);  // plain writes: run() must publish them
  std::vector<std::atomic<int>> count(static_cast<size_t>(tasks));
  pool.run(tasks, [&](int64_t t) {
    if (nanos > 0) spinFor(nanos);
    count[t].fetch_add(1, std::memory_order_relaxed);
    seen[t] = stamp;
  });
  for (int64_t t = 0; t < tasks; t++) {
    expect(count[t].load() == 1, "task " + std::to_string(t) + " of " + std::to_string(tasks) + " ran " + std::to_string(count[t].load()) + " times");
    expect(seen[t] == stamp, "task " + std::to_string(t) + "'s write not visible after run()");
  }
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 20.0;
  std::mt19937_64 rng(7);
  lathe::ThreadPool pool(3);  // more threads than this machine's 2 cores: workers get preempted
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  uint64_t loops = 0;
  while (std::chrono::steady_clock::now() < end) {
    const int kind = static_cast<int>(rng() % 100);
    const int64_t tasks = 1 + static_cast<int64_t>(rng() % 64);
    if (kind < 80) {
      oneLoop(pool, tasks, static_cast<int>(rng() % 3) * 500, ++loops);  // empty, short, longer tasks
    } else if (kind < 85) {
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2 == 0 ? 50 : 3000));  // past the workers' spin: they sleep
      if (rng() % 2 == 0) pool.wake();  // woken without a job, then given one at once
      oneLoop(pool, tasks, 0, ++loops);
    } else if (kind < 90) {
      // A task throws: the others still run, and run() rethrows the first exception.
      std::atomic<int64_t> ran{0};
      bool caught = false;
      try {
        pool.run(tasks, [&](int64_t t) {
          ran++;
          if (t == tasks / 2) throw std::runtime_error("task failed");
        });
      } catch (const std::runtime_error& e) {
        caught = std::string(e.what()) == "task failed";
      }
      expect(caught, "a task's exception was not rethrown");
      expect(ran.load() == tasks, "after a throwing task, " + std::to_string(ran.load()) + " of " + std::to_string(tasks) + " tasks ran");
      loops++;
    } else if (kind < 95) {
      // A loop inside a task runs inline.
      std::atomic<int64_t> inner{0};
      pool.run(tasks, [&](int64_t) { pool.run(3, [&](int64_t) { inner++; }); });
      expect(inner.load() == 3 * tasks, "nested loops ran " + std::to_string(inner.load()) + " inner tasks, not " + std::to_string(3 * tasks));
      loops++;
    } else {
      // Two callers at once: one gets the pool, the other runs inline; both complete.
      const uint64_t stamp = 1000000000ull + loops;
      std::thread other([&pool, stamp] {
        pool.wake();  // during the other caller's loop
        oneLoop(pool, 17, 200, stamp);
      });
      oneLoop(pool, tasks, 200, ++loops);
      other.join();
    }
  }
  std::printf("{\"check\":\"threadpool\",\"loops\":%llu,\"failures\":%d}\n", static_cast<unsigned long long>(loops), failures);
  return failures ? 1 : 0;
}
