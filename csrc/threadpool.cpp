#include "threadpool.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace fastinit {
namespace {

// Spin this long for the next job before sleeping: a model's init is a burst of fills,
// and a worker woken through the condition variable costs tens of microseconds here,
// as much as a 1e5-element fill (OpenMP runtimes spin for the same reason).
constexpr auto kSpin = std::chrono::microseconds(200);
// A ceiling on pool threads whatever set_num_threads asks for: each is an OS thread that
// stays parked for the life of the process.
constexpr int64_t kMaxThreads = 256;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Work is split into more chunks than threads and claimed dynamically, so a thread
// that the OS runs late (the machine is shared, or oversubscribed) takes fewer chunks
// instead of holding everyone up. A claim is a CAS on (generation << 32 | next chunk):
// a worker that wakes after its job has ended cannot claim chunks of the next job.
struct Pool {
  std::mutex job_mu;  // held by the one fill that owns the workers
  std::mutex mu;      // guards sleeping, worker creation and the job fields below
  std::condition_variable wake;
  std::vector<std::thread> workers;
  const std::function<void(int64_t)>* job = nullptr;
  int job_threads = 0;
  int64_t job_chunks = 0;
  std::atomic<uint64_t> generation{0};
  std::atomic<uint64_t> claim{0};
  std::atomic<int64_t> done{0};
  int sleepers = 0;

  // Runs chunks of job `gen` until none is left; false once the job is over.
  void drain(uint64_t gen, int64_t chunks, const std::function<void(int64_t)>& fn) {
    for (;;) {
      uint64_t v = claim.load(std::memory_order_acquire);
      int64_t c;
      do {
        if ((v >> 32) != (gen & 0xffffffffu)) return;
        c = static_cast<int64_t>(v & 0xffffffffu);
        if (c >= chunks) return;
      } while (!claim.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel));
      fn(c);
      done.fetch_add(1, std::memory_order_acq_rel);
    }
  }

  void worker(int id) {
    uint64_t seen = 0;
    for (;;) {
      // Spin briefly, then sleep until the generation moves on.
      const auto until = std::chrono::steady_clock::now() + kSpin;
      while (generation.load(std::memory_order_acquire) == seen && std::chrono::steady_clock::now() < until)
        cpu_relax();
      const std::function<void(int64_t)>* fn;
      int threads;
      int64_t chunks;
      {
        std::unique_lock<std::mutex> lk(mu);
        if (generation.load(std::memory_order_acquire) == seen) {
          ++sleepers;
          wake.wait(lk, [&] { return generation.load(std::memory_order_acquire) != seen; });
          --sleepers;
        }
        seen = generation.load(std::memory_order_acquire);
        fn = job;
        threads = job_threads;
        chunks = job_chunks;
      }
      if (id < threads && fn != nullptr) drain(seen, chunks, *fn);
    }
  }

  void run(int threads, int64_t chunks, const std::function<void(int64_t)>& fn) {
    std::unique_lock<std::mutex> own(job_mu, std::try_to_lock);
    if (!own.owns_lock()) {
      for (int64_t c = 0; c < chunks; ++c) fn(c);
      return;
    }
    uint64_t gen;
    bool notify;
    {
      std::lock_guard<std::mutex> lk(mu);
      while (static_cast<int>(workers.size()) < threads - 1) {
        const int id = static_cast<int>(workers.size()) + 1;
        try {
          workers.emplace_back([this, id] { worker(id); });
        } catch (const std::system_error&) {  // out of threads: run with those we have
          threads = id;
          break;
        }
        workers.back().detach();
      }
      job = &fn;
      job_threads = threads;
      job_chunks = chunks;
      done.store(0, std::memory_order_relaxed);
      gen = generation.load(std::memory_order_relaxed) + 1;
      claim.store((gen & 0xffffffffu) << 32, std::memory_order_release);
      generation.store(gen, std::memory_order_release);
      notify = sleepers > 0;
    }
    if (notify) wake.notify_all();
    drain(gen, chunks, fn);
    // Only chunks already claimed by running workers remain; yield now and then in case
    // such a worker is waiting for this CPU.
    for (int spins = 0; done.load(std::memory_order_acquire) != chunks; ++spins) {
      if (spins % 1024 == 1023) std::this_thread::yield();
      else cpu_relax();
    }
    std::lock_guard<std::mutex> lk(mu);
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

void parallel_for(int threads, int64_t chunks, const std::function<void(int64_t)>& fn) {
  // More threads than chunks, or than kMaxThreads, would only park idle workers.
  threads = static_cast<int>(std::min<int64_t>({threads, chunks, kMaxThreads}));
  if (threads <= 1 || chunks <= 1) {
    for (int64_t c = 0; c < chunks; ++c) fn(c);
    return;
  }
  pool().run(threads, chunks, fn);
}

}  // namespace fastinit
