// Plain-data kernel interface shared by every CPU path, the CUDA kernel and the
// binding. Validation and the torch/NumPy handling live in Python (SPEC section 4);
// what reaches this layer is a pointer, sizes, strides, a dtype, bounds and the stream
// position.
#ifndef FASTINIT_FILL_H_
#define FASTINIT_FILL_H_

#include <cstdint>

namespace fastinit {

enum Dtype : int32_t { kFloat32 = 0, kFloat64 = 1, kFloat16 = 2, kBFloat16 = 3 };

constexpr int kMaxDims = 16;

// Everything a kernel needs to turn stream words into stored values (SPEC section 2).
// f32-family dtypes compute v = fma(u, scale32, lo32); v >= top32 is replaced by repl32,
// which is SPEC's "never return hi" rule moved before the store: top32 is the smallest
// float whose storage rounding reaches hi's, repl32 is lo rounded to the storage type.
struct FillParams {
  uint64_t seed;
  int32_t dtype;
  float lo32, scale32, top32, repl32;
  double lo64, scale64, top64, repl64;
};

// Builds FillParams from the float64 bounds given by Python; host only.
FillParams make_fill_params(int32_t dtype, double lo, double hi, uint64_t seed);

constexpr int dtype_size(int32_t dtype) { return dtype == kFloat64 ? 8 : dtype == kFloat32 ? 4 : 2; }

// One ISA's contiguous-run kernel: writes n elements of stream index first, first+1, ...
// to dst. `stream` asks for non-temporal stores where the path supports them.
using RunKernel = void (*)(const FillParams& p, void* dst, uint64_t n, uint64_t first, bool stream);

// A strided target: element (i_0..i_{d-1}) lives at data + sum(i_k * strides[k]) bytes
// (strides in bytes, any sign, any alignment) and gets stream index
// offset + row-major(i), modulo 2^64.
struct FillTarget {
  void* data;
  int32_t ndim;
  int64_t sizes[kMaxDims];
  int64_t strides[kMaxDims];
  uint64_t offset;
};

// Drops size-1 dims and merges dims that are contiguous in memory and in logical order,
// so the innermost dim is the longest possible run. Returns false if it has no element.
bool coalesce(FillTarget& t);

}  // namespace fastinit

#endif  // FASTINIT_FILL_H_
