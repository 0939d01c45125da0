// The CPU paths and their dispatch. Each fill_<isa>.cpp defines fastinit::<isa>::fill_run;
// dispatch.cpp picks one once (cpuid + XCR0, FASTINIT_CPU_ISA override) and caches it.
#ifndef FASTINIT_KERNELS_H_
#define FASTINIT_KERNELS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "fill.h"

namespace fastinit {

enum Isa : int { kIsaScalar = 0, kIsaAvx2 = 1, kIsaAvx512 = 2, kIsaCount = 3 };

namespace scalar {
void fill_run(const FillParams& p, void* dst, uint64_t n, uint64_t first, bool stream);
}
namespace avx2 {
void fill_run(const FillParams& p, void* dst, uint64_t n, uint64_t first, bool stream);
}
namespace avx512 {
void fill_run(const FillParams& p, void* dst, uint64_t n, uint64_t first, bool stream);
}

const char* isa_name(int isa);
bool isa_supported(int isa);        // compiled in, and the CPU and OS support it
int isa_from_name(const std::string& name);  // -1 if unknown
RunKernel isa_kernel(int isa);

// The path every fill uses, chosen once. Throws std::runtime_error if
// FASTINIT_CPU_ISA names an unknown or unsupported path.
int active_isa();

// Relaxed per-path counters of kernel entries: lets a test observe which path ran.
void count_kernel_call(int isa);
std::vector<uint64_t> kernel_calls();

}  // namespace fastinit

#endif  // FASTINIT_KERNELS_H_
