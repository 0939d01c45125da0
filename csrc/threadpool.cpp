#include "threadpool.h"

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace fastinit {
namespace {

struct Pool {
  std::mutex job_mu;  // held by the one fill that owns the workers
  std::mutex mu;
  std::condition_variable wake, done;
  std::vector<std::thread> workers;
  const std::function<void(int)>* job = nullptr;
  int job_threads = 0;
  int remaining = 0;
  uint64_t generation = 0;

  void worker(int id) {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int)>* fn;
      {
        std::unique_lock<std::mutex> lk(mu);
        wake.wait(lk, [&] { return generation != seen; });
        seen = generation;
        if (id >= job_threads) continue;
        fn = job;
      }
      (*fn)(id);
      std::lock_guard<std::mutex> lk(mu);
      if (--remaining == 0) done.notify_one();
    }
  }

  void run(int n, const std::function<void(int)>& fn) {
    std::unique_lock<std::mutex> own(job_mu, std::try_to_lock);
    if (!own.owns_lock()) {
      for (int i = 0; i < n; ++i) fn(i);
      return;
    }
    {
      std::lock_guard<std::mutex> lk(mu);
      while (static_cast<int>(workers.size()) < n - 1) {
        const int id = static_cast<int>(workers.size()) + 1;
        workers.emplace_back([this, id] { worker(id); });
        workers.back().detach();
      }
      job = &fn;
      job_threads = n;
      remaining = n - 1;
      ++generation;
    }
    wake.notify_all();
    fn(0);
    std::unique_lock<std::mutex> lk(mu);
    done.wait(lk, [&] { return remaining == 0; });
    job = nullptr;
  }
};

// Leaked on purpose: detached workers may still be parked in it at interpreter exit.
// After fork() only the forking thread exists in the child, and the pool's mutexes may
// be held by threads that are gone, so the child starts a fresh pool (issue 6).
Pool* g_pool = nullptr;
std::once_flag g_atfork_once;
std::atomic<int> g_num_threads{0};

Pool& pool() {
  std::call_once(g_atfork_once, [] {
    g_pool = new Pool;
    pthread_atfork(nullptr, nullptr, [] { g_pool = new Pool; });
  });
  return *g_pool;
}

}  // namespace

int default_num_threads() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

int get_num_threads() {
  const int n = g_num_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : default_num_threads();
}

void set_num_threads(int n) { g_num_threads.store(n > 0 ? n : 0, std::memory_order_relaxed); }

void parallel_for(int n, const std::function<void(int)>& fn) {
  if (n <= 1) {
    fn(0);
    return;
  }
  pool().run(n, fn);
}

}  // namespace fastinit
