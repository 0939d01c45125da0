// AVX-512 (F, DQ, BW, VL) path, flags set per file in CMake. Same structure as the
// AVX2 path with 16 lanes: structure-of-arrays Philox over two 16-lane sets, a 4x16
// transpose to stream order, then the per-dtype store.
#include <immintrin.h>

#include "kernels.h"
#include "run_driver.h"
#include "ndtri_packed.h"
#include "normal.h"
#include "value.h"

namespace fastinit {
namespace avx512 {
namespace {

constexpr int kSets = 4;
constexpr __mmask16 kOdd = 0xAAAA, kEven = 0x5555;

// (hi, lo) = a * m, lane-wise 32x32->64; m is a broadcast multiplier. vpmuludq multiplies
// the even dwords; the odd ones are first copied down with vpshufd. Each half is then
// merged from the two products with one masked vpshufd (dword 1 of each product for hi,
// dword 0 for lo): five uops on ports 0 and 5 where shifts and blends took seven
// (issue 13; benchmarks/bench_philox.py).
inline void mulhilo(__m512i a, __m512i m, __m512i& hi, __m512i& lo) {
  const __m512i even = _mm512_mul_epu32(a, m);
  const __m512i odd = _mm512_mul_epu32(_mm512_shuffle_epi32(a, _MM_PERM_DDBB), m);
  hi = _mm512_mask_shuffle_epi32(odd, kEven, even, _MM_PERM_DDBB);
  lo = _mm512_mask_shuffle_epi32(even, kOdd, odd, _MM_PERM_CCAA);
}

// ---- lane types for normal.h's templates: each operation is the scalar one, lane-wise --
#define FASTINIT_AI inline __attribute__((always_inline))

// The register and mask register of each element type and the instructions the lane
// operations below are made of; the operations themselves are written once, over the
// element type.
template <class T>
struct Lanes;
template <>
struct Lanes<float> {
  using R = __m512;
  using K = __mmask16;
  static FASTINIT_AI R set1(float c) { return _mm512_set1_ps(c); }
  static FASTINIT_AI R add(R a, R b) { return _mm512_add_ps(a, b); }
  static FASTINIT_AI R sub(R a, R b) { return _mm512_sub_ps(a, b); }
  static FASTINIT_AI R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  static FASTINIT_AI R neg(R a) {
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_set1_epi32(INT32_MIN)));
  }
  static FASTINIT_AI R fmadd(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static FASTINIT_AI R div(R a, R b) { return _mm512_div_ps(a, b); }
  static FASTINIT_AI R sqrt(R a) { return _mm512_sqrt_ps(a); }
  template <int P>
  static FASTINIT_AI K cmp(R a, R b) { return _mm512_cmp_ps_mask(a, b, P); }
  static FASTINIT_AI R blend(K m, R a, R b) { return _mm512_mask_blend_ps(m, b, a); }
  static FASTINIT_AI R max(R a, R b) { return _mm512_max_ps(a, b); }  // a > b ? a : b
  static FASTINIT_AI R min(R a, R b) { return _mm512_min_ps(a, b); }  // a < b ? a : b
  static constexpr K kAll = 0xffff;
};
template <>
struct Lanes<double> {
  using R = __m512d;
  using K = __mmask8;
  static FASTINIT_AI R set1(double c) { return _mm512_set1_pd(c); }
  static FASTINIT_AI R add(R a, R b) { return _mm512_add_pd(a, b); }
  static FASTINIT_AI R sub(R a, R b) { return _mm512_sub_pd(a, b); }
  static FASTINIT_AI R mul(R a, R b) { return _mm512_mul_pd(a, b); }
  static FASTINIT_AI R neg(R a) {
    return _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(a), _mm512_set1_epi64(INT64_MIN)));
  }
  static FASTINIT_AI R fmadd(R a, R b, R c) { return _mm512_fmadd_pd(a, b, c); }
  static FASTINIT_AI R div(R a, R b) { return _mm512_div_pd(a, b); }
  static FASTINIT_AI R sqrt(R a) { return _mm512_sqrt_pd(a); }
  template <int P>
  static FASTINIT_AI K cmp(R a, R b) { return _mm512_cmp_pd_mask(a, b, P); }
  static FASTINIT_AI R blend(K m, R a, R b) { return _mm512_mask_blend_pd(m, b, a); }
  static FASTINIT_AI R max(R a, R b) { return _mm512_max_pd(a, b); }
  static FASTINIT_AI R min(R a, R b) { return _mm512_min_pd(a, b); }
  static constexpr K kAll = 0xff;
};

template <class T>
struct Vec {
  using L = Lanes<T>;
  typename L::R v;
  Vec() = default;
  Vec(T c) : v(L::set1(c)) {}
  explicit Vec(typename L::R x) : v(x) {}
};
template <class T>
struct Mask {
  typename Lanes<T>::K k;
};
using VF = Vec<float>;  // 16 floats
using MF = Mask<float>;
using VD = Vec<double>;  // 8 doubles
using MD = Mask<double>;

template <class T>
FASTINIT_AI Vec<T> operator+(Vec<T> a, Vec<T> b) { return Vec<T>(Lanes<T>::add(a.v, b.v)); }
template <class T>
FASTINIT_AI Vec<T> operator-(Vec<T> a, Vec<T> b) { return Vec<T>(Lanes<T>::sub(a.v, b.v)); }
template <class T>
FASTINIT_AI Vec<T> operator*(Vec<T> a, Vec<T> b) { return Vec<T>(Lanes<T>::mul(a.v, b.v)); }
template <class T>
FASTINIT_AI Vec<T> operator-(Vec<T> a) { return Vec<T>(Lanes<T>::neg(a.v)); }
template <class T>
FASTINIT_AI Vec<T> fma_v(Vec<T> a, Vec<T> b, Vec<T> c) { return Vec<T>(Lanes<T>::fmadd(a.v, b.v, c.v)); }
template <class T>
FASTINIT_AI Vec<T> div_v(Vec<T> a, Vec<T> b) { return Vec<T>(Lanes<T>::div(a.v, b.v)); }
template <class T>
FASTINIT_AI Vec<T> sqrt_v(Vec<T> a) { return Vec<T>(Lanes<T>::sqrt(a.v)); }
template <class T>
FASTINIT_AI Mask<T> lt(Vec<T> a, Vec<T> b) { return Mask<T>{Lanes<T>::template cmp<_CMP_LT_OQ>(a.v, b.v)}; }
template <class T>
FASTINIT_AI Mask<T> le(Vec<T> a, Vec<T> b) { return Mask<T>{Lanes<T>::template cmp<_CMP_LE_OQ>(a.v, b.v)}; }
template <class T>
FASTINIT_AI Mask<T> ge(Vec<T> a, Vec<T> b) { return Mask<T>{Lanes<T>::template cmp<_CMP_GE_OQ>(a.v, b.v)}; }
template <class T>
FASTINIT_AI Mask<T> gt(Vec<T> a, Vec<T> b) { return Mask<T>{Lanes<T>::template cmp<_CMP_GT_OQ>(a.v, b.v)}; }
template <class T>
FASTINIT_AI Vec<T> sel(Mask<T> m, Vec<T> a, Vec<T> b) { return Vec<T>(Lanes<T>::blend(m.k, a.v, b.v)); }
template <class T>
FASTINIT_AI Vec<T> max_v(Vec<T> a, Vec<T> b) { return Vec<T>(Lanes<T>::max(a.v, b.v)); }
template <class T>
FASTINIT_AI Vec<T> min_v(Vec<T> a, Vec<T> b) { return Vec<T>(Lanes<T>::min(a.v, b.v)); }
template <class T>
FASTINIT_AI bool any_v(Mask<T> m) { return m.k != 0; }
template <class T>
FASTINIT_AI bool all_v(Mask<T> m) { return m.k == Lanes<T>::kAll; }

FASTINIT_AI void split_exp32(VF x, VF& k, VF& m) {
  const __m512i ix = _mm512_add_epi32(_mm512_castps_si512(x.v), _mm512_set1_epi32(0x3f800000 - 0x3f3504f3));
  k = VF(_mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(ix, 23), _mm512_set1_epi32(0x7f))));
  m = VF(_mm512_castsi512_ps(
      _mm512_add_epi32(_mm512_and_si512(ix, _mm512_set1_epi32(0x007fffff)), _mm512_set1_epi32(0x3f3504f3))));
}

FASTINIT_AI void split_exp64(VD x, VD& k, VD& m) {
  const __m512i ix = _mm512_add_epi64(_mm512_castpd_si512(x.v),
                                      _mm512_set1_epi64(0x3ff0000000000000LL - 0x3fe6a09e667f3bcdLL));
  // The biased exponent (0..4095) converts exactly; minus 1023 is exact too.
  k = VD(_mm512_sub_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64(ix, 52)), _mm512_set1_pd(1023.0)));
  m = VD(_mm512_castsi512_pd(_mm512_add_epi64(_mm512_and_si512(ix, _mm512_set1_epi64(0x000fffffffffffffLL)),
                                              _mm512_set1_epi64(0x3fe6a09e667f3bcdLL))));
}

// ---- lane traits for ndtri_packed.h (the tail on packed lanes only) ---------------------
// Register-form vcompressps/pd packs the tail lanes; the packed vectors go through a
// buffer with plain stores (the memory-destination vcompress form is microcoded on Zen 4:
// /work/shared/perf-analysis/REPORT.md section 7), and one merge-masked vexpandps/pd per
// vector puts each quotient back into its lane.
struct Pack32 {
  using V = VF;
  using M = MF;
  using S = float;
  using T = __mmask16;
  static constexpr int kLanes = 16;
  static FASTINIT_AI V clamp(V u) { return ndtri32_clamp(u); }
  static FASTINIT_AI M central_mask(V u) { return ndtri32_central_mask(u); }
  static FASTINIT_AI void central(V u, V& n, V& d) { ndtri32_central(u, n, d); }
  static FASTINIT_AI void tail(V u, V& n, V& d) { ndtri32_tail(u, n, d); }
  static FASTINIT_AI T tail_bits(M c) { return static_cast<T>(~c.k); }
  static FASTINIT_AI int count(T t) { return __builtin_popcount(t); }
  static FASTINIT_AI V compress(V x, T t) { return V(_mm512_maskz_compress_ps(t, x.v)); }
  static FASTINIT_AI V merge_expand(V z, M, T t, V packed) { return V(_mm512_mask_expand_ps(z.v, t, packed.v)); }
  static FASTINIT_AI V load(const S* p) { return V(_mm512_load_ps(p)); }
  static FASTINIT_AI V loadu(const S* p) { return V(_mm512_loadu_ps(p)); }
  static FASTINIT_AI void store(S* p, V x) { _mm512_store_ps(p, x.v); }
  static FASTINIT_AI void storeu(S* p, V x) { _mm512_storeu_ps(p, x.v); }
};
struct Pack64 {
  using V = VD;
  using M = MD;
  using S = double;
  using T = __mmask8;
  static constexpr int kLanes = 8;
  static FASTINIT_AI V clamp(V u) { return ndtri64_clamp(u); }
  static FASTINIT_AI M central_mask(V u) { return ndtri64_central_mask(u); }
  static FASTINIT_AI void central(V u, V& n, V& d) { ndtri64_central(u, n, d); }
  static FASTINIT_AI void tail(V u, V& n, V& d) { ndtri64_tail(u, n, d); }
  static FASTINIT_AI T tail_bits(M c) { return static_cast<T>(~c.k); }
  static FASTINIT_AI int count(T t) { return __builtin_popcount(t); }
  static FASTINIT_AI V compress(V x, T t) { return V(_mm512_maskz_compress_pd(t, x.v)); }
  static FASTINIT_AI V merge_expand(V z, M, T t, V packed) { return V(_mm512_mask_expand_pd(z.v, t, packed.v)); }
  static FASTINIT_AI V load(const S* p) { return V(_mm512_load_pd(p)); }
  static FASTINIT_AI V loadu(const S* p) { return V(_mm512_loadu_pd(p)); }
  static FASTINIT_AI void store(S* p, V x) { _mm512_store_pd(p, x.v); }
  static FASTINIT_AI void storeu(S* p, V x) { _mm512_storeu_pd(p, x.v); }
};

// docs/STREAM.md on K x 16 words (float32 family) / K x 8 word pairs (float64), exactly
// the operations of value_normal_f32 ... value_trunc_f64 in normal.h.
template <int K>
FASTINIT_AI void normal_f32(const __m512i* x, const FillParams& p, __m512* out) {
  VF u[K], z[K];
  for (int i = 0; i < K; ++i) {
    const __m512i m = _mm512_and_si512(_mm512_srli_epi32(x[i], 8), _mm512_set1_epi32(0x7fffff));
    const __m512i odd = _mm512_or_si512(_mm512_slli_epi32(m, 1), _mm512_set1_epi32(1));  // 2m + 1 < 2^24
    u[i] = VF(_mm512_mul_ps(_mm512_cvtepi32_ps(odd), _mm512_set1_ps(0x1p-25f)));
  }
  ndtri_lower_packed<Pack32, K>(u, z);
  for (int i = 0; i < K; ++i) {
    const MF neg{_mm512_test_epi32_mask(x[i], _mm512_set1_epi32(INT32_MIN))};
    out[i] = normal32_finish(z[i], neg, p).v;
  }
}
template <int K>
FASTINIT_AI void trunc_f32(const __m512i* x, const FillParams& p, __m512* out) {
  VF w[K], z[K];
  MF lower[K];
  for (int i = 0; i < K; ++i) {
    const __m512i odd = _mm512_or_si512(_mm512_slli_epi32(_mm512_srli_epi32(x[i], 9), 1), _mm512_set1_epi32(1));
    const VF U(_mm512_mul_ps(_mm512_cvtepi32_ps(odd), _mm512_set1_ps(0x1p-24f)));
    w[i] = trunc32_start(U, p, lower[i]);
  }
  ndtri_lower_packed<Pack32, K>(w, z);
  for (int i = 0; i < K; ++i) out[i] = trunc32_finish(z[i], lower[i], p).v;
}
template <int K>
FASTINIT_AI void normal_f64(const __m512i* x, const FillParams& p, __m512d* out) {
  VD u[K], z[K];
  for (int i = 0; i < K; ++i) {
    const __m512i m = _mm512_srli_epi64(_mm512_and_si512(x[i], _mm512_set1_epi64(INT64_MAX)), 11);
    const __m512i odd = _mm512_or_si512(_mm512_slli_epi64(m, 1), _mm512_set1_epi64(1));  // 2m + 1 < 2^53
    u[i] = VD(_mm512_mul_pd(_mm512_cvtepu64_pd(odd), _mm512_set1_pd(0x1p-54)));
  }
  ndtri_lower_packed<Pack64, K>(u, z);
  for (int i = 0; i < K; ++i) {
    const MD neg{_mm512_test_epi64_mask(x[i], _mm512_set1_epi64(INT64_MIN))};
    out[i] = normal64_finish(z[i], neg, p).v;
  }
}
template <int K>
FASTINIT_AI void trunc_f64(const __m512i* x, const FillParams& p, __m512d* out) {
  VD w[K], z[K];
  MD lower[K];
  for (int i = 0; i < K; ++i) {
    const __m512i odd = _mm512_or_si512(_mm512_slli_epi64(_mm512_srli_epi64(x[i], 12), 1), _mm512_set1_epi64(1));
    const VD U(_mm512_mul_pd(_mm512_cvtepu64_pd(odd), _mm512_set1_pd(0x1p-53)));
    w[i] = trunc64_start(U, p, lower[i]);
  }
  ndtri_lower_packed<Pack64, K>(w, z);
  for (int i = 0; i < K; ++i) out[i] = trunc64_finish(z[i], lower[i], p).v;
}

// kFolded: the uniform stage's scale arrives multiplied by 2^-24 (float32 family) or 2^-53
// (float64), see value_f32x16.
template <bool kFolded>
struct GroupT {
  static constexpr uint64_t kBlocks = 16 * kSets;
  struct Keys {
    __m512i k0[kPhiloxRounds], k1[kPhiloxRounds];
    explicit Keys(uint64_t seed) {
      uint32_t a = static_cast<uint32_t>(seed), b = static_cast<uint32_t>(seed >> 32);
      for (int r = 0; r < kPhiloxRounds; ++r, a += kPhiloxW0, b += kPhiloxW1) {
        k0[r] = _mm512_set1_epi32(static_cast<int>(a));
        k1[r] = _mm512_set1_epi32(static_cast<int>(b));
      }
    }
  };
  static uintptr_t store_align(int32_t dtype) { return dtype == kFloat16 ? 32 : 64; }
  static void fence() { _mm_sfence(); }

  // Words of blocks [block, block + 16 * kSets) in stream order: w[s][q] holds blocks
  // block + 16s + 4q .. block + 16s + 4q + 3.
  static void generate(const Keys& k, uint64_t block, __m512i w[kSets][4]) {
    const __m512i m0 = _mm512_set1_epi32(static_cast<int>(kPhiloxM0));
    const __m512i m1 = _mm512_set1_epi32(static_cast<int>(kPhiloxM1));
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i c[kSets][4];
    for (int s = 0; s < kSets; ++s) {
      const uint64_t b = block + 16 * s;
      const __m512i lo = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(b)));
      const __m512i c0 = _mm512_add_epi32(lo, lane);
      // A carry into the high word where b + j crosses a multiple of 2^32; block indices
      // live modulo 2^62 (kBlockMask).
      const __mmask16 carry = _mm512_cmplt_epu32_mask(c0, lo);
      const __m512i hi = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(b >> 32)));
      c[s][0] = c0;
      c[s][1] = _mm512_and_si512(_mm512_mask_add_epi32(hi, carry, hi, _mm512_set1_epi32(1)),
                                 _mm512_set1_epi32(static_cast<int>(kBlockHiMask)));
    }
    // Round 0 with counter words 2 and 3 zero (docs/STREAM.md section 2): their product is zero,
    // so c = (c1 ^ k0, 0, hi(M0 c0) ^ k1, lo(M0 c0)).
    for (int s = 0; s < kSets; ++s) {
      __m512i hi0, lo0;
      mulhilo(c[s][0], m0, hi0, lo0);
      c[s][0] = _mm512_xor_si512(c[s][1], k.k0[0]);
      c[s][1] = _mm512_setzero_si512();
      c[s][2] = _mm512_xor_si512(hi0, k.k1[0]);
      c[s][3] = lo0;
    }
    // Fully unrolled so c[][] stays in registers and the sets interleave.
#pragma GCC unroll 10
    for (int r = 1; r < kPhiloxRounds; ++r) {
#pragma GCC unroll 4
      for (int s = 0; s < kSets; ++s) {
        __m512i hi0, lo0, hi1, lo1;
        mulhilo(c[s][0], m0, hi0, lo0);
        mulhilo(c[s][2], m1, hi1, lo1);
        c[s][0] = _mm512_ternarylogic_epi32(hi1, c[s][1], k.k0[r], 0x96);  // three-way xor
        c[s][1] = lo1;
        c[s][2] = _mm512_ternarylogic_epi32(hi0, c[s][3], k.k1[r], 0x96);
        c[s][3] = lo0;
      }
    }
    // 4x16 transpose in two steps of two-source permutes (one port-5 uop each, where
    // unpack + 128-bit shuffles took twice as many): dword pairs (w0, w1) and (w2, w3)
    // of blocks 0-7 and 8-15, then qword pairs into whole blocks.
    const __m512i pair_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i pair_hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512i quad_lo = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
    const __m512i quad_hi = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
    for (int s = 0; s < kSets; ++s) {
      const __m512i t0 = _mm512_permutex2var_epi32(c[s][0], pair_lo, c[s][1]);  // (w0, w1) of blocks 0-7
      const __m512i t1 = _mm512_permutex2var_epi32(c[s][0], pair_hi, c[s][1]);  // blocks 8-15
      const __m512i t2 = _mm512_permutex2var_epi32(c[s][2], pair_lo, c[s][3]);  // (w2, w3) of blocks 0-7
      const __m512i t3 = _mm512_permutex2var_epi32(c[s][2], pair_hi, c[s][3]);
      w[s][0] = _mm512_permutex2var_epi64(t0, quad_lo, t2);  // blocks 0-3
      w[s][1] = _mm512_permutex2var_epi64(t0, quad_hi, t2);  // blocks 4-7
      w[s][2] = _mm512_permutex2var_epi64(t1, quad_lo, t3);
      w[s][3] = _mm512_permutex2var_epi64(t1, quad_hi, t3);
    }
  }

  // The uniform value stage (docs/STREAM.md section 3): v = fma(u, scale, lo) with
  // u = m * 2^-k, m the integer of the word's top bits (k = 24 for float32, 53 for float64),
  // is the exact m * scale * 2^-k + lo rounded once. Where scale * 2^-k is itself exact
  // (unless it underflows; fill_run checks), fma(m, scale * 2^-k, lo) is the same exact
  // sum rounded once: the same bits without u's multiply, one vmulps/vmulpd per vector
  // less (issue 20 item 3). GroupT<true> gets p.scale32 / p.scale64 so multiplied.
  static __m512 value_f32x16(__m512i x, const FillParams& p) {
    __m512 u = _mm512_cvtepi32_ps(_mm512_srli_epi32(x, 8));
    if (!kFolded) u = _mm512_mul_ps(u, _mm512_set1_ps(0x1p-24f));
    const __m512 v = _mm512_fmadd_ps(u, _mm512_set1_ps(p.scale32), _mm512_set1_ps(p.lo32));
    return _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, _mm512_set1_ps(p.top32), _CMP_GE_OQ), _mm512_set1_ps(p.repl32));
  }

  static __m512d value_f64x8(__m512i x, const FillParams& p) {
    // The 53-bit integer is exact in double; vcvtuqq2pd converts it without rounding.
    __m512d u = _mm512_cvtepu64_pd(_mm512_srli_epi64(x, 11));
    if (!kFolded) u = _mm512_mul_pd(u, _mm512_set1_pd(0x1p-53));
    const __m512d v = _mm512_fmadd_pd(u, _mm512_set1_pd(p.scale64), _mm512_set1_pd(p.lo64));
    return _mm512_mask_mov_pd(v, _mm512_cmp_pd_mask(v, _mm512_set1_pd(p.top64), _CMP_GE_OQ), _mm512_set1_pd(p.repl64));
  }

  // Two vectors of float32 to 32 bfloat16, rounded to nearest even: value.h's bf16 rule,
  // (x + 0x7fff + bit 16 of x) >> 16, done on packed 16-bit words. Two two-source word
  // permutes gather the 32 high halves H and the 32 low halves L; H is then rounded up
  // (H + 1, modulo 2^16 as the 32-bit sum carries out) exactly where
  // L + 0x7fff + (H & 1) >= 2^16, i.e. L >= N = ~((H & 1) | 0x7ffe) (0x8001 for even H,
  // 0x8000 for odd): one vpternlogd, one vpcmpuw and one masked vpaddw for 32 values,
  // where the 32-bit rule took four operations for every 16 before its permute (issue 20
  // item 2; benchmarks/bench_philox.cpp's bf16check compares it with value.h's rule on all
  // 2^32 float32 patterns, NaN and subnormals included: no mismatch).
  static __m512i bf16x32(__m512 a, __m512 b) {
    const __m512i high_words = _mm512_setr_epi32(0x00030001, 0x00070005, 0x000b0009, 0x000f000d, 0x00130011, 0x00170015,
                                                 0x001b0019, 0x001f001d, 0x00230021, 0x00270025, 0x002b0029, 0x002f002d,
                                                 0x00330031, 0x00370035, 0x003b0039, 0x003f003d);
    const __m512i low_words = _mm512_setr_epi32(0x00020000, 0x00060004, 0x000a0008, 0x000e000c, 0x00120010, 0x00160014,
                                                 0x001a0018, 0x001e001c, 0x00220020, 0x00260024, 0x002a0028, 0x002e002c,
                                                 0x00320030, 0x00360034, 0x003a0038, 0x003e003c);
    const __m512i xa = _mm512_castps_si512(a), xb = _mm512_castps_si512(b);
    const __m512i h = _mm512_permutex2var_epi16(xa, high_words, xb);
    const __m512i l = _mm512_permutex2var_epi16(xa, low_words, xb);
    // 0x15 is the truth table of ~((A & B) | C) (Intel SDM, VPTERNLOGD: imm = f(0xF0, 0xCC, 0xAA)).
    const __m512i n = _mm512_ternarylogic_epi32(h, _mm512_set1_epi16(1), _mm512_set1_epi16(0x7ffe), 0x15);
    return _mm512_mask_add_epi16(h, _mm512_cmpge_epu16_mask(l, n), h, _mm512_set1_epi16(1));
  }

  static void put512(void* dst, __m512i v, bool nt) {
    if (nt) _mm512_stream_si512(static_cast<__m512i*>(dst), v);
    else _mm512_storeu_si512(dst, v);
  }
  static void put256(void* dst, __m256i v, bool nt) {
    if (nt) _mm256_stream_si256(static_cast<__m256i*>(dst), v);
    else _mm256_storeu_si256(static_cast<__m256i*>(dst), v);
  }

  // The one per-dtype step for the uniform stream: 64 words of one set, in stream order,
  // to storage.
  template <int32_t D>
  static void put_set(const __m512i w[4], const FillParams& p, char* out, bool nt) {
    if (D == kFloat64) {
      for (int q = 0; q < 4; ++q) put512(out + 64 * q, _mm512_castpd_si512(value_f64x8(w[q], p)), nt);
    } else if (D == kFloat32) {
      for (int q = 0; q < 4; ++q) put512(out + 64 * q, _mm512_castps_si512(value_f32x16(w[q], p)), nt);
    } else if (D == kFloat16) {
      for (int q = 0; q < 4; ++q)
        put256(out + 32 * q, _mm512_cvtps_ph(value_f32x16(w[q], p), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), nt);
    } else {
      for (int q = 0; q < 4; q += 2) put512(out + 32 * q, bf16x32(value_f32x16(w[q], p), value_f32x16(w[q + 1], p)), nt);
    }
  }

  // The normal family: all 4 x kSets word vectors of the group through the packed ndtri
  // at once (more vectors per pack, fewer partly filled tail vectors), then stored.
  template <int32_t D, int32_t Dist>
  static void put_group_normal(const __m512i* w, const FillParams& p, char* out, bool nt) {
    constexpr int K = 4 * kSets;
    if (D == kFloat64) {
      __m512d v[K];
      if (Dist == kNormal) normal_f64<K>(w, p, v);
      else trunc_f64<K>(w, p, v);
      for (int q = 0; q < K; ++q) put512(out + 64 * q, _mm512_castpd_si512(v[q]), nt);
      return;
    }
    __m512 v[K];
    if (Dist == kNormal) normal_f32<K>(w, p, v);
    else trunc_f32<K>(w, p, v);
    if (D == kFloat32) {
      for (int q = 0; q < K; ++q) put512(out + 64 * q, _mm512_castps_si512(v[q]), nt);
    } else if (D == kFloat16) {
      for (int q = 0; q < K; ++q)
        put256(out + 32 * q, _mm512_cvtps_ph(v[q], _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), nt);
    } else {
      for (int q = 0; q < K; q += 2) put512(out + 32 * q, bf16x32(v[q], v[q + 1]), nt);
    }
  }

  template <int32_t D, int32_t Dist>
  static void store(const Keys& k, const FillParams& p, uint64_t block, void* dst, bool nt) {
    char* out = static_cast<char*>(dst);
    __m512i w[kSets][4];
    generate(k, block, w);
    if constexpr (Dist == kUniform) {
      for (int s = 0; s < kSets; ++s) put_set<D>(w[s], p, out + s * 4 * (D == kFloat64 ? 64 : 16 * dtype_size(D)), nt);
    } else {
      put_group_normal<D, Dist>(&w[0][0], p, out, nt);
    }
  }
};

using Group = GroupT<false>;

}  // namespace

void fill_run(const FillParams& p, void* dst, uint64_t n, uint64_t first, bool stream) {
  count_kernel_call(kIsaAvx512);
  run_fill<Group, GroupT<true>>(p, dst, n, first, stream);  // the uniform scale folded where exact
}

}  // namespace avx512
}  // namespace fastinit
