// Device code of every per-element value function (value.h, normal.h), compiled twice by
// tests/native/fmad_check.sh: with --fmad=false and --fmad=true. Identical machine code
// proves that no multiply-add pair is left for the compiler to contract, i.e. that the
// bits do not depend on --fmad (every fma is explicit, every product that feeds an add
// an explicitly rounded __fmul_rn / __dmul_rn).
#include "normal.h"
#include "value.h"

using namespace fastinit;

__global__ void fastinit_value_functions(const FillParams p, const uint32_t* x, float* f, double* d, int n) {
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    f[4 * i] = value_f32_dist<kUniform>(x[i], p);
    f[4 * i + 1] = value_f32_dist<kNormal>(x[i], p);
    f[4 * i + 2] = value_f32_dist<kTruncNormal>(x[i], p);
    d[4 * i] = value_f64_dist<kUniform>(x[i], x[i + 1], p);
    d[4 * i + 1] = value_f64_dist<kNormal>(x[i], x[i + 1], p);
    d[4 * i + 2] = value_f64_dist<kTruncNormal>(x[i], x[i + 1], p);
  }
}
