// ndtri_lower on many SIMD vectors with the tail evaluated only where needed: the one
// generic algorithm the AVX2 and AVX-512 paths share (host only; each ISA translation
// unit instantiates it with its own lane traits, so the intrinsics stay in the lane layer).
//
// normal.h's ndtri_lower is a central rational function for most lanes (85% of a normal
// fill: u < 0.075 takes the tail, u uniform on (0, 0.5)) and log + sqrt + another rational
// function for the rest. Per vector, 1 - 0.85^W of the vectors have a tail lane (72.8% of
// 8-lane, 92.6% of 16-lane vectors), so computing the tail per vector would cost it nearly
// everywhere. Instead the tail lanes of K vectors are packed together, the tail and its
// division run on about ceil(0.15 K) packed vectors, and only the quotients are expanded
// back into their lanes. (/work/shared/perf-analysis/REPORT.md sections 3 and 7, variant
// "a2": modelled 1.6-1.8x faster on AVX-512, 4.5% on AVX2, against the per-vector tail
// and the num-and-den expansion.)
//
// Bit identity (docs/STREAM.md section 6.1): every lane still runs the scalar operation
// sequence. A central lane's z is its central num / den; a tail lane's z is its tail
// num / den, computed in its packed position: the same IEEE operations on the same
// operands, only in another lane. The central quotient is also computed on tail lanes and
// then replaced, which changes no bits (operations on one lane never affect another).
//
// A lane trait L provides:
//   V, M, S, T, kLanes               vector, mask, scalar, tail-mask (bits) type, lanes
//   clamp, central_mask, central, tail   normal.h's ndtri*_clamp ... ndtri*_tail on V
//   tail_bits(M central) -> T        the tail lanes
//   count(T)                         how many
//   compress(V, T)                   the tail lanes first, in lane order
//   merge_expand(V z, M central, T t, V packed)
//                                    z with its tail lanes replaced by packed's first
//                                    count(t) lanes, in lane order
//   load / store (aligned), loadu / storeu
#ifndef FASTINIT_NDTRI_PACKED_H_
#define FASTINIT_NDTRI_PACKED_H_

#include "normal.h"

namespace fastinit {

// z[j] = ndtri_lower(w[j]) for K vectors, lane for lane as normal.h's ndtri_lower*_g.
template <class L, int K>
static inline __attribute__((always_inline)) void ndtri_lower_packed(const typename L::V* w, typename L::V* z) {
  using V = typename L::V;
  using S = typename L::S;
  constexpr int W = L::kLanes;
  // ub: the packed tail arguments; zb: their quotients. One spare vector each: a store of
  // a whole vector at the packed end, and an unaligned load of a whole vector from any
  // packed position, stay inside the buffer.
  alignas(64) S ub[(K + 1) * W], zb[(K + 1) * W];
  V u[K];
  typename L::T tb[K];
  int off[K];
  int cnt = 0;
  // Program order: pack, tail, central, merge. The packed loads span several unaligned
  // stores, so they wait for those stores to commit instead of forwarding; the tail's
  // long chain (log, sqrt, rational, division) then starts as early as it can and the
  // independent central work fills its latency (measured on Zen 5, AVX-512: 4-11% faster
  // than central first; benchmarks/bench_philox.py).
  for (int j = 0; j < K; ++j) {
    u[j] = L::clamp(w[j]);
    tb[j] = L::tail_bits(L::central_mask(u[j]));
    off[j] = cnt;
    L::storeu(ub + cnt, L::compress(u[j], tb[j]));  // branch-free: an empty mask writes scratch
    cnt += L::count(tb[j]);
  }
  L::storeu(ub + cnt, V(static_cast<S>(0.25)));  // defined values in the last vector's spare lanes
  const int vecs = (cnt + W - 1) / W;
  for (int t = 0; t < vecs; ++t) {
    V n, d;
    L::tail(L::load(ub + t * W), n, d);
    L::store(zb + t * W, div_v(n, d));
  }
  L::store(zb + vecs * W, V(static_cast<S>(0)));  // what the expansion may read past the end
  for (int j = 0; j < K; ++j) {
    V num, den;
    L::central(u[j], num, den);
    z[j] = div_v(num, den);
  }
  for (int j = 0; j < K; ++j) z[j] = L::merge_expand(z[j], L::central_mask(u[j]), tb[j], L::loadu(zb + off[j]));
}

}  // namespace fastinit

#endif  // FASTINIT_NDTRI_PACKED_H_
