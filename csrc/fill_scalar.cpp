// Baseline path: plain C++, no ISA flags. It is also the reference the SIMD paths
// are tested against, bit for bit.
#include <atomic>

#include "kernels.h"
#include "run_driver.h"
#include "normal.h"
#include "value.h"

namespace fastinit {
namespace scalar {
namespace {

struct Group {
  static constexpr uint64_t kBlocks = 1;
  struct Keys {
    uint64_t seed;
    explicit Keys(uint64_t s) : seed(s) {}
  };
  static uintptr_t store_align(int32_t) { return 1; }
  static void fence() {}

  template <int32_t D, int32_t Dist>
  static void store(const Keys& k, const FillParams& p, uint64_t block, void* dst, bool) {
    const Philox4 r = philox_block(k.seed, block);
    char* out = static_cast<char*>(dst);
    if (D == kFloat64) {
      for (int i = 0; i < 2; ++i) {
        const double v = value_f64_dist<Dist>(r.v[2 * i], r.v[2 * i + 1], p);
        memcpy(out + 8 * i, &v, 8);
      }
      return;
    }
    for (int i = 0; i < 4; ++i) store_f32_family(D, out, i, value_f32_dist<Dist>(r.v[i], p));
  }
};

}  // namespace

void fill_run(const FillParams& p, void* dst, uint64_t n, uint64_t first, bool stream) {
  count_kernel_call(kIsaScalar);
  run_groups<Group>(p, dst, n, first, stream);
}

}  // namespace scalar
}  // namespace fastinit
