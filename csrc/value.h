// docs/STREAM.md section 3 in scalar form: stream word(s) -> value -> storage bits. Only
// static inline / constexpr code, so every translation unit (whatever its ISA flags)
// gets its own private copy and no vector code can leak into the baseline path.
// The SIMD paths implement the same formulas lane-wise; tests hold them bit-identical.
#ifndef FASTINIT_VALUE_H_
#define FASTINIT_VALUE_H_

#include <cmath>
#include <cstdint>
#include <cstring>

#include "fill.h"
#include "philox.h"

namespace fastinit {

FASTINIT_HD float bits_to_f32(uint32_t b) {
  float f;
  memcpy(&f, &b, 4);
  return f;
}
FASTINIT_HD uint32_t f32_to_bits(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  return b;
}

FASTINIT_HD float fma_f32(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return std::fmaf(a, b, c);
#endif
}
FASTINIT_HD double fma_f64(double a, double b, double c) {
#if defined(__CUDA_ARCH__)
  return __fma_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

// + and * rounded to nearest even, never contracted: on the device the _rn intrinsics,
// which nvcc does not fuse into an fma whatever --fmad says (CUDA C Programming Guide,
// "Intrinsic Functions"); on the host the plain operators (the CPU TUs build with
// -ffp-contract=off). tests/native/fmad_check.sh checks that the device code of every
// value function is the same with --fmad=true and --fmad=false.
FASTINIT_HD float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
FASTINIT_HD float sub_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
FASTINIT_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
FASTINIT_HD double add_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}
FASTINIT_HD double sub_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dsub_rn(a, b);
#else
  return a - b;
#endif
}
FASTINIT_HD double mul_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

// float32 family: the top 24 bits of one word, u exact in [0, 1).
FASTINIT_HD float value_f32(uint32_t x, const FillParams& p) {
  const float u = mul_rn(static_cast<float>(x >> 8), 0x1p-24f);
  const float v = fma_f32(u, p.scale32, p.lo32);
  return v >= p.top32 ? p.repl32 : v;
}

// float64: 53 bits from two consecutive words, low word first.
FASTINIT_HD double value_f64(uint32_t x0, uint32_t x1, const FillParams& p) {
  const uint64_t m = ((static_cast<uint64_t>(x1) << 32) | x0) >> 11;
  const double u = mul_rn(static_cast<double>(m), 0x1p-53);
  const double v = fma_f64(u, p.scale64, p.lo64);
  return v >= p.top64 ? p.repl64 : v;
}

// Round-to-nearest-even float -> binary16, the rounding F16C's vcvtps2ph and
// CUDA's __float2half_rn perform (subnormals kept). After F. Giesen's
// float_to_half_fast3_rtne.
FASTINIT_HD uint16_t f32_to_f16_bits(float f) {
  uint32_t x = f32_to_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (x > 0x7f800000u ? 0x0200u : 0u));
  if (x >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to inf
  if (x < 0x38800000u) {
    // Below 2^-14 the result is subnormal: adding 0.5f aligns the binary16 ulp (2^-24)
    // with float's ulp at 0.5, so the float addition performs the RNE rounding.
    const float a = add_rn(bits_to_f32(x), 0.5f);
    return static_cast<uint16_t>(sign | (f32_to_bits(a) - 0x3f000000u));
  }
  x += 0xc8000fffu + ((x >> 13) & 1u);  // rebias exponent by -112, round half to even
  return static_cast<uint16_t>(sign | (x >> 13));
}

// Round-to-nearest-even float -> bfloat16 on the bit pattern (finite inputs).
// Deliberately not vcvtneps2bf16: that instruction flushes subnormals.
FASTINIT_HD uint16_t f32_to_bf16_bits(float f) {
  const uint32_t x = f32_to_bits(f);
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

#if defined(__CUDACC__)
}  // namespace fastinit
#include <cuda_bf16.h>
#include <cuda_fp16.h>
namespace fastinit {

// The same roundings through CUDA's conversions: on the device one cvt.rn.f16.f32 /
// cvt.rn.bf16.f32 instruction (PTX ISA: round to nearest even, subnormals kept) where
// f32_to_f16_bits is a branchy integer sequence. NaN keeps the integer path: the cvt
// returns a canonical NaN, value.h keeps the sign and sets the quiet bit. Proven equal
// to f32_to_f16_bits / f32_to_bf16_bits on all 2^32 float inputs with the headers'
// host implementations (tests/native/cvt_check.cu, run by tests/test_cuda_host.py);
// tests/test_cuda.py compares the device results with the CPU on a GPU.
FASTINIT_HD uint16_t f32_to_f16_bits_cvt(float f) {
  if (f != f) return f32_to_f16_bits(f);
  return __half_as_ushort(__float2half_rn(f));
}
FASTINIT_HD uint16_t f32_to_bf16_bits_cvt(float f) {
  if (f != f) return f32_to_bf16_bits(f);
  return __bfloat16_as_ushort(__float2bfloat16_rn(f));
}
#endif

// The one per-dtype step of the float32 family: element i of dst gets v in storage form.
FASTINIT_HD void store_f32_family(int32_t dtype, char* dst, int i, float v) {
  if (dtype == kFloat32) {
    memcpy(dst + 4 * i, &v, 4);
  } else {
    const uint16_t h = dtype == kFloat16 ? f32_to_f16_bits(v) : f32_to_bf16_bits(v);
    memcpy(dst + 2 * i, &h, 2);
  }
}

}  // namespace fastinit

#endif  // FASTINIT_VALUE_H_
