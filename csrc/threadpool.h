// A persistent worker pool for CPU fills. The calling thread takes part as worker 0,
// so n threads means n - 1 pool threads: no oversubscription of the CPUs we may use.
#ifndef FASTINIT_THREADPOOL_H_
#define FASTINIT_THREADPOOL_H_

#include <cstdint>
#include <functional>

namespace fastinit {

// Runs fn(0) .. fn(chunks - 1) on up to `threads` threads (the caller included), chunks
// claimed dynamically, and returns when all have returned. If another thread's fill holds
// the pool, the caller runs every chunk itself: concurrent fills from several Python
// threads never wait on each other or deadlock.
void parallel_for(int threads, int64_t chunks, const std::function<void(int64_t)>& fn);

int get_num_threads();           // default: the CPUs this process may run on
void set_num_threads(int n);     // n >= 1
int default_num_threads();

}  // namespace fastinit

#endif  // FASTINIT_THREADPOOL_H_
