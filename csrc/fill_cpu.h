#ifndef FASTINIT_FILL_CPU_H_
#define FASTINIT_FILL_CPU_H_

#include "fill.h"

namespace fastinit {

uint64_t numel(const FillTarget& t);

// Once per fill, before the first slice: memory advice for the whole target. Returns
// whether the target is fresh memory that fill_cpu should populate chunk by chunk
// (MADV_POPULATE_WRITE, just before each chunk's stores).
bool prepare_cpu_target(const FillTarget& t, int32_t dtype);

// Fills the elements of logical indices [begin, end) of a strided host target with
// `kernel` on `threads` threads (<= 0: the configured count). The binding calls it in
// slices so that Ctrl-C is seen between them; the values do not depend on the slicing.
// `fresh`: what prepare_cpu_target returned.
void fill_cpu(FillTarget t, const FillParams& p, RunKernel kernel, int threads, uint64_t begin, uint64_t end,
              bool fresh = false);

// Whether large contiguous fills advise MADV_HUGEPAGE on their 2 MiB-aligned interior
// first. Default off; FASTINIT_HUGEPAGE=1 in the environment turns it on.
void set_hugepage_advice(bool enabled);
bool get_hugepage_advice();

}  // namespace fastinit

#endif  // FASTINIT_FILL_CPU_H_
