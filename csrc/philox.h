// Philox4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel Random Numbers: As Easy
// as 1, 2, 3", SC11), as in Random123's philox.h. Header-only, <cstdint> only,
// usable from host and CUDA device code. This is the one Philox in fastinit:
// every CPU path and the CUDA kernel take their constants and rounds from here.
#ifndef FASTINIT_PHILOX_H_
#define FASTINIT_PHILOX_H_

#include <cstdint>

// Shared headers hold only static inline code: each translation unit keeps a private
// copy compiled with its own ISA flags, so no AVX-512 body can stand in for the baseline.
#if defined(__CUDACC__)
#define FASTINIT_HD static __host__ __device__ __forceinline__
#else
#define FASTINIT_HD static inline
#endif

namespace fastinit {

constexpr uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;
constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;
constexpr int kPhiloxRounds = 10;

struct Philox4 {
  uint32_t v[4];
};

FASTINIT_HD uint32_t philox_mulhi(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __umulhi(a, b);
#else
  return static_cast<uint32_t>((static_cast<uint64_t>(a) * b) >> 32);
#endif
}

FASTINIT_HD Philox4 philox_round(Philox4 c, uint32_t k0, uint32_t k1) {
  const uint32_t hi0 = philox_mulhi(kPhiloxM0, c.v[0]);
  const uint32_t lo0 = kPhiloxM0 * c.v[0];
  const uint32_t hi1 = philox_mulhi(kPhiloxM1, c.v[2]);
  const uint32_t lo1 = kPhiloxM1 * c.v[2];
  return Philox4{{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
}

FASTINIT_HD Philox4 philox4x32_10(Philox4 c, uint32_t k0, uint32_t k1) {
  c = philox_round(c, k0, k1);
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int r = 1; r < kPhiloxRounds; ++r) {
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
    c = philox_round(c, k0, k1);
  }
  return c;
}

// Word indices are 64-bit, so block indices (word >> 2) live modulo 2^62: a run of
// consecutive blocks that passes 2^62 - 1 continues at block 0.
constexpr uint64_t kBlockMask = (uint64_t{1} << 62) - 1;
constexpr uint32_t kBlockHiMask = static_cast<uint32_t>(kBlockMask >> 32);

// docs/STREAM.md section 2: block b of the stream for `seed` is philox((b lo, b hi, 0, 0), seed).
FASTINIT_HD Philox4 philox_block(uint64_t seed, uint64_t block) {
  return philox4x32_10(Philox4{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0u, 0u}},
                       static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

}  // namespace fastinit

#endif  // FASTINIT_PHILOX_H_
