// Test-only <immintrin.h> for checking csrc/fill_avx512.cpp on a CPU without AVX-512.
//
// tests/native/build_and_run.sh compiles fill_avx512.cpp with `-I tests/native` ahead of
// the system paths and with -mavx2 -mfma -mf16c but no -mavx512*, so the kernel's
// `#include <immintrin.h>` lands here. We pull in the real header (for the SSE/AVX2/F16C
// intrinsics the kernel also uses, natively), then SIMDe with native aliases, which maps
// every _mm512_* call and __m512* / __mmask16 type to SIMDe's portable implementation.
//
// SIMDe 0.7.4 (Debian bookworm's libsimde-dev 0.7.4~rc2) lacks ten intrinsics that the
// kernel uses; without a definition the call would bind to GCC's real AVX-512 intrinsic
// and fail to compile ("inlining failed ... target specific option mismatch"). They are
// defined below as plain per-lane loops, exactly as the Intel Intrinsics Guide specifies:
//   _mm512_cmplt_epu32_mask  _mm512_cvtepi32_ps  _mm512_cvtepu64_pd
//   _mm512_cvtepi32_epi16    _mm512_cvtps_ph     _mm512_stream_si512
//   _mm512_shuffle_epi32     _mm512_mask_shuffle_epi32
//   _mm512_mask_expand_ps    _mm512_mask_expand_pd
// _mm512_maskz_compress_ps/pd, which SIMDe has, are defined here too, so that both halves
// of the packed tail (csrc/ndtri_packed.h) rest on the Intrinsics Guide's definitions.
// If a newer SIMDe provides them, these definitions still take precedence (#undef first).
#ifndef FASTINIT_TESTS_NATIVE_IMMINTRIN_H_
#define FASTINIT_TESTS_NATIVE_IMMINTRIN_H_

#include_next <immintrin.h>

#if defined(__AVX512F__)
#error "tests/native/immintrin.h emulates AVX-512: compile without -mavx512*"
#endif

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

// SIMDe's _mm512_fmadd_ps/pd are fused only when they split into native 256-bit FMAs
// (otherwise they fall back to a * b + c, two roundings). Insist on that configuration.
#if !defined(SIMDE_X86_FMA_NATIVE) || !defined(SIMDE_X86_AVX2_NATIVE) || !defined(SIMDE_X86_F16C_NATIVE) || \
    !SIMDE_NATURAL_VECTOR_SIZE_LE(256)
#error "tests/native/immintrin.h needs -mavx2 -mfma -mf16c (native 256-bit FMA under SIMDe's 512-bit fmadd)"
#endif

namespace fastinit_emu {

template <class T, class V>
static inline void to_lanes(T (&out)[sizeof(V) / sizeof(T)], V v) { memcpy(out, &v, sizeof(V)); }
template <class V, class T, size_t N>
static inline V from_lanes(const T (&in)[N]) {
  static_assert(sizeof(V) == sizeof(in), "lane count");
  V v;
  memcpy(&v, in, sizeof(V));
  return v;
}

// vpcmpud k, a, b, 1 (LT): bit j = a[j] < b[j] as unsigned 32-bit.
static inline simde__mmask16 cmplt_epu32_mask(simde__m512i a, simde__m512i b) {
  uint32_t x[16], y[16];
  to_lanes(x, a);
  to_lanes(y, b);
  unsigned m = 0;
  for (int j = 0; j < 16; ++j) m |= (x[j] < y[j] ? 1u : 0u) << j;
  return static_cast<simde__mmask16>(m);
}

// vcvtdq2ps: signed int32 -> float, rounded per MXCSR.RC (round-to-nearest-even here,
// as is C++'s conversion under the default floating-point environment).
static inline simde__m512 cvtepi32_ps(simde__m512i a) {
  int32_t x[16];
  float r[16];
  to_lanes(x, a);
  for (int j = 0; j < 16; ++j) r[j] = static_cast<float>(x[j]);
  return from_lanes<simde__m512>(r);
}

// vcvtuqq2pd (AVX512DQ): unsigned int64 -> double, rounded per MXCSR.RC.
static inline simde__m512d cvtepu64_pd(simde__m512i a) {
  uint64_t x[8];
  double r[8];
  to_lanes(x, a);
  for (int j = 0; j < 8; ++j) r[j] = static_cast<double>(x[j]);
  return from_lanes<simde__m512d>(r);
}

// vpmovdw: each 32-bit lane truncated to its low 16 bits (no saturation).
static inline __m256i cvtepi32_epi16(simde__m512i a) {
  uint32_t x[16];
  uint16_t r[16];
  to_lanes(x, a);
  for (int j = 0; j < 16; ++j) r[j] = static_cast<uint16_t>(x[j]);
  return from_lanes<__m256i>(r);
}

// vcvtps2ph ymm, zmm, imm8: imm8[2] set -> MXCSR.RC, else imm8[1:0] picks the rounding
// (0 nearest-even, 1 down, 2 up, 3 toward zero); imm8[3] (_MM_FROUND_NO_EXC) only
// suppresses exceptions. The same encoding as F16C's 256-bit vcvtps2ph, which does each
// half natively; its immediate must be a constant, hence the switch.
static inline __m128i cvtps_ph_256(__m256 v, int imm) {
  switch (imm & 7) {
    case 0: return _mm256_cvtps_ph(v, 0);
    case 1: return _mm256_cvtps_ph(v, 1);
    case 2: return _mm256_cvtps_ph(v, 2);
    case 3: return _mm256_cvtps_ph(v, 3);
    default: return _mm256_cvtps_ph(v, 4);  // any imm8 with bit 2 set: MXCSR.RC
  }
}
static inline __m256i cvtps_ph(simde__m512 a, int imm) {
  float x[16];
  to_lanes(x, a);
  __m256 lo, hi;
  memcpy(&lo, x, 32);
  memcpy(&hi, x + 8, 32);
  const __m128i rlo = cvtps_ph_256(lo, imm), rhi = cvtps_ph_256(hi, imm);
  uint16_t r[16];
  memcpy(r, &rlo, 16);
  memcpy(r + 8, &rhi, 16);
  return from_lanes<__m256i>(r);
}

// vmovntdq m512, zmm: a plain store for the values; like the instruction (#GP otherwise),
// it insists on a 64-byte aligned address.
static inline void stream_si512(void* p, simde__m512i a) {
  if (reinterpret_cast<uintptr_t>(p) % 64 != 0) {
    fprintf(stderr, "emulated _mm512_stream_si512: address %p is not 64-byte aligned\n", p);
    abort();
  }
  memcpy(p, &a, 64);
}

// vpshufd zmm, zmm, imm8: within each 128-bit lane, dword i takes dword imm8[2i+1:2i] of
// the same lane; the masked form keeps src's dword where the mask bit is clear.
static inline simde__m512i mask_shuffle_epi32(simde__m512i src, simde__mmask16 k, simde__m512i a, int imm) {
  uint32_t x[16], s[16], r[16];
  to_lanes(x, a);
  to_lanes(s, src);
  for (int j = 0; j < 16; ++j) r[j] = (k >> j & 1) ? x[(j & ~3) + ((imm >> (2 * (j & 3))) & 3)] : s[j];
  return from_lanes<simde__m512i>(r);
}

// vexpandps / vexpandpd zmm {k}, zmm: the mask's set lanes, in lane order, take a's
// consecutive lanes from lane 0 on; the clear lanes keep src's.
template <class V, class T, int N, class K>
static inline V mask_expand(V src, K k, V a) {
  T x[N], s[N], r[N];
  to_lanes(x, a);
  to_lanes(s, src);
  for (int j = 0, i = 0; j < N; ++j) r[j] = (k >> j & 1) ? x[i++] : s[j];
  return from_lanes<V>(r);
}

// vcompressps / vcompresspd zmm {k}{z}, zmm: the mask's set lanes of a, in lane order,
// packed to lane 0 on; the rest zero.
template <class V, class T, int N, class K>
static inline V maskz_compress(K k, V a) {
  T x[N], r[N] = {};
  to_lanes(x, a);
  for (int j = 0, i = 0; j < N; ++j) {
    if (k >> j & 1) r[i++] = x[j];
  }
  return from_lanes<V>(r);
}

}  // namespace fastinit_emu

#undef _mm512_cmplt_epu32_mask
#undef _mm512_cvtepi32_ps
#undef _mm512_cvtepu64_pd
#undef _mm512_cvtepi32_epi16
#undef _mm512_cvtps_ph
#undef _mm512_stream_si512
#undef _mm512_shuffle_epi32
#undef _mm512_mask_shuffle_epi32
#undef _mm512_mask_expand_ps
#undef _mm512_mask_expand_pd
#undef _mm512_maskz_compress_ps
#undef _mm512_maskz_compress_pd
#define _mm512_cmplt_epu32_mask(a, b) fastinit_emu::cmplt_epu32_mask((a), (b))
#define _mm512_cvtepi32_ps(a) fastinit_emu::cvtepi32_ps((a))
#define _mm512_cvtepu64_pd(a) fastinit_emu::cvtepu64_pd((a))
#define _mm512_cvtepi32_epi16(a) fastinit_emu::cvtepi32_epi16((a))
#define _mm512_cvtps_ph(a, imm) fastinit_emu::cvtps_ph((a), (imm))
#define _mm512_stream_si512(p, a) fastinit_emu::stream_si512((p), (a))
#define _mm512_shuffle_epi32(a, imm) \
  fastinit_emu::mask_shuffle_epi32((a), static_cast<simde__mmask16>(0xffff), (a), static_cast<int>(imm))
#define _mm512_mask_shuffle_epi32(src, k, a, imm) \
  fastinit_emu::mask_shuffle_epi32((src), (k), (a), static_cast<int>(imm))

#define _mm512_mask_expand_ps(src, k, a) fastinit_emu::mask_expand<simde__m512, float, 16>((src), (k), (a))
#define _mm512_mask_expand_pd(src, k, a) fastinit_emu::mask_expand<simde__m512d, double, 8>((src), (k), (a))
#define _mm512_maskz_compress_ps(k, a) fastinit_emu::maskz_compress<simde__m512, float, 16>((k), (a))
#define _mm512_maskz_compress_pd(k, a) fastinit_emu::maskz_compress<simde__m512d, double, 8>((k), (a))

#endif  // FASTINIT_TESTS_NATIVE_IMMINTRIN_H_
