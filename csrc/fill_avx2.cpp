// AVX2 + FMA + F16C path (compiled with those flags alone, set per file in CMake).
// Philox runs structure-of-arrays: lane j of c[w] holds word w of block base + j, two
// independent 8-lane sets per step so the multiply latency is hidden. A 4x8 transpose
// then puts the words in stream order before the per-dtype store.
#include <immintrin.h>

#include "kernels.h"
#include "run_driver.h"
#include "value.h"

namespace fastinit {
namespace avx2 {
namespace {

constexpr int kSets = 4;

// (hi, lo) = a * m, lane-wise 32x32->64; m is a broadcast multiplier. vpmulld for the
// low half measured faster here than recombining it from the two vpmuludq products.
inline void mulhilo(__m256i a, __m256i m, __m256i& hi, __m256i& lo) {
  const __m256i even = _mm256_mul_epu32(a, m);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  lo = _mm256_mullo_epi32(a, m);
}

struct Group {
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
  static uintptr_t store_align(int32_t dtype) { return dtype == kFloat32 || dtype == kFloat64 ? 32 : 16; }
  static void fence() { _mm_sfence(); }

  // Words of blocks [block, block + 8 * kSets) in stream order: w[s][q] holds blocks
  // block + 8s + 2q and block + 8s + 2q + 1.
  static void generate(const Keys& k, uint64_t block, __m256i w[kSets][4]) {
    const __m256i m0 = _mm256_set1_epi32(static_cast<int>(kPhiloxM0));
    const __m256i m1 = _mm256_set1_epi32(static_cast<int>(kPhiloxM1));
    const __m256i sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i c[kSets][4];
    for (int s = 0; s < kSets; ++s) {
      const uint64_t b = block + 8 * s;
      const __m256i lo = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(b)));
      const __m256i c0 = _mm256_add_epi32(lo, lane);
      // A carry into the high word where b + j crosses a multiple of 2^32 (unsigned c0 < lo);
      // block indices live modulo 2^62 (kBlockMask).
      const __m256i carry = _mm256_cmpgt_epi32(_mm256_xor_si256(lo, sign), _mm256_xor_si256(c0, sign));
      c[s][0] = c0;
      c[s][1] = _mm256_and_si256(_mm256_sub_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(b >> 32))), carry),
                                 _mm256_set1_epi32(static_cast<int>(kBlockHiMask)));
    }
    // Round 0 with counter words 2 and 3 zero (SPEC section 2): their product is zero,
    // so c = (c1 ^ k0, 0, hi(M0 c0) ^ k1, lo(M0 c0)).
    for (int s = 0; s < kSets; ++s) {
      __m256i hi0, lo0;
      mulhilo(c[s][0], m0, hi0, lo0);
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
        mulhilo(c[s][0], m0, hi0, lo0);
        mulhilo(c[s][2], m1, hi1, lo1);
        c[s][0] = _mm256_xor_si256(_mm256_xor_si256(hi1, c[s][1]), k.k0[r]);
        c[s][1] = lo1;
        c[s][2] = _mm256_xor_si256(_mm256_xor_si256(hi0, c[s][3]), k.k1[r]);
        c[s][3] = lo0;
      }
    }
    for (int s = 0; s < kSets; ++s) {
      const __m256i t0 = _mm256_unpacklo_epi32(c[s][0], c[s][1]);
      const __m256i t1 = _mm256_unpackhi_epi32(c[s][0], c[s][1]);
      const __m256i t2 = _mm256_unpacklo_epi32(c[s][2], c[s][3]);
      const __m256i t3 = _mm256_unpackhi_epi32(c[s][2], c[s][3]);
      const __m256i u0 = _mm256_unpacklo_epi64(t0, t2);  // blocks 0 | 4
      const __m256i u1 = _mm256_unpackhi_epi64(t0, t2);  // blocks 1 | 5
      const __m256i u2 = _mm256_unpacklo_epi64(t1, t3);  // blocks 2 | 6
      const __m256i u3 = _mm256_unpackhi_epi64(t1, t3);  // blocks 3 | 7
      w[s][0] = _mm256_permute2x128_si256(u0, u1, 0x20);
      w[s][1] = _mm256_permute2x128_si256(u2, u3, 0x20);
      w[s][2] = _mm256_permute2x128_si256(u0, u1, 0x31);
      w[s][3] = _mm256_permute2x128_si256(u2, u3, 0x31);
    }
  }

  // SPEC float32 formula on 8 words, with the upper-bound rule.
  static __m256 value_f32x8(__m256i x, const FillParams& p) {
    const __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(x, 8)), _mm256_set1_ps(0x1p-24f));
    const __m256 v = _mm256_fmadd_ps(u, _mm256_set1_ps(p.scale32), _mm256_set1_ps(p.lo32));
    return _mm256_blendv_ps(v, _mm256_set1_ps(p.repl32), _mm256_cmp_ps(v, _mm256_set1_ps(p.top32), _CMP_GE_OQ));
  }

  // SPEC float64 formula on 4 word pairs (low word first in each 64-bit lane).
  static __m256d value_f64x4(__m256i x, const FillParams& p) {
    // 53-bit integer to double without AVX-512DQ: both halves exact via the 2^52 trick.
    const __m256i m = _mm256_srli_epi64(x, 11);
    const __m256i magic = _mm256_set1_epi64x(0x4330000000000000LL);
    const __m256d two52 = _mm256_set1_pd(0x1p52);
    const __m256d hi = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(m, 32), magic)), two52);
    const __m256d lo = _mm256_sub_pd(
        _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(m, _mm256_set1_epi64x(0xffffffffLL)), magic)), two52);
    const __m256d u = _mm256_mul_pd(_mm256_fmadd_pd(hi, _mm256_set1_pd(0x1p32), lo), _mm256_set1_pd(0x1p-53));
    const __m256d v = _mm256_fmadd_pd(u, _mm256_set1_pd(p.scale64), _mm256_set1_pd(p.lo64));
    return _mm256_blendv_pd(v, _mm256_set1_pd(p.repl64), _mm256_cmp_pd(v, _mm256_set1_pd(p.top64), _CMP_GE_OQ));
  }

  static __m128i bf16x8(__m256 v) {
    const __m256i x = _mm256_castps_si256(v);
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
    const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7fff)), odd), 16);
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
    return _mm256_castsi256_si128(packed);
  }

  static void put256(void* dst, __m256i v, bool nt) {
    if (nt) _mm256_stream_si256(static_cast<__m256i*>(dst), v);
    else _mm256_storeu_si256(static_cast<__m256i*>(dst), v);
  }
  static void put128(void* dst, __m128i v, bool nt) {
    if (nt) _mm_stream_si128(static_cast<__m128i*>(dst), v);
    else _mm_storeu_si128(static_cast<__m128i*>(dst), v);
  }

  // The one per-dtype step: 32 words of one set, in stream order, to storage.
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
      for (int q = 0; q < 4; ++q) put128(out + 16 * q, bf16x8(value_f32x8(w[q], p)), nt);
    }
  }

  template <int32_t D>
  static void store(const Keys& k, const FillParams& p, uint64_t block, void* dst, bool nt) {
    char* out = static_cast<char*>(dst);
    __m256i w[kSets][4];
    generate(k, block, w);
    for (int s = 0; s < kSets; ++s) put_set<D>(w[s], p, out + s * 4 * (D == kFloat64 ? 32 : 8 * dtype_size(D)), nt);
  }
};

}  // namespace

void fill_run(const FillParams& p, void* dst, uint64_t n, uint64_t first, bool stream) {
  count_kernel_call(kIsaAvx2);
  run_groups<Group>(p, dst, n, first, stream);
}

}  // namespace avx2
}  // namespace fastinit
