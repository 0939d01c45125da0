// AVX-512 (F, DQ, BW, VL) path, flags set per file in CMake. Same structure as the
// AVX2 path with 16 lanes: structure-of-arrays Philox over two 16-lane sets, a 4x16
// transpose to stream order, then the per-dtype store.
#include <immintrin.h>

#include "kernels.h"
#include "run_driver.h"
#include "value.h"

namespace fastinit {
namespace avx512 {
namespace {

constexpr int kSets = 4;
constexpr __mmask16 kOdd = 0xAAAA;

inline void mulhilo(__m512i a, __m512i m, __m512i& hi, __m512i& lo) {
  const __m512i even = _mm512_mul_epu32(a, m);
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
  hi = _mm512_mask_mov_epi32(_mm512_srli_epi64(even, 32), kOdd, odd);
  lo = _mm512_mask_mov_epi32(even, kOdd, _mm512_slli_epi64(odd, 32));
}

struct Group {
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
  static uintptr_t store_align(int32_t dtype) { return dtype == kFloat32 || dtype == kFloat64 ? 64 : 32; }
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
    // Round 0 with counter words 2 and 3 zero (SPEC section 2): their product is zero,
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
    for (int s = 0; s < kSets; ++s) {
      const __m512i t0 = _mm512_unpacklo_epi32(c[s][0], c[s][1]);
      const __m512i t1 = _mm512_unpackhi_epi32(c[s][0], c[s][1]);
      const __m512i t2 = _mm512_unpacklo_epi32(c[s][2], c[s][3]);
      const __m512i t3 = _mm512_unpackhi_epi32(c[s][2], c[s][3]);
      const __m512i u0 = _mm512_unpacklo_epi64(t0, t2);  // blocks 0 | 4 | 8 | 12
      const __m512i u1 = _mm512_unpackhi_epi64(t0, t2);  // blocks 1 | 5 | 9 | 13
      const __m512i u2 = _mm512_unpacklo_epi64(t1, t3);  // blocks 2 | 6 | 10 | 14
      const __m512i u3 = _mm512_unpackhi_epi64(t1, t3);  // blocks 3 | 7 | 11 | 15
      const __m512i a = _mm512_shuffle_i32x4(u0, u1, 0x44);  // 0 4 1 5
      const __m512i b = _mm512_shuffle_i32x4(u0, u1, 0xEE);  // 8 12 9 13
      const __m512i c2 = _mm512_shuffle_i32x4(u2, u3, 0x44);  // 2 6 3 7
      const __m512i d = _mm512_shuffle_i32x4(u2, u3, 0xEE);  // 10 14 11 15
      w[s][0] = _mm512_shuffle_i32x4(a, c2, 0x88);
      w[s][1] = _mm512_shuffle_i32x4(a, c2, 0xDD);
      w[s][2] = _mm512_shuffle_i32x4(b, d, 0x88);
      w[s][3] = _mm512_shuffle_i32x4(b, d, 0xDD);
    }
  }

  static __m512 value_f32x16(__m512i x, const FillParams& p) {
    const __m512 u = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(x, 8)), _mm512_set1_ps(0x1p-24f));
    const __m512 v = _mm512_fmadd_ps(u, _mm512_set1_ps(p.scale32), _mm512_set1_ps(p.lo32));
    return _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, _mm512_set1_ps(p.top32), _CMP_GE_OQ), _mm512_set1_ps(p.repl32));
  }

  static __m512d value_f64x8(__m512i x, const FillParams& p) {
    // The 53-bit integer is exact in double; vcvtuqq2pd converts it without rounding.
    const __m512d u = _mm512_mul_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64(x, 11)), _mm512_set1_pd(0x1p-53));
    const __m512d v = _mm512_fmadd_pd(u, _mm512_set1_pd(p.scale64), _mm512_set1_pd(p.lo64));
    return _mm512_mask_mov_pd(v, _mm512_cmp_pd_mask(v, _mm512_set1_pd(p.top64), _CMP_GE_OQ), _mm512_set1_pd(p.repl64));
  }

  static __m256i bf16x16(__m512 v) {
    const __m512i x = _mm512_castps_si512(v);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(x, _mm512_set1_epi32(0x7fff)), odd), 16));
  }

  static void put512(void* dst, __m512i v, bool nt) {
    if (nt) _mm512_stream_si512(static_cast<__m512i*>(dst), v);
    else _mm512_storeu_si512(dst, v);
  }
  static void put256(void* dst, __m256i v, bool nt) {
    if (nt) _mm256_stream_si256(static_cast<__m256i*>(dst), v);
    else _mm256_storeu_si256(static_cast<__m256i*>(dst), v);
  }

  // The one per-dtype step: 64 words of one set, in stream order, to storage.
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
      for (int q = 0; q < 4; ++q) put256(out + 32 * q, bf16x16(value_f32x16(w[q], p)), nt);
    }
  }

  template <int32_t D>
  static void store(const Keys& k, const FillParams& p, uint64_t block, void* dst, bool nt) {
    char* out = static_cast<char*>(dst);
    __m512i w[kSets][4];
    generate(k, block, w);
    for (int s = 0; s < kSets; ++s) put_set<D>(w[s], p, out + s * 4 * (D == kFloat64 ? 64 : 16 * dtype_size(D)), nt);
  }
};

}  // namespace

void fill_run(const FillParams& p, void* dst, uint64_t n, uint64_t first, bool stream) {
  count_kernel_call(kIsaAvx512);
  run_groups<Group>(p, dst, n, first, stream);
}

}  // namespace avx512
}  // namespace fastinit
