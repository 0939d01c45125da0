// Cycles per value of the CPU paths' contiguous-run kernels on an L1-resident float32
// buffer (4096 values, 16 KiB), timed with rdtsc: TSC ticks, which equal core cycles only
// at the TSC frequency (no `perf stat -e cycles` on a VM without a PMU). Built and run by
// benchmarks/bench_philox.py, which compares two source trees interleaved.
// Usage: bench_philox <isa: avx2|avx512|scalar> <reps>   prints: ticks per value (median
// of reps timings of 200 fills each).
#include <x86intrin.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "fill.h"
#include "kernels.h"

int main(int argc, char** argv) {
  using namespace fastinit;
  const std::string isa = argc > 1 ? argv[1] : "avx512";
  const int reps = argc > 2 ? std::atoi(argv[2]) : 21;
  const int32_t dtype = argc > 3 ? std::atoi(argv[3]) : kFloat32;
  const int id = isa_from_name(isa);
  if (id < 0 || !isa_supported(id)) {
    std::fprintf(stderr, "isa %s not supported here\n", isa.c_str());
    return 77;
  }
  const RunKernel kernel = isa_kernel(id);
  constexpr uint64_t kN = 4096, kInner = 200;
  alignas(64) static char buf[kN * 8];
  const FillParams p = make_fill_params(dtype, -0.5, 0.5, 1234);
  std::vector<double> t;
  for (int r = 0; r < reps + 2; ++r) {
    const uint64_t t0 = __rdtsc();
    for (uint64_t i = 0; i < kInner; ++i) kernel(p, buf, kN, i * kN, false);
    const uint64_t t1 = __rdtsc();
    if (r >= 2) t.push_back(static_cast<double>(t1 - t0) / (kInner * kN));
  }
  std::sort(t.begin(), t.end());
  uint32_t check = 0;
  for (uint64_t i = 0; i < kN * 4 / 4; ++i) check ^= reinterpret_cast<uint32_t*>(buf)[i];
  std::printf("%.4f %08x\n", t[t.size() / 2], check);
  return 0;
}
