// AVX2 + FMA + F16C path (compiled with those flags alone, set per file in CMake).
// Philox runs structure-of-arrays: lane j of c[w] holds word w of block base + j, two
// independent 8-lane sets per step so the multiply latency is hidden. A 4x8 transpose
// then puts the words in stream order before the per-dtype store.
#include <immintrin.h>

#include "kernels.h"
#include "run_driver.h"
#include "ndtri_packed.h"
#include "normal.h"
#include "value.h"

namespace fastinit {
namespace avx2 {
namespace {

constexpr int kSets = 4;

// (hi, lo) = a * m, lane-wise 32x32->64; m is a broadcast multiplier. vpmuludq multiplies
// the even dwords; vpshufd copies the odd ones down first. Within each 128-bit lane the
// products are P = (a0 * m, a2 * m) and Q = (a1 * m, a3 * m).
//
// hi comes out of one vshufps of P and Q, in the lane order (0, 2, 1, 3) of a's ("swapped"),
// where putting it back in a's order took a vpshufd and a vpblendd (issue 20: one permute
// per recombination). lo keeps a's order (vpshufd + vpblendd). Philox xors a round's hi
// with the previous round's lo, so the swap cancels: if a round's multiplied words are in
// order A, its hi is in swap(A) and the lo it xors (made the round before, from words in
// order swap(A), since swap is its own inverse) is in swap(A) too. Every round thus
// alternates the order of the multiplied words, and Group::generate tracks it.
// vshufps ymm is one shuffle op like vpshufd (uops.info: one uop on Intel since Haswell and
// on Zen 2 and later; Intel may add a cycle of bypass latency between the integer and float
// domains, which four sets in flight hide). Zen 5, L1: Philox floor 1.838 -> 1.777 cycles per
// word (benchmarks/results/bench_philox_zen5_layout.txt, with the layouts that lost there).
inline void mulhilo_swap_hi(__m256i a, __m256i m, __m256i& hi, __m256i& lo) {
  const __m256i p = _mm256_mul_epu32(a, m);
  const __m256i q = _mm256_mul_epu32(_mm256_shuffle_epi32(a, 0xF5), m);
  hi = _mm256_castps_si256(_mm256_shuffle_ps(_mm256_castsi256_ps(p), _mm256_castsi256_ps(q), _MM_SHUFFLE(3, 1, 3, 1)));
  lo = _mm256_blend_epi32(p, _mm256_shuffle_epi32(q, 0xA0), 0xAA);
}
// The last round: nothing xors its lo later, so lo may come out swapped too (one vshufps).
inline void mulhilo_swap_both(__m256i a, __m256i m, __m256i& hi, __m256i& lo) {
  const __m256i p = _mm256_mul_epu32(a, m);
  const __m256i q = _mm256_mul_epu32(_mm256_shuffle_epi32(a, 0xF5), m);
  hi = _mm256_castps_si256(_mm256_shuffle_ps(_mm256_castsi256_ps(p), _mm256_castsi256_ps(q), _MM_SHUFFLE(3, 1, 3, 1)));
  lo = _mm256_castps_si256(_mm256_shuffle_ps(_mm256_castsi256_ps(p), _mm256_castsi256_ps(q), _MM_SHUFFLE(2, 0, 2, 0)));
}

// ---- lane types for normal.h's templates: each operation is the scalar one, lane-wise --
#define FASTINIT_AI inline __attribute__((always_inline))

// The one register of each element type and the instructions the lane operations below
// are made of; the operations themselves are written once, over the element type.
template <class T>
struct Lanes;
template <>
struct Lanes<float> {
  using R = __m256;
  static FASTINIT_AI R set1(float c) { return _mm256_set1_ps(c); }
  static FASTINIT_AI R add(R a, R b) { return _mm256_add_ps(a, b); }
  static FASTINIT_AI R sub(R a, R b) { return _mm256_sub_ps(a, b); }
  static FASTINIT_AI R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static FASTINIT_AI R neg(R a) { return _mm256_xor_ps(a, _mm256_set1_ps(-0.0f)); }
  static FASTINIT_AI R fmadd(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static FASTINIT_AI R div(R a, R b) { return _mm256_div_ps(a, b); }
  static FASTINIT_AI R sqrt(R a) { return _mm256_sqrt_ps(a); }
  template <int P>
  static FASTINIT_AI R cmp(R a, R b) { return _mm256_cmp_ps(a, b, P); }
  static FASTINIT_AI R blend(R m, R a, R b) { return _mm256_blendv_ps(b, a, m); }
  static FASTINIT_AI R max(R a, R b) { return _mm256_max_ps(a, b); }
  static FASTINIT_AI R min(R a, R b) { return _mm256_min_ps(a, b); }
  static FASTINIT_AI R or_(R a, R b) { return _mm256_or_ps(a, b); }
  static FASTINIT_AI R and_(R a, R b) { return _mm256_and_ps(a, b); }
  static FASTINIT_AI int movemask(R m) { return _mm256_movemask_ps(m); }
  static constexpr int kAll = 0xff;
};
template <>
struct Lanes<double> {
  using R = __m256d;
  static FASTINIT_AI R set1(double c) { return _mm256_set1_pd(c); }
  static FASTINIT_AI R add(R a, R b) { return _mm256_add_pd(a, b); }
  static FASTINIT_AI R sub(R a, R b) { return _mm256_sub_pd(a, b); }
  static FASTINIT_AI R mul(R a, R b) { return _mm256_mul_pd(a, b); }
  static FASTINIT_AI R neg(R a) { return _mm256_xor_pd(a, _mm256_set1_pd(-0.0)); }
  static FASTINIT_AI R fmadd(R a, R b, R c) { return _mm256_fmadd_pd(a, b, c); }
  static FASTINIT_AI R div(R a, R b) { return _mm256_div_pd(a, b); }
  static FASTINIT_AI R sqrt(R a) { return _mm256_sqrt_pd(a); }
  template <int P>
  static FASTINIT_AI R cmp(R a, R b) { return _mm256_cmp_pd(a, b, P); }
  static FASTINIT_AI R blend(R m, R a, R b) { return _mm256_blendv_pd(b, a, m); }
  static FASTINIT_AI R max(R a, R b) { return _mm256_max_pd(a, b); }
  static FASTINIT_AI R min(R a, R b) { return _mm256_min_pd(a, b); }
  static FASTINIT_AI R or_(R a, R b) { return _mm256_or_pd(a, b); }
  static FASTINIT_AI R and_(R a, R b) { return _mm256_and_pd(a, b); }
  static FASTINIT_AI int movemask(R m) { return _mm256_movemask_pd(m); }
  static constexpr int kAll = 0xf;
};

// N registers per value: the templates' long dependency chains (log, sqrt, division) then
// run N-fold interleaved, which the out-of-order core needs to stay busy.
template <class T, int N>
struct Vec {
  typename Lanes<T>::R v[N];
  Vec() = default;
  Vec(T c) {
    for (int i = 0; i < N; ++i) v[i] = Lanes<T>::set1(c);
  }
};
template <class T, int N>
struct Mask {  // lane masks (all ones / all zeros), one register per register of Vec<T, N>
  typename Lanes<T>::R v[N];
};
template <int N>
using VF = Vec<float, N>;  // 8N floats
template <int N>
using MF = Mask<float, N>;
template <int N>
using VD = Vec<double, N>;  // 4N doubles
template <int N>
using MD = Mask<double, N>;

// r.v[i] = F(x.v[i]...) for each of the value's registers.
template <class R, auto F, class... X>
FASTINIT_AI R lanewise(X... x) {
  R r;
  for (int i = 0; i < static_cast<int>(sizeof(r.v) / sizeof(r.v[0])); ++i) r.v[i] = F(x.v[i]...);
  return r;
}
template <class T, int N>
FASTINIT_AI Vec<T, N> operator+(Vec<T, N> a, Vec<T, N> b) { return lanewise<Vec<T, N>, Lanes<T>::add>(a, b); }
template <class T, int N>
FASTINIT_AI Vec<T, N> operator-(Vec<T, N> a, Vec<T, N> b) { return lanewise<Vec<T, N>, Lanes<T>::sub>(a, b); }
template <class T, int N>
FASTINIT_AI Vec<T, N> operator*(Vec<T, N> a, Vec<T, N> b) { return lanewise<Vec<T, N>, Lanes<T>::mul>(a, b); }
template <class T, int N>
FASTINIT_AI Vec<T, N> operator-(Vec<T, N> a) { return lanewise<Vec<T, N>, Lanes<T>::neg>(a); }
template <class T, int N>
FASTINIT_AI Vec<T, N> fma_v(Vec<T, N> a, Vec<T, N> b, Vec<T, N> c) {
  return lanewise<Vec<T, N>, Lanes<T>::fmadd>(a, b, c);
}
template <class T, int N>
FASTINIT_AI Vec<T, N> div_v(Vec<T, N> a, Vec<T, N> b) { return lanewise<Vec<T, N>, Lanes<T>::div>(a, b); }
template <class T, int N>
FASTINIT_AI Vec<T, N> sqrt_v(Vec<T, N> a) { return lanewise<Vec<T, N>, Lanes<T>::sqrt>(a); }
template <class T, int N>
FASTINIT_AI Mask<T, N> lt(Vec<T, N> a, Vec<T, N> b) {
  return lanewise<Mask<T, N>, Lanes<T>::template cmp<_CMP_LT_OQ>>(a, b);
}
template <class T, int N>
FASTINIT_AI Mask<T, N> le(Vec<T, N> a, Vec<T, N> b) {
  return lanewise<Mask<T, N>, Lanes<T>::template cmp<_CMP_LE_OQ>>(a, b);
}
template <class T, int N>
FASTINIT_AI Mask<T, N> ge(Vec<T, N> a, Vec<T, N> b) {
  return lanewise<Mask<T, N>, Lanes<T>::template cmp<_CMP_GE_OQ>>(a, b);
}
template <class T, int N>
FASTINIT_AI Mask<T, N> gt(Vec<T, N> a, Vec<T, N> b) {
  return lanewise<Mask<T, N>, Lanes<T>::template cmp<_CMP_GT_OQ>>(a, b);
}
template <class T, int N>
FASTINIT_AI Vec<T, N> sel(Mask<T, N> m, Vec<T, N> a, Vec<T, N> b) {
  return lanewise<Vec<T, N>, Lanes<T>::blend>(m, a, b);
}
// maxps / minps: a > b ? a : b and a < b ? a : b, the scalar definitions.
template <class T, int N>
FASTINIT_AI Vec<T, N> max_v(Vec<T, N> a, Vec<T, N> b) { return lanewise<Vec<T, N>, Lanes<T>::max>(a, b); }
template <class T, int N>
FASTINIT_AI Vec<T, N> min_v(Vec<T, N> a, Vec<T, N> b) { return lanewise<Vec<T, N>, Lanes<T>::min>(a, b); }
template <class T, int N>
FASTINIT_AI bool any_v(Mask<T, N> m) {
  typename Lanes<T>::R o = m.v[0];
  for (int i = 1; i < N; ++i) o = Lanes<T>::or_(o, m.v[i]);
  return Lanes<T>::movemask(o) != 0;
}
template <class T, int N>
FASTINIT_AI bool all_v(Mask<T, N> m) {
  typename Lanes<T>::R o = m.v[0];
  for (int i = 1; i < N; ++i) o = Lanes<T>::and_(o, m.v[i]);
  return Lanes<T>::movemask(o) == Lanes<T>::kAll;
}

template <int N> FASTINIT_AI void split_exp32(VF<N> x, VF<N>& k, VF<N>& m) {
  for (int i = 0; i < N; ++i) {
    const __m256i ix = _mm256_add_epi32(_mm256_castps_si256(x.v[i]), _mm256_set1_epi32(0x3f800000 - 0x3f3504f3));
    k.v[i] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(ix, 23), _mm256_set1_epi32(0x7f)));
    m.v[i] = _mm256_castsi256_ps(
        _mm256_add_epi32(_mm256_and_si256(ix, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f3504f3)));
  }
}

// Integers below 2^52 to double, exactly: the bits of 2^52 + n, minus 2^52.
FASTINIT_AI __m256d small_u64_to_f64(__m256i n) {
  return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(n, _mm256_set1_epi64x(0x4330000000000000LL))),
                       _mm256_set1_pd(0x1p52));
}
template <int N> FASTINIT_AI void split_exp64(VD<N> x, VD<N>& k, VD<N>& m) {
  for (int i = 0; i < N; ++i) {
    const __m256i ix = _mm256_add_epi64(_mm256_castpd_si256(x.v[i]),
                                        _mm256_set1_epi64x(0x3ff0000000000000LL - 0x3fe6a09e667f3bcdLL));
    k.v[i] = _mm256_sub_pd(small_u64_to_f64(_mm256_srli_epi64(ix, 52)), _mm256_set1_pd(1023.0));
    m.v[i] = _mm256_castsi256_pd(_mm256_add_epi64(_mm256_and_si256(ix, _mm256_set1_epi64x(0x000fffffffffffffLL)),
                                                  _mm256_set1_epi64x(0x3fe6a09e667f3bcdLL)));
  }
}

// ---- lane traits for ndtri_packed.h (the tail on packed lanes only) ---------------------
// AVX2 has no compress/expand instruction: vpermps with a permutation chosen by the
// 8-bit tail mask from a table does both.

// Lane permutation tables for an 8-lane mask m (bit j: lane j is a tail lane):
// compress[m] lists the set lanes first; expand[m][j] is the rank of lane j among them.
// For 4 double lanes, each lane is a pair of 32-bit lanes (m has 4 bits).
struct PackTables {
  uint8_t compress32[256][8], expand32[256][8], count32[256];
  uint8_t compress64[16][8], expand64[16][8], count64[16];
  constexpr PackTables() : compress32(), expand32(), count32(), compress64(), expand64(), count64() {
    for (int m = 0; m < 256; ++m) {
      int n = 0;
      for (int j = 0; j < 8; ++j) {
        if (m >> j & 1) compress32[m][n++] = static_cast<uint8_t>(j);
      }
      for (int j = n, k = 0; j < 8; ++j, ++k) compress32[m][j] = 0;
      count32[m] = static_cast<uint8_t>(n);
      int r = 0;
      for (int j = 0; j < 8; ++j) {
        expand32[m][j] = static_cast<uint8_t>(m >> j & 1 ? r : 0);
        if (m >> j & 1) ++r;
      }
    }
    for (int m = 0; m < 16; ++m) {
      int n = 0;
      for (int j = 0; j < 4; ++j) {
        if (m >> j & 1) {
          compress64[m][2 * n] = static_cast<uint8_t>(2 * j);
          compress64[m][2 * n + 1] = static_cast<uint8_t>(2 * j + 1);
          ++n;
        }
      }
      count64[m] = static_cast<uint8_t>(n);
      int r = 0;
      for (int j = 0; j < 4; ++j) {
        expand64[m][2 * j] = static_cast<uint8_t>(m >> j & 1 ? 2 * r : 0);
        expand64[m][2 * j + 1] = static_cast<uint8_t>(m >> j & 1 ? 2 * r + 1 : 1);
        if (m >> j & 1) ++r;
      }
    }
  }
};
alignas(64) constexpr PackTables kPack{};

FASTINIT_AI __m256i pack_index(const uint8_t* row) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row)));
}

struct Lanes32 {
  using V = VF<1>;
  using M = MF<1>;
  using S = float;
  using T = int;
  static constexpr int kLanes = 8;
  static FASTINIT_AI V clamp(V u) { return ndtri32_clamp(u); }
  static FASTINIT_AI M central_mask(V u) { return ndtri32_central_mask(u); }
  static FASTINIT_AI void central(V u, V& n, V& d) { ndtri32_central(u, n, d); }
  static FASTINIT_AI void tail(V u, V& n, V& d) { ndtri32_tail(u, n, d); }
  static FASTINIT_AI int tail_bits(M c) { return ~_mm256_movemask_ps(c.v[0]) & 0xff; }
  static FASTINIT_AI int count(int t) { return kPack.count32[t]; }
  static FASTINIT_AI V compress(V x, int t) {
    V r;
    r.v[0] = _mm256_permutevar8x32_ps(x.v[0], pack_index(kPack.compress32[t]));
    return r;
  }
  static FASTINIT_AI V merge_expand(V z, M central, int t, V packed) {
    V r;
    r.v[0] = _mm256_permutevar8x32_ps(packed.v[0], pack_index(kPack.expand32[t]));
    return sel(central, z, r);
  }
  static FASTINIT_AI V load(const S* p) {
    V r;
    r.v[0] = _mm256_load_ps(p);
    return r;
  }
  static FASTINIT_AI V loadu(const S* p) {
    V r;
    r.v[0] = _mm256_loadu_ps(p);
    return r;
  }
  static FASTINIT_AI void store(S* p, V x) { _mm256_store_ps(p, x.v[0]); }
  static FASTINIT_AI void storeu(S* p, V x) { _mm256_storeu_ps(p, x.v[0]); }
};

struct Lanes64 {
  using V = VD<1>;
  using M = MD<1>;
  using S = double;
  using T = int;
  static constexpr int kLanes = 4;
  static FASTINIT_AI V clamp(V u) { return ndtri64_clamp(u); }
  static FASTINIT_AI M central_mask(V u) { return ndtri64_central_mask(u); }
  static FASTINIT_AI void central(V u, V& n, V& d) { ndtri64_central(u, n, d); }
  static FASTINIT_AI void tail(V u, V& n, V& d) { ndtri64_tail(u, n, d); }
  static FASTINIT_AI int tail_bits(M c) { return ~_mm256_movemask_pd(c.v[0]) & 0xf; }
  static FASTINIT_AI int count(int t) { return kPack.count64[t]; }
  static FASTINIT_AI V permute(V x, const uint8_t* row) {
    V r;
    r.v[0] = _mm256_castps_pd(_mm256_permutevar8x32_ps(_mm256_castpd_ps(x.v[0]), pack_index(row)));
    return r;
  }
  static FASTINIT_AI V compress(V x, int t) { return permute(x, kPack.compress64[t]); }
  static FASTINIT_AI V merge_expand(V z, M central, int t, V packed) {
    return sel(central, z, permute(packed, kPack.expand64[t]));
  }
  static FASTINIT_AI V load(const S* p) {
    V r;
    r.v[0] = _mm256_load_pd(p);
    return r;
  }
  static FASTINIT_AI V loadu(const S* p) {
    V r;
    r.v[0] = _mm256_loadu_pd(p);
    return r;
  }
  static FASTINIT_AI void store(S* p, V x) { _mm256_store_pd(p, x.v[0]); }
  static FASTINIT_AI void storeu(S* p, V x) { _mm256_storeu_pd(p, x.v[0]); }
};

// docs/STREAM.md on K x 8 words (float32 family) / K x 4 word pairs (float64), exactly
// the operations of value_normal_f32 ... value_trunc_f64 in normal.h.
template <int K>
FASTINIT_AI void normal_f32(const __m256i* x, const FillParams& p, __m256* out) {
  VF<1> u[K], z[K];
  for (int i = 0; i < K; ++i) {
    const __m256i m = _mm256_and_si256(_mm256_srli_epi32(x[i], 8), _mm256_set1_epi32(0x7fffff));
    const __m256i odd = _mm256_or_si256(_mm256_slli_epi32(m, 1), _mm256_set1_epi32(1));  // 2m + 1 < 2^24
    u[i].v[0] = _mm256_mul_ps(_mm256_cvtepi32_ps(odd), _mm256_set1_ps(0x1p-25f));
  }
  ndtri_lower_packed<Lanes32, K>(u, z);
  for (int i = 0; i < K; ++i) {
    const MF<1> neg{{_mm256_castsi256_ps(_mm256_srai_epi32(x[i], 31))}};
    out[i] = normal32_finish(z[i], neg, p).v[0];
  }
}
template <int K>
FASTINIT_AI void trunc_f32(const __m256i* x, const FillParams& p, __m256* out) {
  VF<1> w[K], z[K];
  MF<1> lower[K];
  for (int i = 0; i < K; ++i) {
    const __m256i odd = _mm256_or_si256(_mm256_slli_epi32(_mm256_srli_epi32(x[i], 9), 1), _mm256_set1_epi32(1));
    VF<1> U;
    U.v[0] = _mm256_mul_ps(_mm256_cvtepi32_ps(odd), _mm256_set1_ps(0x1p-24f));
    w[i] = trunc32_start(U, p, lower[i]);
  }
  ndtri_lower_packed<Lanes32, K>(w, z);
  for (int i = 0; i < K; ++i) out[i] = trunc32_finish(z[i], lower[i], p).v[0];
}
template <int K>
FASTINIT_AI void normal_f64(const __m256i* x, const FillParams& p, __m256d* out) {
  VD<1> u[K], z[K];
  for (int i = 0; i < K; ++i) {
    const __m256i m = _mm256_srli_epi64(_mm256_and_si256(x[i], _mm256_set1_epi64x(0x7fffffffffffffffLL)), 11);
    // (2m + 1) 2^-54 = m 2^-53 + 2^-54, exact either way (2m + 1 < 2^53).
    u[i].v[0] = _mm256_fmadd_pd(small_u64_to_f64(m), _mm256_set1_pd(0x1p-53), _mm256_set1_pd(0x1p-54));
  }
  ndtri_lower_packed<Lanes64, K>(u, z);
  for (int i = 0; i < K; ++i) {
    const MD<1> neg{{_mm256_castsi256_pd(_mm256_cmpgt_epi64(_mm256_setzero_si256(), x[i]))}};
    out[i] = normal64_finish(z[i], neg, p).v[0];
  }
}
template <int K>
FASTINIT_AI void trunc_f64(const __m256i* x, const FillParams& p, __m256d* out) {
  VD<1> w[K], z[K];
  MD<1> lower[K];
  for (int i = 0; i < K; ++i) {
    VD<1> U;
    U.v[0] = _mm256_fmadd_pd(small_u64_to_f64(_mm256_srli_epi64(x[i], 12)), _mm256_set1_pd(0x1p-52),
                             _mm256_set1_pd(0x1p-53));
    w[i] = trunc64_start(U, p, lower[i]);
  }
  ndtri_lower_packed<Lanes64, K>(w, z);
  for (int i = 0; i < K; ++i) out[i] = trunc64_finish(z[i], lower[i], p).v[0];
}

// kFolded: the uniform stage's scale arrives multiplied by 2^-24 (float32 family) or 2^-53
// (float64), see value_f32x8.
template <bool kFolded>
struct GroupT {
  static constexpr uint64_t kBlocks = 8 * kSets;
  struct Keys {
    __m256i k0[kPhiloxRounds], k1[kPhiloxRounds];
    explicit Keys(uint64_t seed) {
      uint32_t a = static_cast<uint32_t>(seed), b = static_cast<uint32_t>(seed >> 32);
      for (int r = 0; r < kPhiloxRounds; ++r, a += kPhiloxW0, b += kPhiloxW1) {
        k0[r] = _mm256_set1_epi32(static_cast<int>(a));
        k1[r] = _mm256_set1_epi32(static_cast<int>(b));
      }
    }
  };
  static uintptr_t store_align(int32_t dtype) { return dtype == kFloat16 ? 16 : 32; }
  static void fence() { _mm_sfence(); }

  // Words of blocks [block, block + 8 * kSets) in stream order: w[s][q] holds blocks
  // block + 8s + 2q and block + 8s + 2q + 1.
  //
  // Lane orders (see mulhilo_swap_hi): "swapped" means blocks (0, 2, 1, 3) in each 128-bit
  // lane. Round 0 multiplies counter word 0 swapped, so its hi (and the new words 0 and 2)
  // come out in block order and its lo (word 3) swapped; word 1 of the counter enters
  // unswapped. From then on words 0 and 2 alternate between block order (after even
  // rounds) and swapped (after odd rounds), words 1 and 3 are always in the other order,
  // and the last round (9) leaves all four swapped, which the transpose undoes for free.
  static void generate(const Keys& k, uint64_t block, __m256i w[kSets][4]) {
    const __m256i m0 = _mm256_set1_epi32(static_cast<int>(kPhiloxM0));
    const __m256i m1 = _mm256_set1_epi32(static_cast<int>(kPhiloxM1));
    const __m256i sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i lane_swapped = _mm256_setr_epi32(0, 2, 1, 3, 4, 6, 5, 7);
    __m256i c[kSets][4];
    for (int s = 0; s < kSets; ++s) {
      const uint64_t b = block + 8 * s;
      const __m256i lo = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(b)));
      const __m256i c0 = _mm256_add_epi32(lo, lane);
      // A carry into the high word where b + j crosses a multiple of 2^32 (unsigned c0 < lo);
      // block indices live modulo 2^62 (kBlockMask).
      const __m256i carry = _mm256_cmpgt_epi32(_mm256_xor_si256(lo, sign), _mm256_xor_si256(c0, sign));
      c[s][0] = _mm256_add_epi32(lo, lane_swapped);
      c[s][1] = _mm256_and_si256(_mm256_sub_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(b >> 32))), carry),
                                 _mm256_set1_epi32(static_cast<int>(kBlockHiMask)));
    }
    // Round 0 with counter words 2 and 3 zero (docs/STREAM.md section 2): their product is zero,
    // so c = (c1 ^ k0, 0, hi(M0 c0) ^ k1, lo(M0 c0)).
    for (int s = 0; s < kSets; ++s) {
      __m256i hi0, lo0;
      mulhilo_swap_hi(c[s][0], m0, hi0, lo0);
      c[s][0] = _mm256_xor_si256(c[s][1], k.k0[0]);
      c[s][1] = _mm256_setzero_si256();
      c[s][2] = _mm256_xor_si256(hi0, k.k1[0]);
      c[s][3] = lo0;
    }
    // Fully unrolled so c[][] stays in registers and the sets interleave.
#pragma GCC unroll 10
    for (int r = 1; r < kPhiloxRounds; ++r) {
#pragma GCC unroll 4
      for (int s = 0; s < kSets; ++s) {
        __m256i hi0, lo0, hi1, lo1;
        if (r + 1 < kPhiloxRounds) {
          mulhilo_swap_hi(c[s][0], m0, hi0, lo0);
          mulhilo_swap_hi(c[s][2], m1, hi1, lo1);
        } else {
          mulhilo_swap_both(c[s][0], m0, hi0, lo0);
          mulhilo_swap_both(c[s][2], m1, hi1, lo1);
        }
        c[s][0] = _mm256_xor_si256(_mm256_xor_si256(hi1, c[s][1]), k.k0[r]);
        c[s][1] = lo1;
        c[s][2] = _mm256_xor_si256(_mm256_xor_si256(hi0, c[s][3]), k.k1[r]);
        c[s][3] = lo0;
      }
    }
    // All four words are swapped: lane j of the first three unpacks holds blocks (0, 2, 1, 3)[j],
    // so u0..u3 hold blocks 0|4, 2|6, 1|5, 3|7 and the 128-bit permutes pair them up.
    for (int s = 0; s < kSets; ++s) {
      const __m256i t0 = _mm256_unpacklo_epi32(c[s][0], c[s][1]);
      const __m256i t1 = _mm256_unpackhi_epi32(c[s][0], c[s][1]);
      const __m256i t2 = _mm256_unpacklo_epi32(c[s][2], c[s][3]);
      const __m256i t3 = _mm256_unpackhi_epi32(c[s][2], c[s][3]);
      const __m256i u0 = _mm256_unpacklo_epi64(t0, t2);  // blocks 0 | 4
      const __m256i u1 = _mm256_unpackhi_epi64(t0, t2);  // blocks 2 | 6
      const __m256i u2 = _mm256_unpacklo_epi64(t1, t3);  // blocks 1 | 5
      const __m256i u3 = _mm256_unpackhi_epi64(t1, t3);  // blocks 3 | 7
      w[s][0] = _mm256_permute2x128_si256(u0, u2, 0x20);
      w[s][1] = _mm256_permute2x128_si256(u1, u3, 0x20);
      w[s][2] = _mm256_permute2x128_si256(u0, u2, 0x31);
      w[s][3] = _mm256_permute2x128_si256(u1, u3, 0x31);
    }
  }

  // The float32 formula (docs/STREAM.md section 3) on 8 words, with the upper-bound rule.
  // v = fma(u, scale, lo) with u = m * 2^-k, m the integer of the word's top bits (k = 24
  // for float32, 53 for float64), is the exact m * scale * 2^-k + lo rounded once. Where
  // scale * 2^-k is itself exact (unless it underflows; fill_run checks), fma(m,
  // scale * 2^-k, lo) is the same exact sum rounded once: the same bits without u's
  // multiply, one vmulps/vmulpd per vector less (issue 20 item 3). GroupT<true> gets
  // p.scale32 / p.scale64 so multiplied.
  static __m256 value_f32x8(__m256i x, const FillParams& p) {
    __m256 u = _mm256_cvtepi32_ps(_mm256_srli_epi32(x, 8));
    if (!kFolded) u = _mm256_mul_ps(u, _mm256_set1_ps(0x1p-24f));
    const __m256 v = _mm256_fmadd_ps(u, _mm256_set1_ps(p.scale32), _mm256_set1_ps(p.lo32));
    return _mm256_blendv_ps(v, _mm256_set1_ps(p.repl32), _mm256_cmp_ps(v, _mm256_set1_ps(p.top32), _CMP_GE_OQ));
  }

  // The float64 formula on 4 word pairs (low word first in each 64-bit lane).
  static __m256d value_f64x4(__m256i x, const FillParams& p) {
    // 53-bit integer to double without AVX-512DQ: both halves exact via the 2^52 trick.
    const __m256i m = _mm256_srli_epi64(x, 11);
    const __m256i magic = _mm256_set1_epi64x(0x4330000000000000LL);
    const __m256d two52 = _mm256_set1_pd(0x1p52);
    const __m256d hi = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(m, 32), magic)), two52);
    const __m256d lo = _mm256_sub_pd(
        _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(m, _mm256_set1_epi64x(0xffffffffLL)), magic)), two52);
    __m256d u = _mm256_fmadd_pd(hi, _mm256_set1_pd(0x1p32), lo);
    if (!kFolded) u = _mm256_mul_pd(u, _mm256_set1_pd(0x1p-53));
    const __m256d v = _mm256_fmadd_pd(u, _mm256_set1_pd(p.scale64), _mm256_set1_pd(p.lo64));
    return _mm256_blendv_pd(v, _mm256_set1_pd(p.repl64), _mm256_cmp_pd(v, _mm256_set1_pd(p.top64), _CMP_GE_OQ));
  }

  // Two vectors of float32 to 16 bfloat16, rounded to nearest even (value.h's bf16 rule).
  // One vpackusdw + one vpermq per 16 values, where packing each vector with itself took
  // both for every 8 (/work/shared/perf-analysis/REPORT.md section 2: the shuffle pipes
  // are Philox's bottleneck). The rounded values are <= 0xffff, so the signed-to-unsigned
  // saturation of vpackusdw never engages.
  static __m256i bf16_rounded(__m256 v) {
    const __m256i x = _mm256_castps_si256(v);
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
    return _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7fff)), odd), 16);
  }
  static __m256i bf16x16(__m256 a, __m256 b) {
    // packus interleaves 128-bit halves: (a0-3, b0-3, a4-7, b4-7); vpermq puts them in order.
    return _mm256_permute4x64_epi64(_mm256_packus_epi32(bf16_rounded(a), bf16_rounded(b)), 0xD8);
  }

  static void put256(void* dst, __m256i v, bool nt) {
    if (nt) _mm256_stream_si256(static_cast<__m256i*>(dst), v);
    else _mm256_storeu_si256(static_cast<__m256i*>(dst), v);
  }
  static void put128(void* dst, __m128i v, bool nt) {
    if (nt) _mm_stream_si128(static_cast<__m128i*>(dst), v);
    else _mm_storeu_si128(static_cast<__m128i*>(dst), v);
  }

  // The one per-dtype step for the uniform stream: 32 words of one set, in stream order,
  // to storage.
  template <int32_t D>
  static void put_set(const __m256i w[4], const FillParams& p, char* out, bool nt) {
    if (D == kFloat64) {
      for (int q = 0; q < 4; ++q) put256(out + 32 * q, _mm256_castpd_si256(value_f64x4(w[q], p)), nt);
    } else if (D == kFloat32) {
      for (int q = 0; q < 4; ++q) put256(out + 32 * q, _mm256_castps_si256(value_f32x8(w[q], p)), nt);
    } else if (D == kFloat16) {
      for (int q = 0; q < 4; ++q)
        put128(out + 16 * q, _mm256_cvtps_ph(value_f32x8(w[q], p), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), nt);
    } else {
      for (int q = 0; q < 4; q += 2) put256(out + 16 * q, bf16x16(value_f32x8(w[q], p), value_f32x8(w[q + 1], p)), nt);
    }
  }

  // The normal family: all 4 x kSets words vectors of the group through the packed ndtri
  // at once (more vectors per pack, fewer partly filled tail vectors), then stored.
  template <int32_t D, int32_t Dist>
  static void put_group_normal(const __m256i* w, const FillParams& p, char* out, bool nt) {
    constexpr int K = 4 * kSets;
    if (D == kFloat64) {
      __m256d v[K];
      if (Dist == kNormal) normal_f64<K>(w, p, v);
      else trunc_f64<K>(w, p, v);
      for (int q = 0; q < K; ++q) put256(out + 32 * q, _mm256_castpd_si256(v[q]), nt);
      return;
    }
    __m256 v[K];
    if (Dist == kNormal) normal_f32<K>(w, p, v);
    else trunc_f32<K>(w, p, v);
    if (D == kFloat32) {
      for (int q = 0; q < K; ++q) put256(out + 32 * q, _mm256_castps_si256(v[q]), nt);
    } else if (D == kFloat16) {
      for (int q = 0; q < K; ++q)
        put128(out + 16 * q, _mm256_cvtps_ph(v[q], _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), nt);
    } else {
      for (int q = 0; q < K; q += 2) put256(out + 16 * q, bf16x16(v[q], v[q + 1]), nt);
    }
  }

  template <int32_t D, int32_t Dist>
  static void store(const Keys& k, const FillParams& p, uint64_t block, void* dst, bool nt) {
    char* out = static_cast<char*>(dst);
    __m256i w[kSets][4];
    generate(k, block, w);
    if constexpr (Dist == kUniform) {
      for (int s = 0; s < kSets; ++s) put_set<D>(w[s], p, out + s * 4 * (D == kFloat64 ? 32 : 8 * dtype_size(D)), nt);
    } else {
      put_group_normal<D, Dist>(&w[0][0], p, out, nt);
    }
  }
};

using Group = GroupT<false>;

}  // namespace

void fill_run(const FillParams& p, void* dst, uint64_t n, uint64_t first, bool stream) {
  count_kernel_call(kIsaAvx2);
  run_fill<Group, GroupT<true>>(p, dst, n, first, stream);  // the uniform scale folded where exact
}

}  // namespace avx2
}  // namespace fastinit
