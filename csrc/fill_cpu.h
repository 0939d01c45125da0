#ifndef FASTINIT_FILL_CPU_H_
#define FASTINIT_FILL_CPU_H_

#include "fill.h"

namespace fastinit {

// Fills a strided host target with `kernel` on `threads` threads (<= 0: the configured
// count). Releases nothing and takes no locks but the pool's; the binding drops the GIL.
void fill_cpu(FillTarget t, const FillParams& p, RunKernel kernel, int threads);

// Whether large contiguous fills advise MADV_HUGEPAGE on their 2 MiB-aligned interior
// first. Default on; FASTINIT_HUGEPAGE=0 in the environment turns it off.
void set_hugepage_advice(bool enabled);
bool get_hugepage_advice();

}  // namespace fastinit

#endif  // FASTINIT_FILL_CPU_H_
