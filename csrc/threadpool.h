// A persistent worker pool for CPU fills. The calling thread takes part as worker 0,
// so n threads means n - 1 pool threads: no oversubscription of the CPUs we may use.
#ifndef FASTINIT_THREADPOOL_H_
#define FASTINIT_THREADPOOL_H_

#include <functional>

namespace fastinit {

// Runs fn(0) .. fn(n - 1) concurrently and returns when all have returned. If another
// thread's fill holds the pool, the caller runs all n parts itself: concurrent fills
// from several Python threads never wait on each other or deadlock.
void parallel_for(int n, const std::function<void(int)>& fn);

int get_num_threads();           // default: the CPUs this process may run on
void set_num_threads(int n);     // n >= 1
int default_num_threads();

}  // namespace fastinit

#endif  // FASTINIT_THREADPOOL_H_
