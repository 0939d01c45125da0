// Bit-identity of the AVX-512 path with the scalar path, on any x86-64 with AVX2/F16C.
//
// tests/native/build_and_run.sh compiles csrc/fill_avx512.cpp against
// tests/native/immintrin.h (SIMDe emulation, no -mavx512*) and links it with the normal
// scalar, AVX2, dispatch, fill_cpu and threadpool objects. This program then calls
// fastinit::avx512::fill_run and fastinit::scalar::fill_run on the same cases and
// compares every byte of the destination and of guard bytes around it (docs/STREAM.md section 5:
// bit-identical output across scalar, AVX2 and AVX-512 paths).
//
// Prints one line per failing case (the first kMaxPrinted of them) and a final line
// "N passed, M failed"; exits 1 if any case failed.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fill.h"
#include "kernels.h"
#include "check_common.h"

namespace {

using fastinit::FillParams;

using fastinit_check::dtype_name;
using fastinit_check::kGuard;
using fastinit_check::kGuardBytes;
constexpr int kMaxPrinted = 200;


struct Bounds {
  const char* what;
  double lo, hi;
};

// One ulp above 1.0 in the storage type: [1, 1 + ulp) makes the "never return hi"
// replacement fire for a good share of the elements, on every dtype.
double narrow_hi(int32_t d) {
  switch (d) {
    case fastinit::kFloat32: return 1.0 + std::ldexp(1.0, -23);
    case fastinit::kFloat64: return 1.0 + std::ldexp(1.0, -52);
    case fastinit::kFloat16: return 1.0 + std::ldexp(1.0, -10);  // 1.0009765625
    default: return 1.0078125;                                     // bfloat16: 1 + 2^-7
  }
}

struct Checker {
  long passed = 0, failed = 0;
  // One buffer per path, 64-byte aligned, reused.
  std::vector<unsigned char> want_mem, got_mem;

  static unsigned char* aligned(std::vector<unsigned char>& mem, size_t bytes) {
    if (mem.size() < bytes + 64) mem.resize(bytes + 64);
    const uintptr_t a = (reinterpret_cast<uintptr_t>(mem.data()) + 63) & ~uintptr_t{63};
    return reinterpret_cast<unsigned char*>(a);
  }

  void check(const FillParams& p, const Bounds& b, uint64_t n, uint64_t first, size_t mis, bool stream) {
    const size_t esz = static_cast<size_t>(fastinit::dtype_size(p.dtype));
    const size_t body = static_cast<size_t>(n) * esz;
    // [guard | mis bytes | body | guard]; the guard start is 64-byte aligned, so the
    // destination sits mis bytes past a 64-byte boundary.
    const size_t total = kGuardBytes + mis + body + kGuardBytes;
    unsigned char* want = aligned(want_mem, total);
    unsigned char* got = aligned(got_mem, total);
    memset(want, kGuard, total);
    memset(got, kGuard, total);
    fastinit::scalar::fill_run(p, want + kGuardBytes + mis, n, first, stream);
    fastinit::avx512::fill_run(p, got + kGuardBytes + mis, n, first, stream);

    const char* problem = nullptr;
    size_t at = 0;
    for (size_t i = 0; i < total && problem == nullptr; ++i) {
      const bool in_body = i >= kGuardBytes + mis && i < kGuardBytes + mis + body;
      if (!in_body && got[i] != kGuard) problem = "avx512 wrote outside the destination", at = i;
      else if (!in_body && want[i] != kGuard) problem = "scalar wrote outside the destination", at = i;
      else if (got[i] != want[i]) problem = "value mismatch", at = i;
    }
    if (problem == nullptr) {
      ++passed;
      return;
    }
    ++failed;
    if (failed > kMaxPrinted) return;
    const long long rel = static_cast<long long>(at) - static_cast<long long>(kGuardBytes + mis);
    char detail[160] = "";
    if (rel >= 0 && static_cast<size_t>(rel) < body) {
      const size_t el = static_cast<size_t>(rel) / esz;
      const unsigned char* w = want + kGuardBytes + mis + el * esz;
      const unsigned char* g = got + kGuardBytes + mis + el * esz;
      uint64_t wb = 0, gb = 0;
      memcpy(&wb, w, esz);
      memcpy(&gb, g, esz);
      snprintf(detail, sizeof detail, " element %zu (stream index %llu): scalar 0x%0*llx, avx512 0x%0*llx", el,
               static_cast<unsigned long long>(first + el), static_cast<int>(2 * esz),
               static_cast<unsigned long long>(wb), static_cast<int>(2 * esz), static_cast<unsigned long long>(gb));
    } else {
      snprintf(detail, sizeof detail, " byte %lld relative to the destination", rel);
    }
    printf("FAIL dtype=%s n=%llu first=%llu misalign=%zu stream=%d seed=0x%llx bounds=%s[%.17g, %.17g): %s;%s\n",
           dtype_name(p.dtype), static_cast<unsigned long long>(n), static_cast<unsigned long long>(first), mis,
           stream ? 1 : 0, static_cast<unsigned long long>(p.seed), b.what, b.lo, b.hi, problem, detail);
  }
};

}  // namespace

int main() {
  const int32_t dtypes[] = {fastinit::kFloat32, fastinit::kFloat64, fastinit::kFloat16, fastinit::kBFloat16};
  const uint64_t sizes[] = {0, 1, 3, 4, 5, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257,
                            1000, 4099, 100003};
  const uint64_t firsts[] = {0,
                             1,
                             3,
                             5,
                             (uint64_t{1} << 32) - 7,
                             (uint64_t{1} << 62) - 5,
                             (uint64_t{1} << 63) - 3,
                             ~uint64_t{0} - 8};  // 2^64 - 9
  // Destination offset from a 64-byte boundary: 0 is the aligned case (where streaming
  // stores can engage), 1..7 misaligned; 16, 32, 48 are aligned for some stores only.
  const size_t misaligns[] = {0, 1, 2, 3, 4, 5, 6, 7, 16, 32, 48};
  const uint64_t seeds[] = {0, 42, 0x0123456789abcdefull, ~uint64_t{0}};

  Checker c;
  for (int32_t d : dtypes) {
    const Bounds bounds[] = {
        {"symmetric", -0.0441941738241592, 0.0441941738241592},  // Kaiming-like: sqrt(3)*sqrt(2/...)
        {"asymmetric", -3.0, 5.5},
        {"tiny", 0.0, 1e-5},  // float16 subnormals
        {"narrow", 1.0, narrow_hi(d)},  // hi in storage reached: the replacement fires
    };
    for (size_t bi = 0; bi < sizeof bounds / sizeof bounds[0]; ++bi) {
      const Bounds& b = bounds[bi];
      for (size_t si = 0; si < sizeof seeds / sizeof seeds[0]; ++si) {
        const FillParams p = fastinit::make_fill_params(d, b.lo, b.hi, seeds[si]);
        for (uint64_t n : sizes) {
          for (size_t fi = 0; fi < sizeof firsts / sizeof firsts[0]; ++fi) {
            for (size_t mi = 0; mi < sizeof misaligns / sizeof misaligns[0]; ++mi) {
              for (int stream = 0; stream < 2; ++stream) {
                // Every (bounds, seed) pair sees every n, first, alignment and stream flag
                // up to 1000 elements; the long runs are spread over the pairs to keep the
                // emulated run short, each (n, first, misalign, stream) still covered once
                // per bounds set.
                if (n > 1000 && (fi + mi + stream) % (sizeof seeds / sizeof seeds[0]) != si) continue;
                c.check(p, b, n, firsts[fi], misaligns[mi], stream != 0);
              }
            }
          }
        }
      }
    }
  }
  // The normal family (docs/STREAM.md): normal and truncated normal, every dtype, with
  // parameters that exercise every branch of ndtri (central, tail, far tail), the
  // mirrored and unmirrored truncation, the clamp, and degenerate inputs.
  struct NormalCase {
    const char* what;
    bool trunc;
    double mean, std, a, b;
  };
  const NormalCase ncases[] = {
      {"normal(0,1)", false, 0.0, 1.0, 0, 0},
      {"normal(0.5,2)", false, 0.5, 2.0, 0, 0},
      {"normal std=0", false, 1.5, 0.0, 0, 0},
      {"trunc[-2,2]", true, 0.0, 1.0, -2.0, 2.0},
      {"trunc[2,3]", true, 0.0, 1.0, 2.0, 3.0},
      {"trunc[-2,2] std .1", true, 0.0, 0.1, -2.0, 2.0},
      {"trunc[5,6]", true, 0.0, 1.0, 5.0, 6.0},
      {"trunc[-40,-30]", true, 0.0, 1.0, -40.0, -30.0},
      {"trunc[-1,9] m=1", true, 1.0, 1.0, -1.0, 9.0},
      {"trunc NaN", true, 0.0, std::nan(""), -1.0, 1.0},
  };
  const uint64_t nsizes[] = {0, 1, 3, 5, 17, 63, 64, 65, 129, 257, 1000, 4099};
  for (int32_t d : dtypes) {
    for (const NormalCase& nc : ncases) {
      for (size_t si = 0; si < sizeof seeds / sizeof seeds[0]; ++si) {
        const FillParams p = nc.trunc ? fastinit::make_trunc_normal_params(d, nc.mean, nc.std, nc.a, nc.b, seeds[si])
                                      : fastinit::make_normal_params(d, nc.mean, nc.std, seeds[si]);
        const Bounds b{nc.what, nc.a, nc.b};
        for (uint64_t n : nsizes) {
          for (size_t fi = 0; fi < sizeof firsts / sizeof firsts[0]; ++fi) {
            const size_t mis = misaligns[(fi + si) % (sizeof misaligns / sizeof misaligns[0])];
            c.check(p, b, n, firsts[fi], mis, (fi + si) % 2 == 0);
          }
        }
        // One long run per case: every lane pattern of the packed tail.
        c.check(p, b, 100003, firsts[si], 0, si % 2 == 0);
      }
    }
  }
  if (c.failed > kMaxPrinted) printf("... %ld more failures not shown\n", c.failed - kMaxPrinted);
  printf("%ld passed, %ld failed\n", c.passed, c.failed);
  return c.failed == 0 ? 0 : 1;
}
