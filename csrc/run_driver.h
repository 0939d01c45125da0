// The contiguous-run driver shared by the CPU paths. A path supplies a Group type:
//   Group::kBlocks                      Philox blocks generated per step;
//   Group::Keys(seed)                   the ten round keys, in whatever form it likes;
//   Group::store<D, Dist>(keys, p, block, dst, nt)  writes all elements of blocks
//                                       [block, block + kBlocks) to dst as dtype D
//                                       with distribution Dist (nt: streaming);
//   Group::store_align(dtype)           bytes a streaming store must be aligned to;
//   Group::fence()                      orders streaming stores before returning.
// Heads and tails go through the same Group::store into a stack buffer, so every element
// comes out of one formula whatever the split (docs/STREAM.md section 5: values never depend on
// chunking). Static inline template: each ISA translation unit instantiates its own copy
// with a Group type from its own namespace.
#ifndef FASTINIT_RUN_DRIVER_H_
#define FASTINIT_RUN_DRIVER_H_

#include <cstdint>
#include <cstring>

#include "fill.h"

namespace fastinit {

template <class Group, int32_t D, int32_t Dist>
static inline void run_groups_as(const FillParams& p, void* dst, uint64_t n, uint64_t first, bool stream) {
  const typename Group::Keys keys(p.seed);
  constexpr uint64_t wpe = D == kFloat64 ? 2 : 1;  // stream words per element
  constexpr uint64_t esz = static_cast<uint64_t>(dtype_size(D));
  const uint64_t per_block = 4 / wpe;
  const uint64_t per_group = Group::kBlocks * per_block;
  char* out = static_cast<char*>(dst);
  uint64_t e = first;

  // Elements [e, e + count) through a buffer; e need not start a block.
  auto partial = [&](uint64_t count) {
    alignas(64) char buf[Group::kBlocks * 4 * 4];
    while (count > 0) {
      const uint64_t word = e * wpe;  // wraps modulo 2^64 as the stream's word index does
      const uint64_t skip = (word & 3) / wpe;
      Group::template store<D, Dist>(keys, p, word >> 2, buf, false);
      const uint64_t take = count < per_group - skip ? count : per_group - skip;
      memcpy(out, buf + skip * esz, take * esz);
      out += take * esz;
      e += take;
      count -= take;
    }
  };

  // Head: up to one group, ending where a block starts and, when possible, where a
  // streaming store may go.
  const uintptr_t align = Group::store_align(D);
  uint64_t head = n, block_only = n;
  for (uint64_t k = 0; k < per_group && k < n; ++k) {
    if ((e + k) % per_block != 0) continue;
    if (block_only == n) block_only = k;
    if ((reinterpret_cast<uintptr_t>(out) + k * esz) % align == 0) {
      head = k;
      break;
    }
  }
  if (head == n) head = block_only;
  partial(head);
  n -= head;

  const bool nt = stream && reinterpret_cast<uintptr_t>(out) % align == 0;
  for (; n >= per_group; n -= per_group) {
    Group::template store<D, Dist>(keys, p, (e * wpe) >> 2, out, nt);
    out += per_group * esz;
    e += per_group;
  }
  partial(n);
  if (nt) Group::fence();
}

template <class Group, int32_t Dist>
static inline void run_groups_dist(const FillParams& p, void* dst, uint64_t n, uint64_t first, bool stream) {
  switch (p.dtype) {
    case kFloat32: return run_groups_as<Group, kFloat32, Dist>(p, dst, n, first, stream);
    case kFloat64: return run_groups_as<Group, kFloat64, Dist>(p, dst, n, first, stream);
    case kFloat16: return run_groups_as<Group, kFloat16, Dist>(p, dst, n, first, stream);
    default: return run_groups_as<Group, kBFloat16, Dist>(p, dst, n, first, stream);
  }
}

// (dtype, distribution) is dispatched once per run, so each Group::store<D, Dist> is
// straight-line code.
template <class Group>
static inline void run_groups(const FillParams& p, void* dst, uint64_t n, uint64_t first, bool stream) {
  switch (p.dist) {
    case kNormal: return run_groups_dist<Group, kNormal>(p, dst, n, first, stream);
    case kTruncNormal: return run_groups_dist<Group, kTruncNormal>(p, dst, n, first, stream);
    default: return run_groups_dist<Group, kUniform>(p, dst, n, first, stream);
  }
}

// The uniform fill with u = m * 2^-24 (2^-53 for float64) folded into the scale, one
// multiply per vector less: fma(m, scale * 2^-k, lo) is the same exact product as
// fma(m * 2^-k, scale, lo), rounded once, so the same bits, wherever scale * 2^-k is exact
// (issue 20; benchmarks/results/bench_philox_zen5_layout.txt). Scaling back by 2^k (exact
// for any float) gives scale again unless bits were lost to underflow, and never for NaN,
// which keep the plain form. A path's Folded group reads the scale as already folded.
static inline bool fold_uniform_scale(const FillParams& p, FillParams* folded) {
  *folded = p;
  folded->scale32 = p.scale32 * 0x1p-24f;
  folded->scale64 = p.scale64 * 0x1p-53;
  return p.dtype == kFloat64 ? folded->scale64 * 0x1p53 == p.scale64 : folded->scale32 * 0x1p24f == p.scale32;
}

template <class Plain, class Folded>
static inline void run_fill(const FillParams& p, void* dst, uint64_t n, uint64_t first, bool stream) {
  FillParams folded;
  if (p.dist == kUniform && fold_uniform_scale(p, &folded))
    return run_groups_dist<Folded, kUniform>(folded, dst, n, first, stream);
  run_groups<Plain>(p, dst, n, first, stream);
}

}  // namespace fastinit

#endif  // FASTINIT_RUN_DRIVER_H_
