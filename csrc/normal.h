// The normal and truncated-normal streams of docs/STREAM.md, and the deterministic
// elementary functions they rest on. Only static inline (host + device) code: every
// translation unit gets a private copy compiled with its own ISA flags.
//
// Every floating-point step is one IEEE 754 operation with round-to-nearest-even:
// + - * / sqrt (correctly rounded everywhere, __fdiv_rn / __fsqrt_rn ... on CUDA) and
// explicit fma. No libm call appears in any value, so the scalar path, the AVX2 and
// AVX-512 paths (which run these very templates on vector wrapper types) and CUDA give
// the same bits.
//
// The algorithms are written once as templates over a "lane" type V with a mask type:
// V = float / double and mask = bool on the scalar path and on CUDA; the SIMD paths
// instantiate them with their own wrapper types, whose operations (found by argument-
// dependent lookup) are the same IEEE operations lane-wise. Branches are written as
//   compute the common case; if (!all_v(mask)) { compute the other case; blend }
// which on a scalar is an ordinary branch, and on a vector computes each needed branch
// with the scalar's exact operation sequence and selects per lane: bit-identical.
//
// Primitives every lane type provides (scalar versions below):
//   a + b, a - b, a * b, -a             IEEE, round to nearest even
//   fma_v(a, b, c)                      a * b + c, one rounding
//   div_v(a, b), sqrt_v(a)              IEEE, correctly rounded
//   lt / le / ge / gt(a, b) -> mask     ordered comparisons (false if NaN)
//   sel(m, a, b)                        m ? a : b
//   max_v(a, b) = a > b ? a : b         (x86 maxps semantics: b if either is NaN)
//   min_v(a, b) = a < b ? a : b
//   any_v(m), all_v(m)
//   split_exp32(x, k, m) / split_exp64  exact integer work, see below
#ifndef FASTINIT_NORMAL_H_
#define FASTINIT_NORMAL_H_

#include <cstdint>
#include <cstring>

#include "fill.h"
#include "value.h"

// The templates below are always inlined into their callers on the host: a SIMD path
// calls them on multi-register lane types, where an out-of-line call would pass every
// value through memory.
#if defined(__CUDACC__)
#define FASTINIT_HDI FASTINIT_HD
#else
#define FASTINIT_HDI static inline __attribute__((always_inline))
#endif

namespace fastinit {

// ---- scalar lane type ------------------------------------------------------------------

FASTINIT_HD float fma_v(float a, float b, float c) { return fma_f32(a, b, c); }
FASTINIT_HD double fma_v(double a, double b, double c) { return fma_f64(a, b, c); }
FASTINIT_HD float div_v(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
FASTINIT_HD double div_v(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __ddiv_rn(a, b);
#else
  return a / b;
#endif
}
FASTINIT_HD float sqrt_v(float a) {
#if defined(__CUDA_ARCH__)
  return __fsqrt_rn(a);
#else
  return std::sqrt(a);
#endif
}
FASTINIT_HD double sqrt_v(double a) {
#if defined(__CUDA_ARCH__)
  return __dsqrt_rn(a);
#else
  return std::sqrt(a);
#endif
}
FASTINIT_HD bool lt(float a, float b) { return a < b; }
FASTINIT_HD bool le(float a, float b) { return a <= b; }
FASTINIT_HD bool ge(float a, float b) { return a >= b; }
FASTINIT_HD bool gt(float a, float b) { return a > b; }
FASTINIT_HD bool lt(double a, double b) { return a < b; }
FASTINIT_HD bool le(double a, double b) { return a <= b; }
FASTINIT_HD bool ge(double a, double b) { return a >= b; }
FASTINIT_HD bool gt(double a, double b) { return a > b; }
FASTINIT_HD float sel(bool m, float a, float b) { return m ? a : b; }
FASTINIT_HD double sel(bool m, double a, double b) { return m ? a : b; }
FASTINIT_HD float max_v(float a, float b) { return a > b ? a : b; }
FASTINIT_HD double max_v(double a, double b) { return a > b ? a : b; }
FASTINIT_HD float min_v(float a, float b) { return a < b ? a : b; }
FASTINIT_HD double min_v(double a, double b) { return a < b ? a : b; }
FASTINIT_HD bool any_v(bool m) { return m; }
FASTINIT_HD bool all_v(bool m) { return m; }

#if defined(__CUDACC__)
// ---- CUDA lane type ----------------------------------------------------------------------
// The CUDA build runs the templates on RnLane<float / double>: every + - * is one
// explicitly rounded operation (value.h's add_rn ...: __fadd_rn, __dmul_rn ... on the
// device), so no multiply and add can be contracted into an fma and the bits do not rest
// on --fmad=false. The other primitives are the scalar ones.
template <class T>
struct RnLane {
  T v;
  RnLane() = default;
  __host__ __device__ RnLane(T x) : v(x) {}
};
template <class T>
FASTINIT_HD RnLane<T> operator+(RnLane<T> a, RnLane<T> b) { return RnLane<T>(add_rn(a.v, b.v)); }
template <class T>
FASTINIT_HD RnLane<T> operator-(RnLane<T> a, RnLane<T> b) { return RnLane<T>(sub_rn(a.v, b.v)); }
template <class T>
FASTINIT_HD RnLane<T> operator*(RnLane<T> a, RnLane<T> b) { return RnLane<T>(mul_rn(a.v, b.v)); }
template <class T>
FASTINIT_HD RnLane<T> operator-(RnLane<T> a) { return RnLane<T>(-a.v); }
template <class T>
FASTINIT_HD RnLane<T> fma_v(RnLane<T> a, RnLane<T> b, RnLane<T> c) { return RnLane<T>(fma_v(a.v, b.v, c.v)); }
template <class T>
FASTINIT_HD RnLane<T> div_v(RnLane<T> a, RnLane<T> b) { return RnLane<T>(div_v(a.v, b.v)); }
template <class T>
FASTINIT_HD RnLane<T> sqrt_v(RnLane<T> a) { return RnLane<T>(sqrt_v(a.v)); }
template <class T>
FASTINIT_HD bool lt(RnLane<T> a, RnLane<T> b) { return lt(a.v, b.v); }
template <class T>
FASTINIT_HD bool le(RnLane<T> a, RnLane<T> b) { return le(a.v, b.v); }
template <class T>
FASTINIT_HD bool ge(RnLane<T> a, RnLane<T> b) { return ge(a.v, b.v); }
template <class T>
FASTINIT_HD bool gt(RnLane<T> a, RnLane<T> b) { return gt(a.v, b.v); }
template <class T>
FASTINIT_HD RnLane<T> sel(bool m, RnLane<T> a, RnLane<T> b) { return m ? a : b; }
template <class T>
FASTINIT_HD RnLane<T> max_v(RnLane<T> a, RnLane<T> b) { return RnLane<T>(max_v(a.v, b.v)); }
template <class T>
FASTINIT_HD RnLane<T> min_v(RnLane<T> a, RnLane<T> b) { return RnLane<T>(min_v(a.v, b.v)); }
using LaneF = RnLane<float>;
using LaneD = RnLane<double>;
FASTINIT_HD float lane_value(LaneF x) { return x.v; }
FASTINIT_HD double lane_value(LaneD x) { return x.v; }
#else
using LaneF = float;
using LaneD = double;
#endif
FASTINIT_HD float lane_value(float x) { return x; }
FASTINIT_HD double lane_value(double x) { return x; }

FASTINIT_HD uint64_t f64_bits(double d) {
  uint64_t b;
  memcpy(&b, &d, 8);
  return b;
}
FASTINIT_HD double bits_f64(uint64_t b) {
  double d;
  memcpy(&d, &b, 8);
  return d;
}

// x = 2^k * m with m in [sqrt(1/2), sqrt(2)) for normal positive x, on the bit pattern
// (musl's logf/log reduction): adding 1.0's bits minus sqrt(1/2)'s carries into the
// exponent exactly when the mantissa is >= sqrt(2). k is an integer, exact as a float.
// Other inputs give some finite k and m (no trap, no UB); callers never pass them.
FASTINIT_HD void split_exp32(float x, float& k, float& m) {
  const uint32_t ix = f32_to_bits(x) + (0x3f800000u - 0x3f3504f3u);
  k = static_cast<float>(static_cast<int32_t>(ix >> 23) - 0x7f);
  m = bits_to_f32((ix & 0x007fffffu) + 0x3f3504f3u);
}
FASTINIT_HD void split_exp64(double x, double& k, double& m) {
  const uint64_t ix = f64_bits(x) + (0x3ff0000000000000ull - 0x3fe6a09e667f3bcdull);
  k = static_cast<double>(static_cast<int64_t>(ix >> 52) - 0x3ff);
  m = bits_f64((ix & 0x000fffffffffffffull) + 0x3fe6a09e667f3bcdull);
}
#if defined(__CUDACC__)
FASTINIT_HD void split_exp32(LaneF x, LaneF& k, LaneF& m) { split_exp32(x.v, k.v, m.v); }
FASTINIT_HD void split_exp64(LaneD x, LaneD& k, LaneD& m) { split_exp64(x.v, k.v, m.v); }
#endif

// ---- logarithms ------------------------------------------------------------------------

// log32: natural log for finite x > 0 (subnormals included), float32.
// Reduction x = 2^k m, m in [sqrt(1/2), sqrt(2)), f = m - 1 (exact, Sterbenz); then
// Cephes logf (S. L. Moshier, Cephes Math Library 2.x, logf.c): log(1 + f) =
// f - f^2/2 + f^3 P(f) with a degree-8 minimax P, and k ln2 added in two parts
// (0.693359375 exact in few bits, -2.12194440e-4 the rest). Every multiply-add is an
// explicit fma. Measured (tests/test_normal_kernels.py, against float64 log): at most
// 1 ulp on [2^-149, 2^128).
template <class V>
FASTINIT_HDI V log32_g(V x) {
  const auto sub = lt(x, V(0x1p-126f));  // subnormal: scale into the normal range first
  x = sel(sub, x * V(0x1p25f), x);
  V k, m;
  split_exp32(x, k, m);
  k = sel(sub, k - V(25.0f), k);
  const V f = m - V(1.0f);
  const V z = f * f;
  V y = V(7.0376836292e-2f);
  y = fma_v(y, f, V(-1.1514610310e-1f));
  y = fma_v(y, f, V(1.1676998740e-1f));
  y = fma_v(y, f, V(-1.2420140846e-1f));
  y = fma_v(y, f, V(1.4249322787e-1f));
  y = fma_v(y, f, V(-1.6668057665e-1f));
  y = fma_v(y, f, V(2.0000714765e-1f));
  y = fma_v(y, f, V(-2.4999993993e-1f));
  y = fma_v(y, f, V(3.3333331174e-1f));
  y = f * (z * y);
  y = fma_v(k, V(-2.12194440e-4f), y);
  y = fma_v(V(-0.5f), z, y);
  const V r = f + y;
  return fma_v(k, V(0.693359375f), r);
}

// log64: natural log for finite x > 0 (subnormals included), float64.
// Same reduction; then fdlibm's e_log.c (Sun Microsystems, 1993): s = f / (2 + f),
// log(1 + f) = f - (hfsq - s (hfsq + R(s^2))), R a degree-14 even minimax polynomial
// (Lg1..Lg7, error < 2^-58.45), and k ln2 as ln2_hi (exact products) + ln2_lo. Horner
// steps as explicit fma. Measured: at most 1 ulp against a 64-bit-mantissa reference.
template <class V>
FASTINIT_HDI V log64_g(V x) {
  const auto sub = lt(x, V(0x1p-1022));
  x = sel(sub, x * V(0x1p54), x);
  V k, m;
  split_exp64(x, k, m);
  k = sel(sub, k - V(54.0), k);
  const V f = m - V(1.0);
  const V hfsq = (V(0.5) * f) * f;
  const V s = div_v(f, V(2.0) + f);
  const V z = s * s;
  const V w = z * z;
  const V t1 = w * fma_v(w, fma_v(w, V(1.531383769920937332e-01), V(2.222219843214978396e-01)),
                         V(3.999999999940941908e-01));
  const V t2 = z * fma_v(w, fma_v(w, fma_v(w, V(1.479819860511658591e-01), V(1.818357216161805012e-01)),
                                  V(2.857142874366239149e-01)),
                         V(6.666666666666735130e-01));
  const V R = t2 + t1;
  const V lo = fma_v(s, hfsq + R, k * V(1.90821492927058770002e-10));
  return k * V(6.93147180369123816490e-01) - ((hfsq - lo) - f);
}

// ---- normal quantile, lower half (Wichura, AS 241, Appl. Statist. 37 (1988) 477-484) ---
//
// ndtri_lower(u) for u in (0, 0.5]: the standard normal quantile (<= 0). Central
// rational approximation in r = 0.180625 - q^2 (q = u - 0.5) for |q| <= 0.425, tail
// ones in r = sqrt(-log u) (split at r = 5). u is first raised to the smallest positive
// subnormal (NaN becomes it too), so every input gives a finite, deterministic result.
// Coefficients: AS 241 as published (transcription checked against the paper's hash
// sums, the sums of the coefficients' decimal mantissas, by tests/test_normal_kernels.py):
//   PPND7  AB 32.3184577772, CD 15.7614929821, EF 19.4052910204
//   PPND16 AB 55.8831928806149014439, CD 49.3320650330161028904, EF 47.5258331754928967163

// PPND7 in float32 (AS 241: "accurate to about 1 part in 10^7"), in parts so that a SIMD
// path may evaluate the tail only on the lanes that need it (it packs them together):
//   u = ndtri32_clamp(u); central = ndtri32_central_mask(u);
//   (num, den) = central ? ndtri32_central(u) : ndtri32_tail(u); z = num / den.
template <class V>
FASTINIT_HDI V ndtri32_clamp(V u) {
  return max_v(u, V(0x1p-149f));
}
template <class V>
FASTINIT_HDI auto ndtri32_central_mask(V u) {
  return ge(u - V(0.5f), V(-0.425f));
}
template <class V>
FASTINIT_HDI void ndtri32_central(V u, V& num, V& den) {
  const V q = u - V(0.5f);
  const V r = fma_v(-q, q, V(0.180625f));
  num = q * fma_v(fma_v(fma_v(V(59.109374720f), r, V(159.29113202f)), r, V(50.434271938f)), r, V(3.3871327179f));
  den = fma_v(fma_v(fma_v(V(67.187563600f), r, V(78.757757664f)), r, V(17.895169469f)), r, V(1.0f));
}
template <class V>
FASTINIT_HDI void ndtri32_tail(V u, V& num, V& den) {
  const V t = sqrt_v(-log32_g(u));
  const V tc = t - V(1.6f);
  num = -fma_v(fma_v(fma_v(V(0.17023821103f), tc, V(1.3067284816f)), tc, V(2.7568153900f)), tc, V(1.4234372777f));
  den = fma_v(fma_v(V(0.12021132975f), tc, V(0.73700164250f)), tc, V(1.0f));
  const auto far = gt(t, V(5.0f));
  if (any_v(far)) {
    const V te = t - V(5.0f);
    const V ne = -fma_v(fma_v(fma_v(V(0.017337203997f), te, V(0.42868294337f)), te, V(3.0812263860f)), te,
                        V(6.6579051150f));
    const V de = fma_v(fma_v(V(0.012258202635f), te, V(0.24197894225f)), te, V(1.0f));
    num = sel(far, ne, num);
    den = sel(far, de, den);
  }
}
template <class V>
FASTINIT_HDI V ndtri_lower32_g(V u) {
  u = ndtri32_clamp(u);
  const auto central = ndtri32_central_mask(u);
  V num, den;
  ndtri32_central(u, num, den);
  if (!all_v(central)) {
    V nt, dt;
    ndtri32_tail(u, nt, dt);
    num = sel(central, num, nt);
    den = sel(central, den, dt);
  }
  return div_v(num, den);
}

template <class V>
FASTINIT_HDI V horner8(V r, double c7, double c6, double c5, double c4, double c3, double c2, double c1, double c0) {
  V s = fma_v(V(c7), r, V(c6));
  s = fma_v(s, r, V(c5));
  s = fma_v(s, r, V(c4));
  s = fma_v(s, r, V(c3));
  s = fma_v(s, r, V(c2));
  s = fma_v(s, r, V(c1));
  return fma_v(s, r, V(c0));
}

// PPND16 in float64 (AS 241: "accurate to about 1 part in 10^16"), in the same parts.
template <class V>
FASTINIT_HDI V ndtri64_clamp(V u) {
  return max_v(u, V(0x1p-1074));
}
template <class V>
FASTINIT_HDI auto ndtri64_central_mask(V u) {
  return ge(u - V(0.5), V(-0.425));
}
template <class V>
FASTINIT_HDI void ndtri64_central(V u, V& num, V& den) {
  const V q = u - V(0.5);
  const V r = fma_v(-q, q, V(0.180625));
  num = q * horner8(r, 2.5090809287301226727e+03, 3.3430575583588128105e+04, 6.7265770927008700853e+04,
                    4.5921953931549871457e+04, 1.3731693765509461125e+04, 1.9715909503065514427e+03,
                    1.3314166789178437745e+02, 3.3871328727963666080e+00);
  den = horner8(r, 5.2264952788528545610e+03, 2.8729085735721942674e+04, 3.9307895800092710610e+04,
                2.1213794301586595867e+04, 5.3941960214247511077e+03, 6.8718700749205790830e+02,
                4.2313330701600911252e+01, 1.0);
}
template <class V>
FASTINIT_HDI void ndtri64_tail(V u, V& num, V& den) {
  const V t = sqrt_v(-log64_g(u));
  const V tc = t - V(1.6);
  num = -horner8(tc, 7.74545014278341407640e-04, 2.27238449892691845833e-02, 2.41780725177450611770e-01,
                 1.27045825245236838258e+00, 3.64784832476320460504e+00, 5.76949722146069140550e+00,
                 4.63033784615654529590e+00, 1.42343711074968357734e+00);
  den = horner8(tc, 1.05075007164441684324e-09, 5.47593808499534494600e-04, 1.51986665636164571966e-02,
                1.48103976427480074590e-01, 6.89767334985100004550e-01, 1.67638483018380384940e+00,
                2.05319162663775882187e+00, 1.0);
  const auto far = gt(t, V(5.0));
  if (any_v(far)) {
    const V te = t - V(5.0);
    const V ne = -horner8(te, 2.01033439929228813265e-07, 2.71155556874348757815e-05, 1.24266094738807843860e-03,
                          2.65321895265761230930e-02, 2.96560571828504891230e-01, 1.78482653991729133580e+00,
                          5.46378491116411436990e+00, 6.65790464350110377720e+00);
    const V de = horner8(te, 2.04426310338993978564e-15, 1.42151175831644588870e-07, 1.84631831751005468180e-05,
                         7.86869131145613259100e-04, 1.48753612908506148525e-02, 1.36929880922735805310e-01,
                         5.99832206555887937690e-01, 1.0);
    num = sel(far, ne, num);
    den = sel(far, de, den);
  }
}
template <class V>
FASTINIT_HDI V ndtri_lower64_g(V u) {
  u = ndtri64_clamp(u);
  const auto central = ndtri64_central_mask(u);
  V num, den;
  ndtri64_central(u, num, den);
  if (!all_v(central)) {
    V nt, dt;
    ndtri64_tail(u, nt, dt);
    num = sel(central, num, nt);
    den = sel(central, den, dt);
  }
  return div_v(num, den);
}

// ---- per-element values (docs/STREAM.md), on lanes -----------------------------------

// Normal: u in (0, 0.5) exact, neg = the word's sign bit; z = ndtri_lower(u).
template <class V, class M>
FASTINIT_HDI V normal32_finish(V z, M neg, const FillParams& p) {
  z = sel(neg, -z, z);
  return fma_v(z, V(p.std32), V(p.mean32));
}
template <class V, class M>
FASTINIT_HDI V normal64_finish(V z, M neg, const FillParams& p) {
  z = sel(neg, -z, z);
  return fma_v(z, V(p.std64), V(p.mean64));
}
template <class V, class M>
FASTINIT_HDI V normal32_g(V u, M neg, const FillParams& p) {
  return normal32_finish(ndtri_lower32_g(u), neg, p);
}
template <class V, class M>
FASTINIT_HDI V normal64_g(V u, M neg, const FillParams& p) {
  return normal64_finish(ndtri_lower64_g(u), neg, p);
}

// Truncated normal: U in (0, 1) exact. trunc*_start gives ndtri's argument w and the
// mask `lower`; z = ndtri_lower(w); trunc*_finish gives the value.
template <class V>
FASTINIT_HDI V trunc32_start(V U, const FillParams& p, decltype(le(V(0.0f), V(0.0f)))& lower) {
  const V u = fma_v(U, V(p.span32), V(p.plo32));
  lower = le(u, V(0.5f));
  return sel(lower, u, V(1.0f) - u);
}
template <class V, class M>
FASTINIT_HDI V trunc32_finish(V z, M lower, const FillParams& p) {
  z = sel(lower, z, -z);
  const V v = fma_v(V(p.flip32) * z, V(p.std32), V(p.mean32));
  return min_v(max_v(v, V(p.a32)), V(p.b32));
}
template <class V>
FASTINIT_HDI V trunc64_start(V U, const FillParams& p, decltype(le(V(0.0), V(0.0)))& lower) {
  const V u = fma_v(U, V(p.span64), V(p.plo64));
  lower = le(u, V(0.5));
  return sel(lower, u, V(1.0) - u);
}
template <class V, class M>
FASTINIT_HDI V trunc64_finish(V z, M lower, const FillParams& p) {
  z = sel(lower, z, -z);
  const V v = fma_v(V(p.flip64) * z, V(p.std64), V(p.mean64));
  return min_v(max_v(v, V(p.a64)), V(p.b64));
}
template <class V>
FASTINIT_HDI V trunc32_g(V U, const FillParams& p) {
  decltype(le(V(0.0f), V(0.0f))) lower;
  const V w = trunc32_start(U, p, lower);
  return trunc32_finish(ndtri_lower32_g(w), lower, p);
}
template <class V>
FASTINIT_HDI V trunc64_g(V U, const FillParams& p) {
  decltype(le(V(0.0), V(0.0))) lower;
  const V w = trunc64_start(U, p, lower);
  return trunc64_finish(ndtri_lower64_g(w), lower, p);
}

// ---- scalar entry points -----------------------------------------------------------------

FASTINIT_HD float log32(float x) { return lane_value(log32_g<LaneF>(LaneF(x))); }
FASTINIT_HD double log64(double x) { return lane_value(log64_g<LaneD>(LaneD(x))); }
FASTINIT_HD float ndtri_lower32(float u) { return lane_value(ndtri_lower32_g<LaneF>(LaneF(u))); }
FASTINIT_HD double ndtri_lower64(double u) { return lane_value(ndtri_lower64_g<LaneD>(LaneD(u))); }

// STREAM.md, normal, float32 family: sign from bit 31, u = (2m + 1) 2^-25 from bits 8..30.
FASTINIT_HD float value_normal_f32(uint32_t x, const FillParams& p) {
  const uint32_t m = (x >> 8) & 0x7fffffu;
  const float u = mul_rn(static_cast<float>(2 * m + 1), 0x1p-25f);
  return lane_value(normal32_g<LaneF>(LaneF(u), (x >> 31) != 0, p));
}

// STREAM.md, normal, float64: sign from bit 31 of x1, 52 bits below it, low word first.
FASTINIT_HD double value_normal_f64(uint32_t x0, uint32_t x1, const FillParams& p) {
  const uint64_t m = ((static_cast<uint64_t>(x1 & 0x7fffffffu) << 21) | (x0 >> 11));
  const double u = mul_rn(static_cast<double>(2 * m + 1), 0x1p-54);
  return lane_value(normal64_g<LaneD>(LaneD(u), (x1 >> 31) != 0, p));
}

// STREAM.md, truncated normal, float32 family: U = (2 (x >> 9) + 1) 2^-24.
FASTINIT_HD float value_trunc_f32(uint32_t x, const FillParams& p) {
  const float U = mul_rn(static_cast<float>(2 * (x >> 9) + 1), 0x1p-24f);
  return lane_value(trunc32_g<LaneF>(LaneF(U), p));
}

// STREAM.md, truncated normal, float64: U = (2 (w >> 12) + 1) 2^-53, w = x1:x0.
FASTINIT_HD double value_trunc_f64(uint32_t x0, uint32_t x1, const FillParams& p) {
  const uint64_t w = (static_cast<uint64_t>(x1) << 32) | x0;
  const double U = mul_rn(static_cast<double>(2 * (w >> 12) + 1), 0x1p-53);
  return lane_value(trunc64_g<LaneD>(LaneD(U), p));
}

// The per-element value of each distribution, chosen at compile time.
template <int32_t Dist>
FASTINIT_HD float value_f32_dist(uint32_t x, const FillParams& p) {
  if (Dist == kNormal) return value_normal_f32(x, p);
  if (Dist == kTruncNormal) return value_trunc_f32(x, p);
  return value_f32(x, p);
}
template <int32_t Dist>
FASTINIT_HD double value_f64_dist(uint32_t x0, uint32_t x1, const FillParams& p) {
  if (Dist == kNormal) return value_normal_f64(x0, x1, p);
  if (Dist == kTruncNormal) return value_trunc_f64(x0, x1, p);
  return value_f64(x0, x1, p);
}

// ---- ndtr64: the standard normal CDF in float64 (host only: trunc_normal's p_lo, p_hi) ---

// exp for float64: fdlibm's e_exp.c (Sun Microsystems, 1993; error < 1 ulp): x = k ln2 + r,
// |r| <= ln2/2, with ln2 in two parts; exp(r) = 1 + r + r c / (2 - c), c = r - r^2 P(r^2)
// (P1..P5 Remez, error < 2^-59); the result scaled by 2^k through the exponent bits
// (in two steps where the result is subnormal). Rounding of k via the 1.5 * 2^52 trick.
static inline double exp64(double x) {
  if (!(x == x)) return x;
  if (x > 709.782712893383973096) return bits_f64(0x7ff0000000000000ull);
  if (x < -745.13321910194110842) return 0.0;
  const double kd = (x * 1.44269504088896338700e+00 + 0x1.8p52) - 0x1.8p52;
  const int k = static_cast<int>(kd);
  const double hi = x - kd * 6.93147180369123816490e-01;
  const double lo = kd * 1.90821492927058770002e-10;
  const double r = hi - lo;
  const double t = r * r;
  const double poly = fma_f64(fma_f64(fma_f64(fma_f64(4.13813679705723846039e-08, t, -1.65339022054652515390e-06), t,
                                              6.61375632143793436117e-05),
                                      t, -2.77777777770155933842e-03),
                              t, 1.66666666666666019037e-01);
  const double c = r - t * poly;
  const double y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
  if (k >= -1021) {
    if (k > 1023) return y * 2.0 * bits_f64(static_cast<uint64_t>(k - 1 + 1023) << 52);
    return y * bits_f64(static_cast<uint64_t>(k + 1023) << 52);
  }
  return (y * bits_f64(static_cast<uint64_t>(k + 1000 + 1023) << 52)) * 0x1p-1000;
}

// Phi(x) = P(Z <= x): W. J. Cody's rational Chebyshev approximations (ANORM, "Rational
// Chebyshev approximations for the error function", Math. Comp. 23 (1969) 631-637; the
// coefficients of his SPECFUN anorm, as in R's pnorm): |x| <= 0.66291 directly; up to
// sqrt(32) exp(-x^2/2) R(|x|); beyond, exp(-x^2/2) / |x| (1/sqrt(2 pi) - R(1/x^2) / x^2).
// exp(-x^2/2) is exp(-xs^2/2) exp(-(x - xs)(x + xs)/2) with xs = x rounded down to 1/16,
// so its argument carries no rounding error. The lower tail keeps full relative
// precision down to the underflow near x = -38.5; Phi(x) for x > 0 is 1 - Phi(-x).
static inline double ndtr64(double x) {
  if (!(x == x)) return x;
  const double y = x < 0 ? -x : x;
  if (y <= 0.66291) {
    const double xsq = y > 1.11e-16 ? x * x : 0.0;
    double num = fma_f64(fma_f64(fma_f64(fma_f64(0.065682337918207449113, xsq, 2.2352520354606839287), xsq,
                                         161.02823106855587881),
                                 xsq, 1067.6894854603709582),
                         xsq, 18154.981253343561249);
    double den = fma_f64(fma_f64(fma_f64(xsq + 47.20258190468824187, xsq, 976.09855173777669322), xsq,
                                 10260.932208618978205),
                         xsq, 45507.789335026729956);
    return 0.5 + (x * num) / den;
  }
  double tail;  // Phi(-y)
  if (y >= 40.0) {
    tail = 0.0;
  } else {
    double temp;
    if (y <= 5.656854249492380195206754896838) {
      static constexpr double c[9] = {0.39894151208813466764, 8.8831497943883759412, 93.506656132177855979,
                                      597.27027639480026226,  2494.5375852903726711, 6848.1904505362823326,
                                      11602.651437647350124,  9842.7148383839780218, 1.0765576773720192317e-8};
      static constexpr double d[8] = {22.266688044328115691, 235.38790178262499861, 1519.377599407554805,
                                      6485.558298266760755,  18615.571640885098091, 34900.952721145977266,
                                      38912.003286093271411, 19685.429676859990727};
      double num = c[8], den = y + d[0];
      for (int i = 0; i < 7; ++i) num = fma_f64(num, y, c[i]);
      for (int i = 1; i < 7; ++i) den = fma_f64(den, y, d[i]);
      num = fma_f64(num, y, c[7]);
      den = fma_f64(den, y, d[7]);
      temp = num / den;
    } else {
      static constexpr double pp[6] = {0.21589853405795699,     0.1274011611602473639,  0.022235277870649807,
                                       0.001421619193227893466, 2.9112874951168792e-5, 0.02307344176494017303};
      static constexpr double qq[5] = {1.28426009614491121, 0.468238212480865118, 0.0659881378689285515,
                                       0.00378239633202758244, 7.29751555083966205e-5};
      const double xsq = 1.0 / (x * x);
      double num = pp[5], den = xsq + qq[0];
      for (int i = 0; i < 4; ++i) num = fma_f64(num, xsq, pp[i]);
      for (int i = 1; i < 4; ++i) den = fma_f64(den, xsq, qq[i]);
      num = fma_f64(num, xsq, pp[4]);
      den = fma_f64(den, xsq, qq[4]);
      temp = (xsq * num) / den;
      temp = (0.398942280401432677939946059934 - temp) / y;
    }
    const double xs = static_cast<double>(static_cast<int64_t>(y * 16.0)) / 16.0;
    const double del = (y - xs) * (y + xs);
    tail = exp64(-xs * xs * 0.5) * exp64(-del * 0.5) * temp;
  }
  return x < 0 ? tail : 1.0 - tail;
}

}  // namespace fastinit

#endif  // FASTINIT_NORMAL_H_
