// Plain-data kernel interface shared by every CPU path, the CUDA kernel and the
// binding. Validation and the torch/NumPy handling live in Python (docs/STREAM.md section 9);
// what reaches this layer is a pointer, sizes, strides, a dtype, bounds and the stream
// position.
#ifndef FASTINIT_FILL_H_
#define FASTINIT_FILL_H_

#include <cstdint>

namespace fastinit {

enum Dtype : int32_t { kFloat32 = 0, kFloat64 = 1, kFloat16 = 2, kBFloat16 = 3 };

constexpr int kMaxDims = 16;

// Everything a kernel needs to turn stream words into stored values (docs/STREAM.md section 3).
// f32-family dtypes compute v = fma(u, scale32, lo32); v >= top32 is replaced by repl32,
// which is the stream's "never return hi" rule moved before the store: top32 is the smallest
// float whose storage rounding reaches hi's, repl32 is lo rounded to the storage type.
//
// Distributions (docs/STREAM.md): kUniform uses the fields above; kNormal uses mean and
// std; kTruncNormal uses mean, std, plo (p_lo), span (p_hi - p_lo), flip (+1 or -1: the
// interval was mirrored) and the clamp bounds a, b. The *32 fields are the float64
// values rounded to float32 and serve the float32 family; the *64 fields serve float64.
enum Dist : int32_t { kUniform = 0, kNormal = 1, kTruncNormal = 2 };

struct FillParams {
  uint64_t seed;
  int32_t dtype;
  int32_t dist;
  float lo32, scale32, top32, repl32;
  double lo64, scale64, top64, repl64;
  float mean32, std32, plo32, span32, flip32, a32, b32;
  double mean64, std64, plo64, span64, flip64, a64, b64;
};

// Build FillParams from the float64 arguments given by Python; host only. Any double
// input (NaN, inf, std = 0, huge) gives some deterministic parameters, never UB.
FillParams make_fill_params(int32_t dtype, double lo, double hi, uint64_t seed);
FillParams make_normal_params(int32_t dtype, double mean, double std, uint64_t seed);
FillParams make_trunc_normal_params(int32_t dtype, double mean, double std, double a, double b, uint64_t seed);

constexpr int dtype_size(int32_t dtype) { return dtype == kFloat64 ? 8 : dtype == kFloat32 ? 4 : 2; }

// One ISA's contiguous-run kernel: writes n elements of stream index first, first+1, ...
// to dst. `stream` asks for non-temporal stores where the path supports them.
using RunKernel = void (*)(const FillParams& p, void* dst, uint64_t n, uint64_t first, bool stream);

// A strided target: element (i_0..i_{d-1}) lives at data + sum(i_k * strides[k]) bytes
// (strides in bytes, any sign, any alignment) and gets stream index
// offset + sum(i_k * istrides[k]), modulo 2^64. For a whole tensor istrides are the
// row-major strides of its own sizes; for a box of a larger (sharded) tensor they are the
// row-major strides of the global shape and offset is the box corner's global index, so
// a shard gets exactly the values the whole tensor holds there (docs/STREAM.md section 5).
struct FillTarget {
  void* data;
  int32_t ndim;
  int64_t sizes[kMaxDims];
  int64_t strides[kMaxDims];
  int64_t istrides[kMaxDims];
  uint64_t offset;
};

// Drops size-1 dims and merges neighbouring dims that are contiguous both in memory and
// in stream index, so the innermost dim is the longest possible run. Returns false if
// the target has no element.
bool coalesce(FillTarget& t);

// The number of trailing elements (in the coalesced target's row-major order) whose
// stream indices are consecutive: the product of the trailing dims whose index strides
// are row-major with a unit innermost stride; 1 if the innermost index stride is not 1.
// Position pos of the target then has stream index stream_index(t, pos).
static inline uint64_t stream_run(const FillTarget& t) {
  uint64_t run = 1;
  for (int d = t.ndim - 1; d >= 0; --d) {
    if (t.istrides[d] != static_cast<int64_t>(run)) break;
    run *= static_cast<uint64_t>(t.sizes[d]);
  }
  return run;
}

// Stream index of the element at row-major position pos (modulo 2^64).
static inline uint64_t stream_index(const FillTarget& t, uint64_t pos) {
  uint64_t e = t.offset;
  for (int d = t.ndim - 1; d >= 0 && pos != 0; --d) {
    const uint64_t n = static_cast<uint64_t>(t.sizes[d]);
    e += (pos % n) * static_cast<uint64_t>(t.istrides[d]);
    pos /= n;
  }
  return e;
}

}  // namespace fastinit

#endif  // FASTINIT_FILL_H_
