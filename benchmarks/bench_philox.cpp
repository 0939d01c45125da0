// Cycles per value of the CPU paths' contiguous-run kernels on L1-resident buffers (4096
// values), timed with rdtsc: TSC ticks, converted to core cycles by a calibration loop
// (no `perf stat -e cycles` on a VM without a PMU). Built and run by
// benchmarks/bench_philox.py, which compares two source trees interleaved.
//
// This one file is compiled three times:
//   - plainly: main() below;
//   - with -DBENCH_FLOOR_ISA=2 and fill_avx2.cpp's flags, and -DBENCH_FLOOR_ISA=3 and
//     fill_avx512.cpp's: it then #includes that ISA's kernel source (whose Group is
//     private to it) and defines the floors measured in that ISA's own code:
//       the Philox floor: Group::generate's words stored raw, in stream order, into L1
//         (Philox + the transpose + a store: what every fill does before its value stage);
//       the multiply floor: independent vpmuludq at full throughput, times the 19
//         products per 4-word block (10 rounds x 2, round 0's zero product skipped).
//
// Usage: bench_philox <isa: avx2|avx512|scalar> <reps> <dtype 0..3> <what>
//   what = uniform | normal | trunc_normal   prints: ticks per value, and a checksum
//        | floor | mul                       ticks per 32-bit word, and a checksum
//        | bf16check                         mismatches of the ISA's bfloat16 packing against
//                                            value.h over all 2^32 float32 patterns
//        | clock                             core cycles per TSC tick (dependent adds)
//        | tsc                               TSC ticks per nanosecond
// Each figure is the median of reps timings. A timing is short (tens of microseconds), so
// that on a shared machine most of them run without being preempted: the median is then
// the undisturbed figure.
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#if defined(BENCH_FLOOR_ISA)
// The kernel's own Group; its exported fill_run is renamed so that it does not collide
// with the real object's.
#if BENCH_FLOOR_ISA == 2
#define fill_run bench_floor_unused_fill_run
#include "fill_avx2.cpp"
#undef fill_run
namespace fastinit {
namespace avx2 {
using Reg = __m256i;
#define BENCH_FLOOR_FN bench_floor_avx2
#define BENCH_MUL_FN bench_mul_avx2
#define BENCH_BF16_FN bench_bf16_check_avx2
static inline Reg bench_mul(Reg a, Reg m) { return _mm256_mul_epu32(a, m); }
static inline Reg bench_set1(uint32_t x) { return _mm256_set1_epi32(static_cast<int>(x)); }
constexpr int kProducts = 4;  // per vpmuludq
#else
#define fill_run bench_floor_unused_fill_run
#include "fill_avx512.cpp"
#undef fill_run
namespace fastinit {
namespace avx512 {
using Reg = __m512i;
#define BENCH_FLOOR_FN bench_floor_avx512
#define BENCH_MUL_FN bench_mul_avx512
#define BENCH_BF16_FN bench_bf16_check_avx512
static inline Reg bench_mul(Reg a, Reg m) { return _mm512_mul_epu32(a, m); }
static inline Reg bench_set1(uint32_t x) { return _mm512_set1_epi32(static_cast<int>(x)); }
constexpr int kProducts = 8;
#endif

// Words of blocks [block, block + nblocks) (a multiple of Group::kBlocks) into out.
__attribute__((noinline)) void floor_words(const Group::Keys& k, uint64_t block, uint64_t nblocks, uint32_t* out) {
  constexpr int kVecWords = sizeof(Reg) / 4;
  for (uint64_t b = 0; b < nblocks; b += Group::kBlocks) {
    Reg w[kSets][4];
    Group::generate(k, block + b, w);
    for (int s = 0; s < kSets; ++s) {
      for (int q = 0; q < 4; ++q) memcpy(out + 4 * b + (4 * s + q) * kVecWords, &w[s][q], sizeof(Reg));
    }
  }
}

// Mismatches of the kernel's bfloat16 packing (Group::bf16x16 / bf16x32: rounding and
// the pack into stream order) against value.h's f32_to_bf16_bits, over all 2^32 float32
// bit patterns (NaN, infinities and subnormals included).
__attribute__((noinline)) uint64_t bf16_check() {
  constexpr int kVecWords = sizeof(Reg) / 4;
  uint64_t bad = 0;
  alignas(64) uint32_t in[2 * kVecWords];
  alignas(64) uint16_t got[2 * kVecWords];
  for (uint64_t base = 0; base < (uint64_t{1} << 32); base += 2 * kVecWords) {
    for (int i = 0; i < 2 * kVecWords; ++i) in[i] = static_cast<uint32_t>(base + i);
    Reg a, b;
    memcpy(&a, in, sizeof(Reg));
    memcpy(&b, in + kVecWords, sizeof(Reg));
#if BENCH_FLOOR_ISA == 2
    const Reg r = Group::bf16x16(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b));
#else
    const Reg r = Group::bf16x32(_mm512_castsi512_ps(a), _mm512_castsi512_ps(b));
#endif
    memcpy(got, &r, sizeof(Reg));
    for (int i = 0; i < 2 * kVecWords; ++i) bad += got[i] != f32_to_bf16_bits(bits_to_f32(in[i]));
  }
  return bad;
}

}  // namespace avx2 / avx512
}  // namespace fastinit

// Ticks per 32-bit word of the Philox floor, over inner fills of n words; checksum in *chk.
double BENCH_FLOOR_FN(int reps, uint64_t n, uint32_t* buf, uint32_t* chk) {
  using namespace fastinit;
#if BENCH_FLOOR_ISA == 2
  using namespace fastinit::avx2;
#else
  using namespace fastinit::avx512;
#endif
  const Group::Keys k(1234);
  constexpr uint64_t kInner = 16;
  std::vector<double> t;
  for (int r = 0; r < reps + 2; ++r) {
    const uint64_t t0 = __rdtsc();
    for (uint64_t i = 0; i < kInner; ++i) floor_words(k, i * n / 4, n / 4, buf);
    const uint64_t t1 = __rdtsc();
    if (r >= 2) t.push_back(static_cast<double>(t1 - t0) / (kInner * n));
  }
  uint32_t c = 0;
  for (uint64_t i = 0; i < n; ++i) c ^= buf[i];
  *chk = c;
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Ticks per 32-bit word if Philox did nothing but its multiplies: 4.75 products per word
// (19 per block) on vpmuludq at full throughput: 12 independent register chains (more
// than latency x multiply ports on any core here), in asm so that they stay in registers.
#define BENCH_MUL12(R)                                                                                           \
  "vpmuludq %[m], %%" R "0, %%" R "0\n\tvpmuludq %[m], %%" R "1, %%" R "1\n\tvpmuludq %[m], %%" R "2, %%" R   \
  "2\n\tvpmuludq %[m], %%" R "3, %%" R "3\n\tvpmuludq %[m], %%" R "4, %%" R "4\n\tvpmuludq %[m], %%" R "5, %%" R \
  "5\n\tvpmuludq %[m], %%" R "6, %%" R "6\n\tvpmuludq %[m], %%" R "7, %%" R "7\n\tvpmuludq %[m], %%" R "8, %%" R \
  "8\n\tvpmuludq %[m], %%" R "9, %%" R "9\n\tvpmuludq %[m], %%" R "10, %%" R "10\n\tvpmuludq %[m], %%" R        \
  "11, %%" R "11\n\t"
double BENCH_MUL_FN(int reps, uint32_t* chk) {
#if BENCH_FLOOR_ISA == 2
  using namespace fastinit::avx2;
#else
  using namespace fastinit::avx512;
#endif
  constexpr uint64_t kIters = 2000;
  const Reg m = bench_set1(0xD2511F53u);
  std::vector<double> t;
  for (int r = 0; r < reps + 2; ++r) {
    const uint64_t t0 = __rdtsc();
    for (uint64_t i = 0; i < kIters; ++i) {
#if BENCH_FLOOR_ISA == 2
      __asm__ volatile(BENCH_MUL12("ymm")::[m] "x"(m)
                       : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11");
#else
      __asm__ volatile(BENCH_MUL12("zmm")::[m] "v"(m)
                       : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11");
#endif
    }
    const uint64_t t1 = __rdtsc();
    if (r >= 2) t.push_back(static_cast<double>(t1 - t0) / (kIters * 12));
  }
  *chk = 0;
  std::sort(t.begin(), t.end());
  return t[t.size() / 2] * 19.0 / 4.0 / kProducts;  // ticks per vpmuludq -> per word
}

uint64_t BENCH_BF16_FN() {
#if BENCH_FLOOR_ISA == 2
  return fastinit::avx2::bf16_check();
#else
  return fastinit::avx512::bf16_check();
#endif
}

#else  // the benchmark program

#include "fill.h"
#include "kernels.h"

double bench_floor_avx2(int reps, uint64_t n, uint32_t* buf, uint32_t* chk);
double bench_floor_avx512(int reps, uint64_t n, uint32_t* buf, uint32_t* chk);
double bench_mul_avx2(int reps, uint32_t* chk);
double bench_mul_avx512(int reps, uint32_t* chk);
uint64_t bench_bf16_check_avx2();
uint64_t bench_bf16_check_avx512();

// Core cycles per TSC tick: a chain of dependent register adds runs at one per cycle on
// every x86 core of the last decade (Agner Fog's instruction tables).
static double cycles_per_tick(int reps) {
  constexpr uint64_t kIters = 10000;
  std::vector<double> t;
  for (int r = 0; r < reps + 2; ++r) {
    uint64_t x = 0;
    const uint64_t t0 = __rdtsc();
    for (uint64_t i = 0; i < kIters; ++i) {
      __asm__ volatile(
          "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
          "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
          : "+r"(x));
    }
    const uint64_t t1 = __rdtsc();
    if (r >= 2) t.push_back(static_cast<double>(kIters * 10) / static_cast<double>(t1 - t0));
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

static double ticks_per_ns() {
  const auto c0 = std::chrono::steady_clock::now();
  const uint64_t t0 = __rdtsc();
  while (std::chrono::steady_clock::now() - c0 < std::chrono::milliseconds(200)) {
  }
  const uint64_t t1 = __rdtsc();
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - c0).count();
  return static_cast<double>(t1 - t0) / ns;
}

int main(int argc, char** argv) {
  using namespace fastinit;
  const std::string isa = argc > 1 ? argv[1] : "avx512";
  const int reps = argc > 2 ? std::atoi(argv[2]) : 21;
  const int32_t dtype = argc > 3 ? std::atoi(argv[3]) : kFloat32;
  const std::string what = argc > 4 ? argv[4] : "uniform";
  constexpr uint64_t kN = 4096, kInner = 16;
  alignas(64) static char buf[kN * 8];
  if (what == "clock") {
    std::printf("%.4f 0\n", cycles_per_tick(reps));
    return 0;
  }
  if (what == "tsc") {
    std::printf("%.4f 0\n", ticks_per_ns());
    return 0;
  }
  const int id = isa_from_name(isa);
  if (id < 0 || !isa_supported(id)) {
    std::fprintf(stderr, "isa %s not supported here\n", isa.c_str());
    return 77;
  }
  if (what == "bf16check") {
    if (id == kIsaScalar) return 77;
    const uint64_t bad = id == kIsaAvx2 ? bench_bf16_check_avx2() : bench_bf16_check_avx512();
    std::printf("%llu 0\n", static_cast<unsigned long long>(bad));
    return bad != 0;
  }
  if (what == "floor" || what == "mul") {
    if (id == kIsaScalar) return 77;  // the floors are SIMD code
    uint32_t chk = 0;
    double v;
    if (what == "floor")
      v = (id == kIsaAvx2 ? bench_floor_avx2 : bench_floor_avx512)(reps, kN, reinterpret_cast<uint32_t*>(buf), &chk);
    else
      v = (id == kIsaAvx2 ? bench_mul_avx2 : bench_mul_avx512)(reps, &chk);
    std::printf("%.4f %08x\n", v, chk);
    return 0;
  }
  const RunKernel kernel = isa_kernel(id);
  const FillParams p = what == "normal"         ? make_normal_params(dtype, 0.0, 1.0, 1234)
                       : what == "trunc_normal" ? make_trunc_normal_params(dtype, 0.0, 1.0, -2.0, 2.0, 1234)
                                                : make_fill_params(dtype, -0.5, 0.5, 1234);
  std::vector<double> t;
  for (int r = 0; r < reps + 2; ++r) {
    const uint64_t t0 = __rdtsc();
    for (uint64_t i = 0; i < kInner; ++i) kernel(p, buf, kN, i * kN, false);
    const uint64_t t1 = __rdtsc();
    if (r >= 2) t.push_back(static_cast<double>(t1 - t0) / (kInner * kN));
  }
  std::sort(t.begin(), t.end());
  uint32_t check = 0;
  for (uint64_t i = 0; i < kN * dtype_size(dtype) / 4; ++i) check ^= reinterpret_cast<uint32_t*>(buf)[i];
  std::printf("%.4f %08x\n", t[t.size() / 2], check);
  return 0;
}

#endif
